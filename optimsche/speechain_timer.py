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
) -> contextlib.AbstractContextManager[Any] | None:
    """``time_func([label, optim_name])`` (``[label]`` without a name), or ``None`` without a
    timer (the shell's backward and update then enter no context at all: the hot path)."""
    if time_func is None:
        return None
    return time_func([label] if optim_name is None else [label, optim_name])


def check_timer(time_func: object, optim_name: object) -> None:
    """Refuse a ``time_func`` that is neither ``None`` nor callable, and an ``optim_name``
    that is neither ``None`` nor a string, before a step runs anything."""
    if time_func is not None and not callable(time_func):
        raise ValueError(
            f"time_func must be None or SpeeChain's timer, a callable "
            f"time_func([label, optim_name]) -> context manager; got "
            f"{type(time_func).__name__}: {time_func!r}"
        )
    if optim_name is not None and not isinstance(optim_name, str):
        raise ValueError(
            f"optim_name must be None or the optimizer's name (a str), got "
            f"{type(optim_name).__name__}: {optim_name!r}"
        )
