"""Hypothesis strategies for steps: Python ints (0 and huge ones included) and Tensors of them.

Importing this module imports ``hypothesis`` (a test dependency, the ``testing`` extra); the
core package :mod:`schedules` never does.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

DEFAULT_MAX_STEP = 10**12
"""Training runs stay far below this; schedules must still be finite and exact up to it."""


def steps(
    min_value: int = 0, max_value: int = DEFAULT_MAX_STEP, *, small: int = 10_000
) -> st.SearchStrategy[int]:
    """Integer steps in ``[min_value, max_value]``: small ones (up to ``small``, where
    schedules have their phases), any in the range, and the two ends themselves (``0`` and
    ``10**12`` by default) drawn often."""
    if min_value > max_value:
        raise ValueError(f"min_value must be <= max_value, got {min_value!r} > {max_value!r}")
    return st.one_of(
        st.sampled_from(sorted({min_value, max_value})),
        st.integers(min_value, min(max_value, max(min_value, small))),
        st.integers(min_value, max_value),
    )


def step_lists(
    min_value: int = 0,
    max_value: int = DEFAULT_MAX_STEP,
    *,
    min_size: int = 1,
    max_size: int = 16,
) -> st.SearchStrategy[list[int]]:
    """Lists of :func:`steps` (repeats allowed, any order)."""
    return st.lists(steps(min_value, max_value), min_size=min_size, max_size=max_size)


def step_tensors(
    min_value: int = 0,
    max_value: int = DEFAULT_MAX_STEP,
    *,
    dtype: torch.dtype = torch.int64,
    min_size: int = 1,
    max_size: int = 16,
) -> st.SearchStrategy[torch.Tensor]:
    """1-D Tensors of :func:`steps` of the given ``dtype`` (``int64`` by default; ``float64``
    holds every integer step up to 2**53 exactly, ``float32`` rounds large ones)."""
    return step_lists(min_value, max_value, min_size=min_size, max_size=max_size).map(
        lambda values: torch.tensor(values, dtype=dtype)
    )
