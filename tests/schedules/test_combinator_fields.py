"""How combinators hold their child schedules: compared and shown by value, through
``functools.partial``."""

from __future__ import annotations

import functools
import math
import pickle

import torch

from schedules import cosine, linear, warmup
from schedules.combinator_fields import schedule_repr, schedules_equal


def test_partials_compare_by_function_arguments_and_keywords() -> None:
    a = functools.partial(cosine, peak=1.0, steps=10)
    assert schedules_equal(a, functools.partial(cosine, peak=1.0, steps=10))
    assert schedules_equal(a, pickle.loads(pickle.dumps(a)))
    assert not schedules_equal(a, functools.partial(cosine, peak=1.0, steps=11))
    assert not schedules_equal(a, functools.partial(cosine, peak=1.0, steps=10, final=0.0))
    assert not schedules_equal(a, functools.partial(linear, peak=1.0, steps=10))
    assert schedules_equal(functools.partial(math.pow, 2.0), functools.partial(math.pow, 2.0))
    nested = functools.partial(warmup, functools.partial(linear, start=0, end=1, steps=3))
    assert schedules_equal(
        nested, functools.partial(warmup, functools.partial(linear, start=0, end=1, steps=3))
    )


def test_sequences_element_by_element_and_odd_values_safely() -> None:
    a = functools.partial(cosine, peak=1.0, steps=10)
    b = functools.partial(cosine, peak=1.0, steps=10)
    assert schedules_equal((a, a), (b, b))
    assert not schedules_equal((a, a), [b, b])
    assert not schedules_equal((a,), (b, b))
    t = torch.tensor([1.0, 2.0])
    assert schedules_equal(t, t)  # the same object
    assert not schedules_equal(t, torch.tensor([1.0, 2.0]))  # == is not a bool: not equal
    lam = lambda s: s  # noqa: E731
    assert schedules_equal(lam, lam) and not schedules_equal(lam, lambda s: s)


def test_repr_names_functions_and_spells_out_partials() -> None:
    assert schedule_repr(cosine) == "cosine"
    assert schedule_repr(math.sqrt) == "sqrt"
    assert schedule_repr(lambda s: s) == (
        "test_repr_names_functions_and_spells_out_partials.<locals>.<lambda>"
    )
    p = functools.partial(linear, 0.5, start=1.0, end=0.0)
    assert schedule_repr(p) == "partial(linear, 0.5, start=1.0, end=0.0)"
    assert schedule_repr((p,)) == "(partial(linear, 0.5, start=1.0, end=0.0),)"
    assert schedule_repr((cosine, linear)) == "(cosine, linear)"
    w = warmup(functools.partial(cosine, peak=1.0, steps=10), 3)
    assert schedule_repr(w) == repr(w)
    assert schedule_repr(functools.partial(w)) == f"partial({w!r})"
