"""SpeeChain's ``time_func``: the optional timer entered around a backward and an update."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

TimeFunc = Callable[[list[str]], contextlib.AbstractContextManager[Any]]
"""SpeeChain's timer: called with a list of names, returns a context manager that times its
body (``time_func(["loss_backward_time", optim_name])``)."""


def timer(
    time_func: TimeFunc | None, label: str, optim_name: str | None
) -> contextlib.AbstractContextManager[Any]:
    """``time_func([label, optim_name])`` (``[label]`` without a name), or a no-op context."""
    if time_func is None:
        return contextlib.nullcontext()
    return time_func([label] if optim_name is None else [label, optim_name])
