"""Which ``**sche_conf`` keys an OptimScheduler class takes: the keyword parameters of its
``sche_init``.

SpeeChain passes every key of an ``optim_sches`` entry that is not a constructor argument on to
``sche_init(**sche_conf)``; a misspelt key (``warmup`` for ``warmup_steps``) would raise a bare
``TypeError`` there, or be swallowed by a ``**kwargs``. Here it is checked first, and the error
lists the valid keys.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping
from typing import Any


def sche_conf_keys(sche_init: Callable[..., Any]) -> list[str] | None:
    """The keyword parameters of ``sche_init`` (a method, ``self`` excluded), or ``None`` when
    it takes ``**kwargs`` (any key is then its business)."""
    names = []
    for name, parameter in inspect.signature(sche_init).parameters.items():
        if name == "self":
            continue
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            return None
        if parameter.kind in (
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.KEYWORD_ONLY,
        ):
            names.append(name)
    return names


def check_sche_conf(class_name: str, valid: list[str] | None, sche_conf: Mapping[str, Any]) -> None:
    """Raise a ``ValueError`` naming the keys of ``sche_conf`` that are not in ``valid``.

    ``valid = None`` accepts everything; ``valid = []`` means the class takes no sche_conf.
    """
    if valid is None:
        return
    unknown = [key for key in sche_conf if key not in valid]
    if not unknown:
        return
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
        if close:
            hints.append(f"{key!r} -> {close[0]!r}?")
    hint = f" (did you mean: {', '.join(hints)})" if hints else ""
    if valid:
        accepted = f"valid keys: {', '.join(repr(v) for v in valid)}"
    else:
        accepted = (
            "it takes none (give schedule= for a pure schedule, or use a subclass such as "
            "NoamLr or ExponentDecayLr)"
        )
    raise ValueError(
        f"{class_name}: unknown sche_conf key(s) {', '.join(repr(k) for k in unknown)}{hint}; "
        f"{accepted}"
    )
