"""The smoothed loss: the bias-corrected EMA equals its closed form, a weighted mean."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimsche.lr_range.smoothing import SmoothedLoss

losses = st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60)
betas = st.floats(0.0, 0.999)


@given(xs=losses, beta=betas)
def test_running_value_equals_the_closed_form(xs: list[float], beta: float) -> None:
    smoother = SmoothedLoss(beta)
    for n, _ in enumerate(xs, start=1):
        got = smoother.add(xs[n - 1])
        weights = [(1 - beta) * beta ** (n - i) for i in range(1, n + 1)]
        expected = sum(w * x for w, x in zip(weights, xs[:n], strict=True)) / (1 - beta**n)
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-6)
        assert min(xs[:n]) - 1e-6 <= got <= max(xs[:n]) + 1e-6  # a weighted mean


@given(xs=losses)
def test_beta_zero_gives_the_raw_losses(xs: list[float]) -> None:
    smoother = SmoothedLoss(0.0)
    assert [smoother.add(x) for x in xs] == xs


def test_fastai_example() -> None:
    # beta 0.98 on 1, 2: a_1 = 0.02, s_1 = 1; a_2 = 0.98*0.02 + 0.02*2 = 0.0596, s_2 = 0.0596/0.0396
    smoother = SmoothedLoss(0.98)
    assert smoother.add(1.0) == pytest.approx(1.0)
    assert smoother.add(2.0) == pytest.approx(0.0596 / (1 - 0.98**2))
