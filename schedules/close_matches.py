"""The "did you mean" part of an error message about an unknown name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def _close_matches(name: str, options: list[str]) -> list[str]:
    close = [c for c in options if c.lower() == name.lower() and c != name]
    close += difflib.get_close_matches(name, options, n=3, cutoff=0.6)
    if not close and "." in name:
        tail = name.rsplit(".", 1)[-1].lower()
        close = [c for c in options if c.rsplit(".", 1)[-1].lower() == tail]
    if not close and "_" in name:  # warmup_steps -> steps, num_warmup -> warmup
        lowered = name.lower()
        close = [
            c
            for c in options
            if lowered.endswith("_" + c.lower()) or lowered.startswith(c.lower() + "_")
        ]
    return list(dict.fromkeys(close))[:3]


def did_you_mean(name: str | Iterable[str], choices: Iterable[str]) -> str:
    """``"; did you mean 'a' or 'b'?"`` with up to three close matches of ``name`` among
    ``choices`` (``difflib``, cutoff 0.6; a case-insensitive equal or an equal last dotted
    component counts as close, and, when nothing else is, a choice that is the first or last
    ``_``-separated part of ``name``: ``warmup_steps`` -> ``steps``), or ``""`` when none is
    close.

    ``name`` may also be several names (unknown keys of one mapping): the close matches of
    each, in order, form one hint.
    """
    names = [name] if isinstance(name, str) else list(name)
    options = list(choices)
    close = list(dict.fromkeys(c for n in names for c in _close_matches(n, options)))
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def within_one_edit(a: str, b: str) -> bool:
    """Whether ``a`` becomes ``b`` by at most one insertion, deletion or substitution of a
    character (``"optim_sche"``, ``"optim_schez"``, ``"optimsches"`` for ``"optim_sches"``)."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1 :] == b[i + 1 :]
    return a[i:] == b[i + 1 :]
