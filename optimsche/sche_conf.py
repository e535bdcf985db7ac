"""Which ``**sche_conf`` keys an OptimScheduler class takes: the keyword parameters of its
``sche_init``.

SpeeChain passes every key of an ``optim_sches`` entry that is not a constructor argument on to
``sche_init(**sche_conf)``; a misspelt key (``warmup`` for ``warmup_steps``) would raise a bare
``TypeError`` there, or be swallowed by a ``**kwargs``. Here it is checked first (by the shell
and by :mod:`optimsche.config.parsing` alike), and the error lists the valid keys.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from schedules.close_matches import did_you_mean


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


def check_sche_conf(
    where: str,
    valid: Sequence[str] | None,
    sche_conf: Mapping[str, Any],
    *,
    owner: str | None = None,
    also_valid: Sequence[str] = (),
) -> None:
    """Raise a ``ValueError`` naming the keys of ``sche_conf`` in neither ``valid`` nor
    ``also_valid``, with their close matches and the valid keys.

    ``valid = None`` accepts everything; ``valid = []`` (and no ``also_valid``) means the class
    takes no sche_conf. The message reads ``"<where>: unknown key 'warmup' for <owner>; did
    you mean 'warmup_steps'? (valid keys: ...)"``; ``where`` is the class name (the shell) or
    the place in a config, ``owner`` defaults to ``"<where>.sche_init"``.
    """
    if valid is None:
        return
    choices = [*also_valid, *valid]
    unknown = [key for key in sche_conf if key not in choices]
    if not unknown:
        return
    if choices:
        accepted = f"valid keys: {', '.join(repr(c) for c in choices)}"
    else:
        accepted = (
            "it takes none: give schedule= for a pure schedule, or use a subclass such as "
            "NoamLr or ExponentDecayLr"
        )
    noun = "key" if len(unknown) == 1 else "keys"
    raise ValueError(
        f"{where}: unknown {noun} {', '.join(repr(k) for k in unknown)} for "
        f"{owner or f'{where}.sche_init'}{did_you_mean(unknown, choices)} ({accepted})"
    )
