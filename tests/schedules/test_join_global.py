"""join(fs, bs, relative=False): the piece running at step s sees s itself."""

from __future__ import annotations

import bisect
import math
import pickle

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import schedules
from schedules import bind, constant, cosine, join, linear
from schedules.testing import assert_scalar_tensor_agree, combined_schedules

COS = bind(cosine, peak=1.0, steps=5000)
FLAT = bind(constant, value=0.5)


@settings(max_examples=60, deadline=None)
@given(
    fs=st.lists(combined_schedules(max_steps=300, max_leaves=3), min_size=2, max_size=4),
    data=st.data(),
)
def test_each_piece_sees_the_global_step(fs: list[object], data: st.DataObject) -> None:
    bounds = sorted(
        data.draw(st.sets(st.integers(1, 400), min_size=len(fs) - 1, max_size=len(fs) - 1))
    )
    joined = join(fs, bounds, relative=False)
    for s in (-3, 0, 1, *bounds, *(b - 1 for b in bounds), 399, 1000):
        i = bisect.bisect_right(bounds, max(s, 0))
        expected = fs[i](max(s, 0))  # type: ignore[operator]
        got = joined(s)
        assert got == expected or (math.isnan(got) and math.isnan(expected))
    assert_scalar_tensor_agree(joined, [0, 1, *bounds, 1000], rtol=1e-9, atol=1e-12)


def test_a_cosine_taking_over_mid_curve() -> None:
    joined = join([FLAT, COS], [1000], relative=False)
    assert joined(999) == 0.5 and joined(1000) == COS(1000) and joined(3000) == COS(3000)
    assert join([FLAT, COS], [1000])(1000) == COS(0)  # the relative default restarts it


def test_compile() -> None:
    joined = join(
        [FLAT, COS, bind(linear, start=0.2, end=0.0, steps=100)], [10, 60], relative=False
    )
    steps = torch.arange(0, 200, dtype=torch.int64)
    torch.testing.assert_close(torch.compile(joined, fullgraph=True)(steps), joined(steps))


def test_repr_pickle_equality() -> None:
    joined = join([FLAT, COS], [1000], relative=False)
    assert repr(joined).endswith("boundaries=(1000,), relative=False)")
    assert eval(repr(joined), vars(schedules)) == joined
    assert pickle.loads(pickle.dumps(joined)) == joined
    assert joined != join([FLAT, COS], [1000])
    assert "relative" not in repr(join([FLAT, COS], [1000]))


def test_relative_must_be_a_bool() -> None:
    with pytest.raises(ValueError, match="relative must be a bool"):
        join([FLAT, COS], [1000], relative=0)  # type: ignore[arg-type]
