"""Bounds on a loaded configuration document: how deep it nests and how many values it holds.

YAML aliases let a few lines stand for an exponentially large document (``b: [*a, *a, ...]``,
``c: [*b, *b, ...]``: the "billion laughs"), and ``!ref`` tags can do the same once each
reference is copied. Everything that later walks the document (tag resolution, the copy
that unshares references, error messages) would take that long and that much memory. So a
document is measured first, in time linear in its *distinct* containers (a shared container
is measured once, its size remembered), and refused with a :class:`ConfigError` when

* it nests deeper than :data:`MAX_DEPTH` mappings and lists, or
* its values, every alias and reference counted as the copy it stands for, are more than
  :data:`MAX_VALUES`, or
* it contains itself (a recursive alias, ``a: &a [*a]``).

SpeeChain's recipe files hold a few hundred values at most ten levels deep: far inside both.
"""

from __future__ import annotations

from typing import Any

from optimsche.config.error import ConfigError

__all__ = ["MAX_DEPTH", "MAX_VALUES", "check_document_bounds"]

MAX_DEPTH = 100
"""The deepest nesting of mappings and lists a configuration may have."""

MAX_VALUES = 1_000_000
"""The most values (scalars, keys, mappings and lists, aliases counted as copies) a
configuration may hold."""

_MEASURING = -1


def _values(value: Any, depth: int, sizes: dict[int, int], source: str) -> int:
    """The number of values ``value`` stands for, its containers counted once each in
    ``sizes`` (by ``id``; ``_MEASURING`` while being measured)."""
    if not isinstance(value, dict | list | tuple):
        return 1
    known = sizes.get(id(value))
    if known == _MEASURING:
        raise ConfigError(f"{source}: the configuration contains itself (a recursive alias)")
    if known is not None:
        return known
    if depth >= MAX_DEPTH:
        raise ConfigError(
            f"{source}: the configuration nests more than {MAX_DEPTH} mappings and lists deep"
        )
    sizes[id(value)] = _MEASURING
    total = 1
    if isinstance(value, dict):
        for key, item in value.items():
            total += _values(key, depth + 1, sizes, source)
            total += _values(item, depth + 1, sizes, source)
    else:
        for item in value:
            total += _values(item, depth + 1, sizes, source)
    sizes[id(value)] = total
    if total > MAX_VALUES:
        raise ConfigError(
            f"{source}: the configuration stands for more than {MAX_VALUES:,} values once its "
            f"aliases and references are expanded (aliases of aliases?)"
        )
    return total


def check_document_bounds(document: Any, source: str) -> None:
    """Refuse ``document`` with a :class:`ConfigError` naming ``source`` when it nests too
    deep, holds too many values, or contains itself (module doc)."""
    _values(document, 0, {}, source)
