"""The front of a leaf function: the direct call made again with the very same hyperparameters
skips their checks.

A direct call ``cosine(s, peak=1e-3, steps=10_000)`` validates its hyperparameters at every
call, through the family's cache of checked recipes (keyed by the values and their classes:
:mod:`schedules.leaf_family`). Building and hashing that key costs more than the formula for
a leaf with many hyperparameters, yet most direct calls repeat the previous one's
hyperparameters exactly: the same objects (the literals of one call site, the keywords of
one ``functools.partial``, the defaults). The front remembers, per family, the hyperparameter
objects of the last cached call and its recipe; a call with a Python-number step whose
hyperparameters *are* those objects (``is``, one comparison each) runs the formula on that
recipe at once. Anything else (another object, equal or not; a Tensor step) goes to the leaf
function itself, which validates as before and refreshes the memo.

The identity test is exact: only objects of immutable built-in classes (``int``, ``float``,
``str``, ``bool``, ``None``, what the cache keeps) ever enter the memo, so the same object
means the same value of the same class, and so the same recipe. A Tensor or a list is never
remembered, so it is validated at every call.

The front has the leaf's signature, defaults (the same objects), name, docs and annotations
(``functools.update_wrapper``; :func:`inspect.signature` reads the leaf's); it is what the
module, ``schedules`` and :attr:`Family.function <schedules.leaf_family.Family.function>`
hold. Its source is generated, as attrs generates ``__init__``, and registered with
:mod:`linecache` so that tracebacks show it.
"""

from __future__ import annotations

import functools
import inspect
import linecache
from collections.abc import Callable
from typing import Any

Memo = list[tuple[Any, ...]]
"""One entry, replaced whole (a tuple, so that a reader never sees half of an update): the
hyperparameter objects of the last cached direct call, in signature order, then its
recipe."""

UNSET = object()
"""Stands for every hyperparameter in a memo that holds no call yet (no argument is it)."""


def empty_memo(arity: int) -> Memo:
    """A memo for a leaf of ``arity`` hyperparameters that matches no call."""
    return [(*(UNSET,) * arity, None)]


def make_front(
    function: Callable[..., Any], memo: Memo, scalar: Callable[[Any, Any], float]
) -> Callable[..., Any]:
    """The front of the leaf ``function`` (module doc): ``scalar(step, recipe)`` for a Python
    ``int`` or non-NaN ``float`` step when every hyperparameter is the memo's object, else
    ``function(step, *hyperparameters)``. ``function``'s parameters must be positional or
    keyword, the step first."""
    parameters = list(inspect.signature(function).parameters.values())
    if any(p.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD for p in parameters):
        raise ValueError(f"{function.__name__}: a leaf takes positional-or-keyword parameters")
    step, *names = (p.name for p in parameters)
    reserved = [n for n in (step, *names) if n.startswith("_") and n.endswith("_")]
    if reserved:
        raise ValueError(f"{function.__name__}: parameter names {reserved} are the front's own")
    defaults = function.__defaults__ or ()
    first_default = len(parameters) - len(defaults)
    signature = ", ".join(
        p.name if i < first_default else f"{p.name}=_defaults_[{i - first_default}]"
        for i, p in enumerate(parameters)
    )
    same = " and ".join(f"{name} is _m_[{i}]" for i, name in enumerate(names)) or "True"
    source = (
        f"def {function.__name__}({signature}):\n"
        f"    _cls_ = {step}.__class__\n"
        f"    if _cls_ is int or (_cls_ is float and {step} == {step}):\n"
        f"        _m_ = _memo_[0]\n"
        f"        if {same}:\n"
        f"            return _scalar_({step}, _m_[{len(names)}])\n"
        f"    return _leaf_({', '.join([step, *names])})\n"
    )
    filename = f"<front of {function.__module__}.{function.__qualname__}>"
    namespace: dict[str, Any] = {
        "_memo_": memo,
        "_scalar_": scalar,
        "_leaf_": function,
        "_defaults_": defaults,
    }
    exec(compile(source, filename, "exec"), namespace)  # our own template, no user text
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    front: Callable[..., Any] = namespace[function.__name__]
    functools.update_wrapper(front, function)
    return front
