"""What a step may be (NaN Python steps refused, numpy numbers accepted, NaN Tensor steps NaN)
and hyperparameters at the edge of the float range (refused at validation when a constant of
the formula would overflow, never an OverflowError or ZeroDivisionError at a step)."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pytest
import torch
from test_family_properties import _example

import schedules

FAMILY_NAMES = list(schedules.FAMILIES)
COS = functools.partial(schedules.cosine, peak=1.0, steps=10, final=0.1)
COMBINATORS = {
    "warmup": schedules.warmup(COS, 4),
    "join": schedules.join([COS, functools.partial(schedules.constant, value=0.1)], [10]),
    "scale": schedules.scale(COS, 0.5),
    "clamp": schedules.clamp(COS, min=0.2),
    "accumulate": schedules.accumulate(COS, 4),
    "stretch": schedules.stretch(COS, 2.0),
    "bound": schedules.bind(schedules.cosine, peak=1.0, steps=10),
}


def _leaf(family: str) -> Any:
    return functools.partial(getattr(schedules, family), **_example(family))


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_a_nan_python_step_is_a_value_error(family: str) -> None:
    for schedule in (_leaf(family), schedules.bind(family, **_example(family))):
        with pytest.raises(ValueError, match="step must not be NaN"):
            schedule(math.nan)
        with pytest.raises(ValueError, match="step must not be NaN"):
            schedule(np.float32("nan"))


@pytest.mark.parametrize("name", list(COMBINATORS))
def test_a_nan_python_step_is_a_value_error_for_combinators(name: str) -> None:
    with pytest.raises(ValueError, match="step must not be NaN"):
        COMBINATORS[name](math.nan)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_a_nan_tensor_step_gives_nan(family: str) -> None:
    got = _leaf(family)(torch.tensor([math.nan, 3.0], dtype=torch.float64))
    if family == "constant":  # no dependence on the step at all
        assert got.tolist() == [0.1, 0.1]
    else:
        assert math.isnan(got[0]) and not math.isnan(got[1])


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_numpy_integer_and_float_steps_are_numbers(family: str) -> None:
    schedule = _leaf(family)
    for step, same in ((np.int64(5), 5), (np.int32(7), 7), (np.float32(2.5), 2.5),
                       (np.float64(3.25), 3.25), (np.uint8(9), 9)):  # fmt: skip
        got = schedule(step)
        assert type(got) is float and got == schedule(same), (step, got)


@pytest.mark.parametrize("name", list(COMBINATORS))
def test_numpy_steps_for_combinators(name: str) -> None:
    schedule = COMBINATORS[name]
    assert type(schedule(np.int64(6))) is float and schedule(np.int64(6)) == schedule(6)
    assert schedule(np.float32(2.5)) == schedule(2.5)


@pytest.mark.parametrize("bad", ["3", None, True, [3], complex(1, 1)])
def test_other_steps_are_type_errors(bad: Any) -> None:
    with pytest.raises(TypeError, match=r"step must be an int, a float or a torch\.Tensor"):
        schedules.cosine(bad, peak=1.0, steps=10)


@pytest.mark.parametrize(
    ("leaf", "kwargs", "message"),
    [
        (schedules.noam, {"d_model": 512, "warmup": 1e-300}, r"warmup=1e-300 is out of range: "
                                                             r"warmup \*\* -1.5 would be inf"),
        (schedules.noam, {"d_model": 1e-300, "warmup": 10, "scale": 1e300}, r"scale=1e\+300"),
        (schedules.cosine, {"peak": 1.0, "steps": 5e-324}, r"steps=5e-324 is out of range"),
        (schedules.warmup_cosine, {"peak": 1.0, "warmup": 0, "steps": 5e-324},
         r"π · cycles / \(steps - warmup\) would be inf"),
        (schedules.cosine_restarts, {"peak": 1.0, "period": 5e-324}, r"1 / period"),
        (schedules.cyclic, {"base": 0.0, "peak": 1.0, "up": 1e308, "down": 1e308}, r"up \+ down"),
        (schedules.cyclic, {"base": 0.0, "peak": 1.0, "up": 1e300, "down": 1.0},
         r"up and down must be of comparable sizes"),
        (schedules.one_cycle, {"peak": 1.0, "steps": 100, "div": 5e-324}, r"div=5e-324"),
        (schedules.one_cycle, {"peak": 1.0, "steps": 100, "final_div": 5e-324}, r"final_div="),
    ],
)  # fmt: skip
def test_hyperparameters_whose_constants_overflow_are_refused_at_validation(
    leaf: Any, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        schedules.bind(leaf, **kwargs)
    with pytest.raises(ValueError, match=message):
        leaf(3, **kwargs)


def test_a_huge_length_is_computed_safely() -> None:
    assert schedules.cosine(5, peak=1.0, steps=1e308) == 1.0
    assert schedules.cosine(5e307, peak=1.0, steps=1e308) == pytest.approx(0.5)
    assert schedules.cosine(1e308, peak=1.0, steps=1e308) == 0.0
    assert schedules.noam(10, d_model=512, warmup=1e308) == 0.0
    assert schedules.linear(1e300, 0.0, 1.0, 1e308) == pytest.approx(1e-8)


EXTREMES = [5e-324, 1e-300, 1e-200, 1e200, 1e300, 1.7e308, -1e308, -5e-324]
STEPS = [0, 1, 0.5, 7, 10**6, 10**12, 1e300, 1.7e308, math.inf]
PERIODIC = {"cosine_restarts", "cyclic"}


def _extreme_cases() -> list[Any]:
    cases = []
    for family in FAMILY_NAMES:
        for key, value in _example(family).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                cases += [
                    pytest.param(family, key, x, id=f"{family}-{key}-{x:g}") for x in EXTREMES
                ]
    return cases


@pytest.mark.parametrize(("family", "key", "extreme"), _extreme_cases())
def test_extreme_hyperparameters_fail_at_validation_or_never(
    family: str, key: str, extreme: float
) -> None:
    """Each numeric hyperparameter at the edge of the float range: a ValueError when bound,
    or a schedule that never raises at any step, huge and infinite ones included, and that
    is finite at every finite step (periodic ones may be NaN where step / period overflows
    or at an infinite step: they have no value there)."""
    kwargs = {**_example(family), key: extreme}
    try:
        schedule = schedules.bind(family, **kwargs)
    except ValueError:
        return
    for step in STEPS:
        value = schedule(step)
        assert isinstance(value, float)
        if family not in PERIODIC:
            assert not math.isnan(value), (step, value)
    tensor = torch.tensor([0, 1, 7, 10**6, 10**12])
    values = schedule(tensor)
    scalars = [schedule(int(s)) for s in tensor]
    for got, want in zip(values.tolist(), scalars, strict=True):
        assert (
            got == want
            or math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-300)
            or (math.isnan(got) and math.isnan(want))
        )
