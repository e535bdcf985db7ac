"""Value hyperparameters as Tensors: every leaf's ``peak``/``final``/``start``/... (and
``scale.factor``, ``warmup.start``, ``clamp.min/max``) may be a Tensor broadcasting with the
step. vmap over them is one call, gradients with respect to them are the analytic derivatives,
``torch.compile(fullgraph=True)`` traces them; lengths stay Python numbers."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch._dynamo

import schedules
from schedules.testing import assert_vmappable_over

STEPS = [0, 1, 2, 3, 4, 5, 7, 9, 10, 12, 15, 20, 33, 100]
T = torch.tensor(STEPS, dtype=torch.float64)
Derivative = Callable[[torch.Tensor], torch.Tensor]


def _where(cond: torch.Tensor, a: Any, b: Any) -> torch.Tensor:
    return torch.where(cond, torch.as_tensor(a, dtype=torch.float64), b)


def _cos_factor(t: torch.Tensor, steps: float, exponent: float = 1.0) -> torch.Tensor:
    return (0.5 * (1 + torch.cos(math.pi * t.clamp(0, steps) / steps))) ** exponent


def _restart_factor(decay: float) -> tuple[torch.Tensor, torch.Tensor]:
    """period 3, mult 2: cycles start at 0, 3, 9, 21, 45, 93 (exact integers)."""
    starts = [0, 3, 9, 21, 45, 93, 189]
    index, position, length = [], [], []
    for s in STEPS:
        i = max(k for k, b in enumerate(starts) if b <= s)
        index.append(i)
        position.append(s - starts[i])
        length.append(starts[i + 1] - starts[i])
    ratio = torch.tensor(position, dtype=torch.float64) / torch.tensor(length, dtype=torch.float64)
    wave = 0.5 * (1 + torch.cos(math.pi * ratio))
    return decay ** torch.tensor(index, dtype=torch.float64) * wave, wave


def _one_cycle_unit(t: torch.Tensor) -> torch.Tensor:
    """torch OneCycleLR at max_lr 1, total 20, pct 0.3, div 10, final_div 100, cos."""
    initial, minimum, e1, last = 0.1, 0.001, 0.3 * 20 - 1, 19.0
    s = t.clamp(max=last)

    def anneal(a: float, b: float, pct: torch.Tensor) -> torch.Tensor:
        return b + (a - b) / 2 * (torch.cos(math.pi * pct) + 1)

    return torch.where(
        s <= e1, anneal(initial, 1.0, s / e1), anneal(1.0, minimum, (s - e1) / (last - e1))
    )


def _hat(t: torch.Tensor, xs: list[float], j: int) -> torch.Tensor:
    """d value / d v_j of piecewise_linear: the hat function of point j."""
    out = torch.zeros_like(t)
    s = t.clamp(xs[0], xs[-1])
    if j > 0:
        rising = (s - xs[j - 1]) / (xs[j] - xs[j - 1])
        out = torch.where((s >= xs[j - 1]) & (s < xs[j]), rising, out)
    if j < len(xs) - 1:
        falling = (xs[j + 1] - s) / (xs[j + 1] - xs[j])
        out = torch.where((s >= xs[j]) & (s < xs[j + 1]), falling, out)
    else:
        out = torch.where(s >= xs[j], 1.0, out)
    return out


LIN = {"start": 1.0, "end": 0.1, "steps": 10, "begin": 2}
WC = {"peak": 1.0, "warmup": 4, "steps": 20, "start": 0.1, "final": 0.05, "exponent": 1.0}
TRI = {"peak": 1.0, "warmup": 4, "hold": 3, "decay": 5, "init_scale": 0.1, "final_scale": 0.2}
WSD = {"peak": 1.0, "warmup": 4, "stable": 3, "decay": 5, "final": 0.1, "shape": "linear"}
OC = {"peak": 1.0, "steps": 20, "pct_start": 0.3, "div": 10.0, "final_div": 100.0}
CR = {"peak": 1.0, "period": 3, "mult": 2.0, "final": 0.1, "decay": 0.5}
PL = [(0.0, 0.0), (4.0, 1.0), (9.0, 0.5), (20.0, 0.25)]


def _lin(t: torch.Tensor) -> torch.Tensor:
    return (t - 2).clamp(0, 10) / 10


def _wsd_decay(t: torch.Tensor) -> torch.Tensor:
    return (t - 7).clamp(0, 5) / 5


CASES: list[tuple[str, dict[str, Any], str, Derivative]] = [
    ("constant", {"value": 0.3}, "value", lambda t: torch.ones_like(t)),
    ("linear", LIN, "start", lambda t: 1 - _lin(t)),
    ("linear", LIN, "end", _lin),
    ("polynomial", {**LIN, "power": 2.0}, "start", lambda t: (1 - _lin(t)) ** 2),
    ("polynomial", {**LIN, "power": 2.0}, "end", lambda t: 1 - (1 - _lin(t)) ** 2),
    ("exponential", {"start": 1.0, "rate": 0.5, "steps": 4}, "start", lambda t: 0.5 ** (t / 4)),
    (
        "exponential",
        {"start": 1.0, "rate": 0.5, "steps": 4, "end": 0.1},
        "end",
        lambda t: (0.5 ** (t / 4) < 0.1).double(),
    ),
    (
        "step_decay",
        {"start": 1.0, "every": 3, "gamma": 0.5},
        "start",
        lambda t: 0.5 ** torch.floor(t / 3),
    ),
    (
        "multistep",
        {"start": 1.0, "milestones": [3, 7, 7, 20], "gamma": 0.5},
        "start",
        lambda t: 0.5 ** ((t >= 3).double() + 2 * (t >= 7).double() + (t >= 20).double()),
    ),
    ("cosine", {"peak": 1.0, "steps": 10, "final": 0.1, "exponent": 2.0}, "peak",
     lambda t: _cos_factor(t, 10, 2.0)),
    ("cosine", {"peak": 1.0, "steps": 10, "final": 0.1, "exponent": 2.0}, "final",
     lambda t: 1 - _cos_factor(t, 10, 2.0)),
    ("warmup_cosine", WC, "peak", lambda t: _where(t < 4, t / 4, _cos_factor(t - 4, 16))),
    ("warmup_cosine", WC, "start", lambda t: _where(t < 4, 1 - t / 4, torch.zeros_like(t))),
    ("warmup_cosine", WC, "final",
     lambda t: _where(t < 4, torch.zeros_like(t), 1 - _cos_factor(t - 4, 16))),
    ("cosine_restarts", CR, "peak", lambda t: _restart_factor(0.5)[0]),
    ("cosine_restarts", CR, "final", lambda t: 1 - _restart_factor(0.5)[1]),
    ("noam", {"d_model": 64, "warmup": 4, "scale": 1.0}, "scale",
     lambda t: 64**-0.5 * torch.minimum(t.clamp(min=1e-300) ** -0.5, t * 4**-1.5)),
    ("inverse_sqrt", {"peak": 1.0, "warmup": 4}, "peak",
     lambda t: torch.minimum(t / 4, torch.sqrt(4 / t.clamp(min=1e-300)))),
    ("tri_stage", TRI, "peak",
     lambda t: _where(t < 4, 0.1 + 0.9 * t / 4, 0.2 ** ((t - 7).clamp(0, 5) / 5))),
    ("warmup_stable_decay", WSD, "peak",
     lambda t: _where(t < 4, t / 4, _where(t < 7, 1.0, 1 - _wsd_decay(t)))),
    ("warmup_stable_decay", WSD, "final",
     lambda t: _where(t < 7, torch.zeros_like(t), _wsd_decay(t))),
    ("one_cycle", OC, "peak", _one_cycle_unit),
    ("cyclic", {"base": 0.1, "peak": 1.0, "up": 4, "down": 6}, "base",
     lambda t: 1 - _cyclic_height(t)),
    ("cyclic", {"base": 0.1, "peak": 1.0, "up": 4, "down": 6}, "peak", lambda t: _cyclic_height(t)),
]  # fmt: skip


def _cyclic_height(t: torch.Tensor) -> torch.Tensor:
    x = t % 10
    return torch.where(x <= 4, x / 4, (10 - x) / 6)


def _ids(case: tuple[str, dict[str, Any], str, Derivative]) -> str:
    return f"{case[0]}.{case[2]}"


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_gradient_is_the_analytic_derivative(
    case: tuple[str, dict[str, Any], str, Derivative],
) -> None:
    family, kwargs, name, derivative = case
    fn = getattr(schedules, family)
    value = torch.full((len(STEPS),), float(kwargs[name]), dtype=torch.float64, requires_grad=True)
    out = fn(T, **{**kwargs, name: value})
    (grad,) = torch.autograd.grad(out, value, torch.ones_like(out))
    torch.testing.assert_close(grad, derivative(T).double(), rtol=1e-12, atol=1e-15)
    # the values themselves are those of the Python-number hyperparameter, up to a few ulps
    # of the curve's scale (numbers take division-free formulas: schedules.straight_segment)
    numbers = fn(T, **kwargs)
    scale = float(numbers.abs().max())
    eps = torch.finfo(torch.float64).eps
    torch.testing.assert_close(out.detach(), numbers, rtol=1e-15, atol=8 * eps * scale)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_vmap_over_the_value_is_one_call(
    case: tuple[str, dict[str, Any], str, Derivative],
) -> None:
    family, kwargs, name, _ = case
    base = float(kwargs[name])
    sweep = [base * k for k in (0.5, 1.0, 1.5)] if base else [0.0, 0.1, 0.2]
    rest = {k: v for k, v in kwargs.items() if k != name}
    assert_vmappable_over(getattr(schedules, family), name, sweep, STEPS, rest)
    assert_vmappable_over(getattr(schedules, family), name, sweep, STEPS, rest, dtype=torch.float32,
                          rtol=1e-6, atol=1e-7)  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_a_python_step_with_a_tensor_value_gives_a_tensor(
    case: tuple[str, dict[str, Any], str, Derivative],
) -> None:
    family, kwargs, name, _ = case
    fn = getattr(schedules, family)
    column = torch.tensor([[float(kwargs[name])], [2.0 * float(kwargs[name])]])
    for step in (0, 5, 2.5, 100):
        got = fn(step, **{**kwargs, name: column})
        assert isinstance(got, torch.Tensor) and got.shape == (2, 1)
        assert math.isclose(float(got[0, 0]), fn(step, **kwargs), rel_tol=1e-6, abs_tol=1e-7)
        bound = schedules.bind(fn, **{**kwargs, name: column})
        torch.testing.assert_close(bound(step), got)


@pytest.mark.parametrize("case", [c for c in CASES if c[0] != "cosine_restarts"], ids=_ids)
def test_compiles_fullgraph_with_a_tensor_value(
    case: tuple[str, dict[str, Any], str, Derivative],
) -> None:
    family, kwargs, name, _ = case
    fn = getattr(schedules, family)

    def curve(steps: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        return fn(steps, **{**kwargs, name: value})  # type: ignore[no-any-return]

    torch._dynamo.reset()  # one code object compiled for many cases: start afresh
    compiled = torch.compile(curve, fullgraph=True, backend="aot_eager")
    values = torch.tensor([[float(kwargs[name])], [0.5 * float(kwargs[name])]])
    torch.testing.assert_close(compiled(T, values), curve(T, values), rtol=1e-12, atol=1e-15)


def test_cosine_restarts_compiles_fullgraph_with_a_tensor_peak() -> None:
    def curve(steps: torch.Tensor, peak: torch.Tensor) -> torch.Tensor:
        return schedules.cosine_restarts(steps, peak, 3, 2.0, 0.1, 0.5)

    compiled = torch.compile(curve, fullgraph=True, backend="aot_eager")
    peaks = torch.tensor([[1.0], [0.5]], dtype=torch.float64)
    torch.testing.assert_close(compiled(T, peaks), curve(T, peaks), rtol=1e-12, atol=1e-15)


def test_a_sweep_over_peaks_broadcasts_in_one_call() -> None:
    peaks = torch.linspace(1e-4, 1e-3, 8)[:, None]
    steps = torch.arange(50, dtype=torch.float32)
    curves = schedules.warmup_cosine(steps, peak=peaks, warmup=5, steps=50)
    assert curves.shape == (8, 50) and curves.dtype == torch.float32
    for i in range(8):
        row = schedules.warmup_cosine(steps, peak=float(peaks[i]), warmup=5, steps=50)
        torch.testing.assert_close(curves[i], row, rtol=1e-6, atol=1e-9)


# Containers: piecewise_constant's values, piecewise_linear's points


BOUNDARIES = [3, 8, 20]
LEVELS = [1.0, 0.5, 0.25, 0.1]


@pytest.mark.parametrize("k", range(len(LEVELS)))
def test_piecewise_constant_entries(k: int) -> None:
    def with_entry(v: Any) -> Any:
        levels: list[Any] = list(LEVELS)
        levels[k] = v
        return functools.partial(schedules.piecewise_constant, boundaries=BOUNDARIES, values=levels)

    assert_vmappable_over(with_entry, "v", [0.3, 0.6, 0.9], STEPS, factory=True)
    entry = torch.full((len(STEPS),), LEVELS[k], dtype=torch.float64, requires_grad=True)
    out = with_entry(entry)(T)
    (grad,) = torch.autograd.grad(out, entry, torch.ones_like(out))
    index = torch.bucketize(T, torch.tensor(BOUNDARIES, dtype=torch.float64), right=True)
    torch.testing.assert_close(grad, (index == k).double(), rtol=0, atol=0)


def test_piecewise_constant_values_as_one_tensor() -> None:
    table = torch.tensor([LEVELS, [2 * v for v in LEVELS]], dtype=torch.float64).T  # (4, 2)
    got = schedules.piecewise_constant(T[:, None], BOUNDARIES, table)
    assert got.shape == (len(STEPS), 2)
    torch.testing.assert_close(got[:, 0], schedules.piecewise_constant(T, BOUNDARIES, LEVELS))
    torch.testing.assert_close(got[:, 1], 2 * schedules.piecewise_constant(T, BOUNDARIES, LEVELS))
    batched = torch.func.vmap(lambda v: schedules.piecewise_constant(T, BOUNDARIES, v), 1)(table)
    torch.testing.assert_close(batched, got.T)
    with pytest.raises(ValueError, match="values must have len\\(boundaries\\) \\+ 1 = 4"):
        schedules.piecewise_constant(T, BOUNDARIES, table[:3])


@pytest.mark.parametrize("j", range(len(PL)))
def test_piecewise_linear_point_values(j: int) -> None:
    def with_value(v: Any) -> Any:
        points: list[Any] = list(PL)
        points[j] = (PL[j][0], v)
        return functools.partial(schedules.piecewise_linear, points=points)

    assert_vmappable_over(with_value, "v", [0.3, 0.6, 0.9], STEPS, factory=True)
    value = torch.full((len(STEPS),), PL[j][1], dtype=torch.float64, requires_grad=True)
    out = with_value(value)(T)
    (grad,) = torch.autograd.grad(out, value, torch.ones_like(out))
    torch.testing.assert_close(grad, _hat(T, [x for x, _ in PL], j), rtol=1e-12, atol=1e-15)


# Combinators: scale.factor, warmup.start, clamp.min/max

COS = functools.partial(schedules.cosine, peak=1.0, steps=10, final=0.1)


def _combinator_cases() -> list[tuple[str, Callable[[Any], Any], float, Derivative]]:
    base = COS(T)
    return [
        ("scale.factor", lambda value: schedules.scale(COS, value), 0.5, lambda t: base),
        ("warmup.start", lambda value: schedules.warmup(COS, 4, value), 0.2,
         lambda t: _where(t < 4, 1 - t / 4, torch.zeros_like(t))),
        ("clamp.min", lambda value: schedules.clamp(COS, min=value), 0.3,
         lambda t: (COS(t) < 0.3).double()),
        ("clamp.max", lambda value: schedules.clamp(COS, max=value), 0.6,
         lambda t: (COS(t) > 0.6).double()),
    ]  # fmt: skip


@pytest.mark.parametrize("case", _combinator_cases(), ids=lambda c: c[0])
def test_combinator_values(case: tuple[str, Callable[[Any], Any], float, Derivative]) -> None:
    _, make, value, derivative = case
    assert_vmappable_over(make, "value", [value * 0.5, value, value * 1.5], STEPS, factory=True)
    leaf = torch.full((len(STEPS),), value, dtype=torch.float64, requires_grad=True)
    out = make(leaf)(T)
    (grad,) = torch.autograd.grad(out, leaf, torch.ones_like(out))
    torch.testing.assert_close(grad, derivative(T), rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(out.detach(), make(value)(T), rtol=1e-15, atol=0)
    column = torch.tensor([[value], [value / 2]])
    got = make(column)(3)
    assert isinstance(got, torch.Tensor) and got.shape == (2, 1)
    assert math.isclose(float(got[0, 0]), make(value)(3), rel_tol=1e-6)

    schedule = make(column)  # built outside: attrs' frozen __init__ is not traced by dynamo
    torch._dynamo.reset()
    compiled = torch.compile(schedule, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(T), schedule(T))  # type: ignore[no-untyped-call]


def test_combinator_tensor_values_compare_by_identity() -> None:
    factor = torch.tensor(0.5)
    assert schedules.scale(COS, factor) == schedules.scale(COS, factor)
    assert schedules.scale(COS, factor) != schedules.scale(COS, factor.clone())
    assert hash(schedules.scale(COS, factor)) == hash(schedules.scale(COS, factor))
    assert schedules.clamp(COS, min=0.1, max=factor)(0) == torch.tensor(0.5)


# What stays a Python number


def _example(family: str) -> dict[str, Any]:
    from test_family_properties import _example as example

    return example(family)


@pytest.mark.parametrize("family", list(schedules.FAMILIES))
def test_a_tensor_for_a_length_or_setting_is_a_value_error_naming_it(family: str) -> None:
    info = schedules.FAMILIES[family]
    kwargs = _example(family)
    numeric = [
        n
        for n in (*info.lengths, *info.settings)
        if isinstance(kwargs.get(n), int | float) and not isinstance(kwargs.get(n), bool)
    ]
    assert numeric or family in ("constant", "piecewise_constant", "piecewise_linear")
    for name in numeric:
        with pytest.raises(ValueError, match=rf"{name} must be a Python number, not a Tensor"):
            getattr(schedules, family)(3, **{**kwargs, name: torch.tensor(float(kwargs[name]))})
    if family == "multistep":
        with pytest.raises(ValueError, match=r"milestones\[0\] must be a Python number"):
            schedules.multistep(3, 1.0, [torch.tensor(5.0)], 0.1)  # type: ignore[list-item]


def test_an_integer_tensor_value_is_refused() -> None:
    with pytest.raises(ValueError, match="peak must be a number or a floating-point Tensor"):
        schedules.cosine(3, peak=torch.tensor(1), steps=10)


def test_tensor_values_are_not_range_checked() -> None:
    """A Tensor is never synchronised to check it: a negative start of exponential (refused as
    a number) passes as a Tensor, and gives what the formula gives."""
    with pytest.raises(ValueError, match="start must be > 0"):
        schedules.exponential(3, -1.0, 0.5, 1)
    got = schedules.exponential(torch.tensor([0.0, 1.0]), torch.tensor(-1.0), 0.5, 1)
    torch.testing.assert_close(got, torch.tensor([-1.0, -0.5]))
