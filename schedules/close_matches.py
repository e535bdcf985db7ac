"""The "did you mean" part of an error message about an unknown name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'a' or 'b'?"`` with up to three close matches of ``name`` among
    ``choices`` (``difflib``, cutoff 0.6; a case-insensitive equal or an equal last dotted
    component counts as close), or ``""`` when none is close."""
    options = list(choices)
    close = [c for c in options if c.lower() == name.lower() and c != name]
    close += difflib.get_close_matches(name, options, n=3, cutoff=0.6)
    if not close and "." in name:
        tail = name.rsplit(".", 1)[-1].lower()
        close = [c for c in options if c.rsplit(".", 1)[-1].lower() == tail]
    close = list(dict.fromkeys(close))[:3]
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
