"""The hypothesis kit ``schedules.testing`` itself: every check passes on a schedule that has
its property and fails, naming the step and values, on one that does not; the strategies
draw what they promise."""

from __future__ import annotations

import functools
import math
import subprocess
import sys
from typing import Any

import pytest
import torch
from hypothesis import find, given, settings
from hypothesis import strategies as st

import schedules
from schedules.testing import (
    FAMILIES,
    assert_bounded,
    assert_changes_only_at,
    assert_continuous,
    assert_holds_after,
    assert_monotone,
    assert_scalar_tensor_agree,
    assert_vmappable,
    assert_vmappable_over,
    grid,
    hyperparameters,
    schedules_with_kwargs,
    step_tensors,
    steps,
)

RAMP = functools.partial(schedules.linear, start=0.0, end=1.0, steps=10)


def _valley(step: Any) -> Any:
    """|s - 5|: falls to 0 at step 5, then rises."""
    return abs(step - 5) * 1.0


def _stairs(step: Any) -> Any:
    """0.1 · floor(s / 4) as a polymorphic schedule: jumps at multiples of 4."""
    if isinstance(step, torch.Tensor):
        return torch.floor(step.to(torch.float64) / 4) * 0.1
    return math.floor(step / 4) * 0.1


def _data_dependent(step: Any) -> Any:
    """Steps divided by the largest one, read with ``.item()``: fine for numbers and plain
    tensors, impossible under vmap."""
    if isinstance(step, torch.Tensor):
        return step.to(torch.float64) / max(step.max().item(), 1)
    return 1.0 if step else 0.0


# --- assert_monotone -----------------------------------------------------------------


def test_monotone_passes_on_monotone_schedules() -> None:
    assert_monotone(RAMP, 0, 10, increasing=True, strict=True)
    assert_monotone(RAMP, 0, 100, increasing=True)
    assert_monotone(_valley, 5, 10**12, increasing=True, strict=True)
    assert_monotone(_valley, 0.0, 5.0, increasing=False, strict=True)


def test_monotone_fails_where_the_schedule_turns() -> None:
    with pytest.raises(AssertionError, match=r"not non-decreasing on \[0, 10\]: f\(0\) = 5.0"):
        assert_monotone(_valley, 0, 10, increasing=True)
    with pytest.raises(AssertionError, match=r"not non-increasing .* f\(5\) = 0.0, f\(6\) = 1.0"):
        assert_monotone(_valley, 0, 10, increasing=False)
    with pytest.raises(AssertionError, match=r"not strictly increasing .* f\(10\) = 1.0"):
        assert_monotone(RAMP, 0, 11, increasing=True, strict=True)
    with pytest.raises(AssertionError, match="not strictly decreasing"):
        assert_monotone(_stairs, 0, 8, increasing=False, strict=True)


def test_monotone_tolerates_up_to_atol() -> None:
    wobbly = lambda s: 1.0 - 0.01 * s + (0.01 + 1e-9 if s == 3 else 0.0)  # noqa: E731
    with pytest.raises(AssertionError):
        assert_monotone(wobbly, 0, 5, increasing=False, strict=False)
    assert_monotone(wobbly, 0, 5, increasing=False, atol=1e-6)


def test_monotone_samples_long_ranges() -> None:
    assert grid(0, 10, 100) == list(range(11))
    long = grid(0, 10**12, 5)
    assert long == [0, 250_000_000_000, 500_000_000_000, 750_000_000_000, 10**12]
    assert grid(0.0, 1.0, 3) == [0.0, 0.5, 1.0]
    assert grid(7, 7, 2) == [7]
    with pytest.raises(ValueError, match="start must be <= stop"):
        assert_monotone(RAMP, 5, 2)
    with pytest.raises(ValueError, match="max_points must be an integer >= 2"):
        grid(0, 5, 1)


# --- assert_bounded ------------------------------------------------------------------


def test_bounded_passes_within_bounds() -> None:
    assert_bounded(RAMP, 0.0, 1.0, range(0, 30))
    assert_bounded(RAMP, None, None, [0, 10**12])
    assert_bounded(lambda s: 0.1 + 0.9 * 1.0000000000000002, 0.0, 1.0, [0])  # one ulp over


@pytest.mark.parametrize(
    ("schedule", "low", "high", "message"),
    [
        (RAMP, 0.0, 0.5, r"at step 6 is 0.6, above the upper bound 0.5"),
        (RAMP, 0.05, 1.0, r"at step 0 is 0.0, below the lower bound 0.05"),
        (lambda s: math.nan, None, None, r"at step 0 is nan, not finite"),
        (lambda s: math.inf, 0.0, None, r"is inf, not finite"),
    ],
)
def test_bounded_fails_outside(schedule: Any, low: Any, high: Any, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        assert_bounded(schedule, low, high, range(0, 12))


def test_bounded_rejects_a_non_float_result_for_a_number_step() -> None:
    with pytest.raises(AssertionError, match="returned Tensor"):
        assert_bounded(lambda s: torch.tensor(0.5), 0.0, 1.0, [3])


# --- assert_continuous ---------------------------------------------------------------


def test_continuous_passes_at_kinks() -> None:
    kink = schedules.join([RAMP, functools.partial(schedules.cosine, peak=1.0, steps=50)], [10])
    assert_continuous(kink, [10, 60])
    assert_continuous(RAMP, [0, 10, 5])
    assert_continuous(_valley, [5])


def test_continuous_fails_at_a_jump() -> None:
    with pytest.raises(AssertionError, match=r"jumps at step 8: f\(7.999\) = 0.1.*f\(8\) = 0.2"):
        assert_continuous(_stairs, [4.5, 8])
    small_jump = lambda s: 1.0 - 1e-3 * s + (1e-4 if s >= 100 else 0.0)  # noqa: E731
    with pytest.raises(AssertionError, match="jumps at step 100"):
        assert_continuous(small_jump, [100])
    # a jump as small as the change over h is invisible at that h, visible at a finer one
    tiny_jump = lambda s: 1.0 - 1e-3 * s + (1e-6 if s >= 100 else 0.0)  # noqa: E731
    assert_continuous(tiny_jump, [100])
    with pytest.raises(AssertionError, match="jumps at step 100"):
        assert_continuous(tiny_jump, [100], h=1e-6)
    with pytest.raises(ValueError, match="h must be a finite number > 0"):
        assert_continuous(RAMP, [1], h=0)


# --- assert_holds_after --------------------------------------------------------------


def test_holds_after_passes_on_a_schedule_that_holds() -> None:
    assert_holds_after(RAMP, 10)
    assert_holds_after(RAMP, 10, [10, 11, 10**15])


def test_holds_after_fails_on_one_that_moves_on() -> None:
    periodic = functools.partial(schedules.cyclic, base=0.0, peak=1.0, up=5)
    with pytest.raises(AssertionError, match=r"after step 10: f\(10\) = 0.0 but f\(11\) = 0.2"):
        assert_holds_after(periodic, 10)
    with pytest.raises(AssertionError, match="does not hold"):
        assert_holds_after(RAMP, 9)
    with pytest.raises(ValueError, match="steps must be >= horizon"):
        assert_holds_after(RAMP, 10, [9])


# --- assert_changes_only_at ----------------------------------------------------------


def test_changes_only_at_passes_and_fails() -> None:
    assert_changes_only_at(_stairs, [4, 8, 12], 0, 15)
    with pytest.raises(AssertionError, match=r"changes at step 8.*f\(7\) = 0.1, f\(8\) = 0.2"):
        assert_changes_only_at(_stairs, [4, 12], 0, 15)
    with pytest.raises(AssertionError, match="changes at step 1"):
        assert_changes_only_at(RAMP, [], 0, 3)


# --- assert_scalar_tensor_agree ------------------------------------------------------


def test_scalar_tensor_agree_passes_on_a_polymorphic_schedule() -> None:
    assert_scalar_tensor_agree(RAMP, [0, 3, 10**12])
    assert_scalar_tensor_agree(_stairs, [0, 3.5, 8], dtypes=(torch.int64, torch.float64))


def test_scalar_tensor_agree_fails_when_the_paths_differ() -> None:
    float32_path = lambda s: s / 3  # noqa: E731  (int64 tensor / 3 gives float32)
    with pytest.raises(AssertionError, match=r"at step 1: 1-d torch.int64 tensor gives 0.33333334"):
        assert_scalar_tensor_agree(float32_path, [1, 10**12])
    with pytest.raises(AssertionError, match="returned float, not a Tensor"):
        assert_scalar_tensor_agree(lambda s: 0.5, [1, 2])
    with pytest.raises(AssertionError, match=r"shape \(2,\) returned shape \(\)"):
        assert_scalar_tensor_agree(
            lambda s: s.sum() * 1.0 if isinstance(s, torch.Tensor) else 1.0, [1, 2]
        )
    with pytest.raises(AssertionError, match=r"returned dtype torch\.int64"):
        assert_scalar_tensor_agree(lambda s: s if isinstance(s, torch.Tensor) else float(s), [1])


def test_scalar_tensor_agree_skips_an_integer_dtype_that_cannot_hold_the_steps() -> None:
    float32_path = lambda s: s / 3  # noqa: E731  (wrong only on integer tensors)
    assert_scalar_tensor_agree(float32_path, [1, 2**70])  # int64 skipped, float64 checked
    with pytest.raises(AssertionError, match="float64 tensor gives"):
        assert_scalar_tensor_agree(lambda s: s * 1.5 if isinstance(s, int) else s * 1.0, [2, 2**70])


# --- assert_vmappable ----------------------------------------------------------------


def test_vmappable_names_steps_its_dtype_cannot_hold() -> None:
    with pytest.raises(
        ValueError, match=r"steps must fit torch\.int64 .* got \[1180591620717411303424\]"
    ):
        assert_vmappable(RAMP, [0, 2**70])
    assert_vmappable(RAMP, [0, 2.0**70], dtype=torch.float64)


def test_vmappable_passes_on_a_branch_free_schedule() -> None:
    assert_vmappable(RAMP, [0, 5, 10**12])
    assert_vmappable(_stairs, [0, 5, 9])


def test_vmappable_fails_on_reading_tensor_values() -> None:
    _data_dependent(torch.tensor([1, 2]))  # a plain tensor is fine ...
    with pytest.raises(AssertionError, match=r"_data_dependent is not vmappable over torch\.int64"):
        assert_vmappable(_data_dependent, [1, 2])  # ... a batched one is not


# --- strategies ----------------------------------------------------------------------


@settings(max_examples=100)
@given(step=steps())
def test_steps_lie_in_range(step: int) -> None:
    assert isinstance(step, int) and 0 <= step <= 10**12


def test_steps_reach_both_ends() -> None:
    drawn = set()

    @settings(max_examples=100, database=None)
    @given(steps(max_value=10**12))
    def collect(step: int) -> None:
        drawn.add(step)

    collect()
    assert 0 in drawn and 10**12 in drawn
    with pytest.raises(ValueError, match="min_value must be <= max_value"):
        steps(5, 2)


@settings(max_examples=30)
@given(tensor=step_tensors(dtype=torch.float64, max_size=5))
def test_step_tensors_are_1d_of_the_dtype(tensor: torch.Tensor) -> None:
    assert tensor.dtype == torch.float64 and tensor.ndim == 1 and 1 <= len(tensor) <= 5
    assert bool((tensor >= 0).all()) and bool((tensor <= 10**12).all())


def test_families_are_the_design_table_of_the_registry() -> None:
    assert FAMILIES == tuple(schedules.FAMILIES) == (
        "constant", "linear", "polynomial", "exponential", "step_decay", "multistep", "cosine",
        "warmup_cosine", "cosine_restarts", "noam", "inverse_sqrt", "tri_stage",
        "warmup_stable_decay", "one_cycle", "cyclic", "piecewise_constant", "piecewise_linear",
        "tanh_decay", "power_decay",
    )  # fmt: skip


@pytest.mark.parametrize("family", FAMILIES)
def test_hyperparameters_are_valid_and_finite_everywhere(family: str) -> None:
    fn = getattr(schedules, family)

    @settings(max_examples=25, deadline=None)
    @given(kwargs=hyperparameters(family, max_steps=1000), step=steps())
    def check(kwargs: dict[str, Any], step: int) -> None:
        for s in (0, step, 10**12):
            assert math.isfinite(fn(s, **kwargs)), (family, kwargs, s)

    check()


def test_hyperparameters_respect_max_steps() -> None:
    @settings(max_examples=50)
    @given(kwargs=hyperparameters("warmup_stable_decay", max_steps=7))
    def check(kwargs: dict[str, Any]) -> None:
        assert all(kwargs[k] <= 7 for k in ("warmup", "stable", "decay"))

    check()


def test_unknown_family_and_bad_arguments_are_value_errors() -> None:
    with pytest.raises(ValueError, match=r"family must be one of 'constant', .* got 'cosin'"):
        hyperparameters("cosin")
    with pytest.raises(ValueError, match="max_steps must be a positive integer, got 0"):
        hyperparameters("cosine", max_steps=0)
    with pytest.raises(ValueError, match="families must be a non-empty sequence"):
        schedules_with_kwargs([])
    with pytest.raises(ValueError, match="family must be one of"):
        schedules_with_kwargs(["nope"])


def test_schedules_with_kwargs_covers_every_family() -> None:
    """Every family of ``FAMILIES`` is reachable from the default strategy (``find`` searches
    it, derandomized, for a draw of that family), and every draw is a valid schedule."""
    strategy = schedules_with_kwargs(max_steps=50)
    search = settings(max_examples=1000, database=None, derandomize=True)
    for family in FAMILIES:
        function = schedules.FAMILIES[family].function
        found, kwargs = find(strategy, lambda pair, f=function: pair[0] is f, settings=search)
        assert found is function
        for n in (0, 1, 25, 50, 100):
            assert isinstance(found(n, **kwargs), float), (family, kwargs, n)

    @settings(max_examples=100, database=None, derandomize=True)
    @given(pair=schedules_with_kwargs(max_steps=50), n=st.integers(0, 100))
    def any_draw_is_valid(pair: tuple[Any, dict[str, Any]], n: int) -> None:
        fn, kwargs = pair
        assert fn in {schedules.FAMILIES[f].function for f in FAMILIES}
        assert isinstance(fn(n, **kwargs), float)

    any_draw_is_valid()


def test_import_schedules_does_not_import_hypothesis() -> None:
    code = "import sys, schedules; assert 'hypothesis' not in sys.modules; print('ok')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


# assert_vmappable_over: a hyperparameter may be a Tensor


def _linear_in_peak(step: Any, peak: Any, steps: int = 10) -> Any:
    return peak * (1 - torch.clamp(step, max=steps) / steps)


def _branches_on_peak(step: Any, peak: Any) -> Any:
    if peak > 0.5:  # Python branching on the hyperparameter's value
        return peak * torch.ones_like(step, dtype=torch.float64)
    return 0.0 * step + 0.5


def _floats_the_peak(step: Any, peak: Any) -> Any:
    return float(peak) * torch.ones_like(step, dtype=torch.float64)


def _ignores_batched_shape(step: Any, peak: Any) -> Any:
    return torch.ones_like(step, dtype=torch.float64) * 0.1  # the peak is never used


def test_vmappable_over_passes_for_a_users_own_schedule() -> None:
    assert_vmappable_over(_linear_in_peak, "peak", [0.1, 0.2, 0.3], [0, 5, 10, 20])
    assert_vmappable_over(_linear_in_peak, "peak", torch.tensor([1.0, 2.0]), [0, 5], {"steps": 5})
    assert_vmappable_over(
        lambda peak: functools.partial(_linear_in_peak, peak=peak), "peak", [0.1, 1.0], [0, 5],
        factory=True,
    )  # fmt: skip


def test_vmappable_over_fails_for_python_branching_on_the_value() -> None:
    with pytest.raises(AssertionError, match=r"_branches_on_peak over peak is not vmappable"):
        assert_vmappable_over(_branches_on_peak, "peak", [0.1, 0.9], [0, 5])


def test_vmappable_over_fails_for_a_value_turned_into_a_number() -> None:
    with pytest.raises(AssertionError, match=r"_floats_the_peak over peak is not vmappable"):
        assert_vmappable_over(_floats_the_peak, "peak", [0.1, 0.9], [0, 5])


def test_vmappable_over_fails_when_the_batch_is_lost() -> None:
    with pytest.raises(AssertionError, match=r"not a tensor of shape \(2, 2\)"):
        assert_vmappable_over(_ignores_batched_shape, "peak", [0.1, 0.9], [0, 5])


def test_vmappable_over_fails_when_a_tensor_is_refused() -> None:
    with pytest.raises(AssertionError, match=r"is not vmappable: torch.func.vmap over it fails"):
        assert_vmappable_over(schedules.cosine, "steps", [10, 20], [0, 5], {"peak": 1.0})


def test_vmappable_over_checks_its_own_arguments() -> None:
    with pytest.raises(ValueError, match="values must be a non-empty 1-d sequence"):
        assert_vmappable_over(_linear_in_peak, "peak", [], [0, 5])
    with pytest.raises(ValueError, match="name must be a hyperparameter name"):
        assert_vmappable_over(_linear_in_peak, "", [0.1], [0, 5])
