"""Key steps of a learning-rate curve, found from the curve alone."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import schedules
from optimsche.cli.key_steps import key_points


def _keys(schedule: Callable[[int], float], steps: int) -> dict[int, str]:
    """Key points as {step: label} for the schedule evaluated at steps 1..steps."""
    ys = [schedule(s) for s in range(1, steps + 1)]
    return {point.index + 1: point.label for point in key_points(ys)}


def test_warmup_stable_decay_shows_the_end_of_each_phase() -> None:
    wsd = functools.partial(
        schedules.warmup_stable_decay, peak=1.0, warmup=100, stable=500, decay=200, shape="cosine"
    )
    assert _keys(wsd, 1000) == {
        1: "first",
        100: "peak",
        600: "hold → decay",
        800: "decay → hold",
        1000: "last",
    }


def test_noam_and_warmup_cosine_peak_at_the_end_of_warmup() -> None:
    noam = functools.partial(schedules.noam, d_model=256, warmup=400)
    assert _keys(noam, 4000) == {1: "first", 400: "peak", 4000: "last"}
    cosine = functools.partial(schedules.warmup_cosine, peak=3e-4, warmup=2000, steps=100_000)
    assert _keys(cosine, 120_000) == {
        1: "first",
        2000: "peak",
        100_000: "decay → hold",
        120_000: "last",
    }


def test_smooth_decays_have_no_inner_key_point() -> None:
    for schedule in (
        functools.partial(schedules.cosine, peak=1.0, steps=5000),
        functools.partial(schedules.exponential, start=1.0, rate=0.5, steps=100),
        functools.partial(schedules.polynomial, start=1.0, end=0.0, steps=5000, power=2.0),
    ):
        assert _keys(schedule, 5000) == {1: "first, peak", 5000: "last"}


def test_step_decay_shows_both_sides_of_each_drop() -> None:
    step = functools.partial(schedules.step_decay, start=1.0, every=300, gamma=0.1)
    assert _keys(step, 700) == {
        1: "first, peak",
        299: "hold → decay",
        300: "decay → hold",
        599: "hold → decay",
        600: "decay → hold",
        700: "last",
    }


def test_a_bend_between_two_linear_decays_is_a_key_point() -> None:
    points = functools.partial(
        schedules.piecewise_linear, points=[(0, 0.0), (100, 1.0), (300, 0.5), (900, 0.1)]
    )
    assert _keys(points, 1000) == {
        1: "first",
        100: "peak",
        300: "decay (slower)",
        900: "decay → hold",
        1000: "last",
    }


def test_lowest_point_inside_the_curve() -> None:
    points = {p.index: p.label for p in key_points([3.0, 1.0, 0.5, 2.0, 2.5])}
    assert points == {0: "first, peak", 2: "decay → rise, lowest", 4: "last"}


def test_many_phases_are_thinned_keeping_the_ends_and_the_peak() -> None:
    cyclic = functools.partial(schedules.cyclic, base=0.1, peak=1.0, up=10)
    ys = [cyclic(s) for s in range(1, 1001)]
    points = key_points(ys, max_points=8)
    indices = [p.index for p in points]
    assert len(points) == 8
    assert indices[0] == 0 and indices[-1] == 999
    assert ys.index(max(ys)) in indices


def test_degenerate_curves() -> None:
    assert key_points([]) == []
    assert [(p.index, p.label) for p in key_points([0.1])] == [(0, "first, peak")]
    assert [(p.index, p.label) for p in key_points([0.1] * 5)] == [(0, "first, peak"), (4, "last")]
    with pytest.raises(ValueError, match="max_points must be at least 4, got 3"):
        key_points([1.0, 2.0], max_points=3)


@settings(max_examples=80, deadline=None)
@given(
    segments=st.lists(
        st.tuples(st.integers(3, 40), st.sampled_from([-3, -2, -1, 0, 1, 2, 3])),
        min_size=1,
        max_size=6,
    ).filter(lambda segs: all(a[1] != b[1] for a, b in itertools.pairwise(segs))),
)
def test_every_vertex_of_a_piecewise_linear_curve_is_found_and_nothing_else(
    segments: list[tuple[int, int]],
) -> None:
    ys, vertices, value = [100.0], [], 100.0
    for length, slope in segments:
        for _ in range(length):
            value += slope * 0.5
            ys.append(value)
        vertices.append(len(ys) - 1)
    inner = set(vertices[:-1])
    points = key_points(ys, max_points=50)
    found = {p.index for p in points}
    n = len(ys)
    peak = max(range(n), key=lambda i: (ys[i], -i))
    lowest = min(range(n), key=lambda i: (ys[i], i))
    assert inner <= found
    assert found <= inner | {0, n - 1, peak, lowest}
