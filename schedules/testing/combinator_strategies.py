"""Hypothesis strategies for combinators: built-in leaves bound to drawn hyperparameters,
trees of combinators over them, clock-bound schedules and :class:`~schedules.Time` records.

* ``leaf_schedules(families=FAMILIES, max_steps=10**4)``: ``schedules.bind(leaf, **drawn)``;
* ``combined_schedules(max_steps=10**4, max_leaves=6)``: plain schedules made of those leaves
  by every combinator that computes with one number or pointwise: ``multiply``, ``add``,
  ``offset``, ``scale``, ``clamp``, ``shift`` (either direction), ``stretch``,
  ``accumulate``, ``join`` (relative and global);
* ``clock_bound_schedules(clocks=CLOCKS, ...)``: ``on(clock, f)`` of a combined schedule;
* ``times(max_update=10**6, max_epoch=1000, max_items=10**12)``: ``Time`` records with
  every clock tracked (``clock`` drawn too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

import schedules
from schedules.testing.family_strategies import FAMILIES, schedules_with_kwargs
from schedules.time_record import CLOCKS, Time

DEFAULT_MAX_STEPS = 10**4


def leaf_schedules(
    families: Sequence[str] = FAMILIES, *, max_steps: int = DEFAULT_MAX_STEPS
) -> st.SearchStrategy[Any]:
    """Built-in leaves bound to drawn hyperparameters (phase lengths at most ``max_steps``)."""
    return schedules_with_kwargs(families, max_steps=max_steps).map(
        lambda pair: schedules.bind(pair[0], **pair[1])
    )


def _lengths(max_steps: int) -> st.SearchStrategy[int]:
    return st.integers(1, max_steps)


def _joined(children: st.SearchStrategy[Any], max_steps: int) -> st.SearchStrategy[Any]:
    @st.composite
    def draw_join(draw: st.DrawFn) -> Any:
        parts = draw(st.lists(children, min_size=2, max_size=3))
        bounds = sorted(
            draw(st.sets(_lengths(max_steps), min_size=len(parts) - 1, max_size=len(parts) - 1))
        )
        return schedules.join(parts, bounds, relative=draw(st.booleans()))

    return draw_join()


def _clamped(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    @st.composite
    def draw_clamp(draw: st.DrawFn) -> Any:
        low = draw(st.floats(0.0, 1.0))
        high = low + draw(st.floats(0.0, 1.0))
        return schedules.clamp(draw(children), min=low, max=high)

    return draw_clamp()


def combined_schedules(
    *, max_steps: int = DEFAULT_MAX_STEPS, max_leaves: int = 6
) -> st.SearchStrategy[Any]:
    """Plain schedules: trees of the combinators of the module doc over
    :func:`leaf_schedules`, with at most about ``max_leaves`` leaves."""
    leaves = leaf_schedules(max_steps=max_steps)
    shifts = st.integers(-max_steps, max_steps)

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(
            st.lists(children, min_size=1, max_size=3).map(lambda fs: schedules.multiply(*fs)),
            st.lists(children, min_size=1, max_size=3).map(lambda fs: schedules.add(*fs)),
            st.builds(schedules.offset, children, st.floats(-1.0, 1.0)),
            st.builds(schedules.scale, children, st.floats(0.0, 10.0)),
            _clamped(children),
            st.builds(schedules.shift, children, shifts),
            st.builds(schedules.stretch, children, st.floats(0.1, 10.0)),
            st.builds(schedules.accumulate, children, st.integers(1, 16)),
            _joined(children, max_steps),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


def clock_bound_schedules(
    clocks: Sequence[str] = CLOCKS, *, max_steps: int = DEFAULT_MAX_STEPS
) -> st.SearchStrategy[Any]:
    """``on(clock, f)`` for a clock among ``clocks`` and a :func:`combined_schedules` ``f``."""
    return st.builds(
        schedules.on,
        st.sampled_from(tuple(clocks)),
        combined_schedules(max_steps=max_steps, max_leaves=3),
    )


def times(
    max_update: int = 10**6, max_epoch: int = 1000, max_items: int = 10**12
) -> st.SearchStrategy[Time]:
    """:class:`Time` records with every clock tracked (integers from 0) and a drawn ``clock``."""
    return st.builds(
        Time,
        update=st.integers(0, max_update),
        epoch=st.integers(0, max_epoch),
        items=st.integers(0, max_items),
        clock=st.sampled_from(CLOCKS),
    )
