"""Every built-in schedule family, checked with the ``schedules.testing`` kit over drawn
hyperparameters: bounds, monotone phases (warmups strictly rise, decays never rise),
continuity at phase boundaries, holding the final value past the horizon, piecewise-constant
families changing only where they should, scalar/tensor agreement and vmap; and joins of
the families that are continuous where the parts meet.

Each family's expected shape is written down once, in :data:`FACTS`, from its DESIGN row.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
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
    hyperparameters,
    steps,
)

HUGE = 10**12
MAX_STEPS = 10**5
POINTS = 401  # steps per monotone check (every step of short phases, evenly spaced in long)
EXAMPLES = 25


@attrs.frozen
class Facts:
    """What a family must do for given hyperparameters."""

    low: float
    high: float
    rising: list[tuple[float, float, bool]] = attrs.Factory(list)  # (start, stop, strict)
    falling: list[tuple[float, float]] = attrs.Factory(list)
    joints: list[float] = attrs.Factory(list)  # where it must be continuous
    slack: float = 2.0  # continuity slack: > 2 where the slope is unbounded (x^p, p < 1)
    horizon: float | None = None  # holds its value from here on: from schedules.FAMILIES
    changes_at: list[int] | None = None  # piecewise constant: may change only here ...
    changes_until: int = 0  # ... checked over [0, changes_until]


def _holder_slack(exponent: float) -> float:
    """Slack for a joint where the schedule behaves like ``|s - b|^exponent``: the jump over
    ``h`` is ``1 / (2^p - 1)`` times the change over the neighbouring ``h``."""
    p = min(exponent, 1.0)
    return max(2.0, 2.0 / (math.pow(2.0, p) - 1.0))


def _strict(rise: float, length: float, scale: float) -> bool:
    """A rise is checked strictly when each step moves it well above rounding."""
    return length > 0 and rise / length > 1e-9 * max(abs(scale), 1e-300)


def _constant(k: dict[str, Any]) -> Facts:
    v = k["value"]
    return Facts(v, v, rising=[(0, 100, False)], falling=[(0, 100)])


def _linear(k: dict[str, Any], power: float = 1.0) -> Facts:
    start, end, n, begin = k["start"], k["end"], k["steps"], k["begin"]
    whole = (0, begin + n + 5)
    return Facts(
        min(start, end),
        max(start, end),
        rising=[(*whole, False)] if end >= start else [],
        falling=[whole] if end <= start else [],
        joints=[begin, begin + n],
        slack=_holder_slack(power),
    )


def _polynomial(k: dict[str, Any]) -> Facts:
    if not k.get("cycle", False):
        return _linear(k, power=k["power"])
    start, end, n, begin = k["start"], k["end"], k["steps"], k["begin"]
    first = (0, begin + n)  # monotone over its first cycle; it jumps back after each
    return Facts(
        min(start, end),
        max(start, end),
        rising=[(*first, False)] if end >= start else [],
        falling=[first] if end <= start else [],
        joints=[begin, begin + n],
        slack=_holder_slack(k["power"]),
    )


def _exponential(k: dict[str, Any]) -> Facts:
    start, end, rate = k["start"], k["end"], k["rate"]
    joints = [] if k["staircase"] else [k["begin"]]
    if rate == 1.0:  # constant at start: `end` is ignored
        return Facts(start, start, falling=[(0, HUGE)], joints=joints)
    if rate < 1.0:
        return Facts(0.0 if end is None else end, start, falling=[(0, HUGE)], joints=joints)
    return Facts(start, end, rising=[(0, HUGE, False)], joints=joints)


def _step_decay(k: dict[str, Any]) -> Facts:
    every = k["every"]
    until = min(6 * every, 3000)
    return Facts(
        0.0,
        k["start"],
        falling=[(0, HUGE)],
        changes_at=list(range(every, until + 1, every)),
        changes_until=until,
    )


def _multistep(k: dict[str, Any]) -> Facts:
    milestones = k["milestones"]
    last = milestones[-1] if milestones else 0
    return Facts(
        0.0,
        k["start"],
        falling=[(0, last + 10)],
        changes_at=milestones,
        changes_until=min(last + 10, 3000),
    )


def _cosine(k: dict[str, Any]) -> Facts:
    n = k["steps"]
    return Facts(
        k["final"],
        k["peak"],
        falling=[(0, n)] if k.get("cycle") else [(0, n + 5)],
        rising=[(n, 2 * n, False)] if k.get("cycle") else [],
        joints=[n],
        slack=_holder_slack(2 * k["exponent"]),
    )


def _warmup_cosine(k: dict[str, Any]) -> Facts:
    peak, warmup, n, start = k["peak"], k["warmup"], k["steps"], k["start"]
    return Facts(
        min(start, k["final"]),
        peak,
        rising=[(0, warmup, _strict(peak - start, warmup, peak))] if warmup else [],
        falling=[(warmup, n + 5)],
        joints=[warmup, n] if warmup else [n],
        slack=_holder_slack(2 * k["exponent"]),
    )


def _cosine_restarts(k: dict[str, Any]) -> Facts:
    low = k["final"] if k["decay"] == 1.0 else 0.0  # peaks decay towards 0, maybe below final
    return Facts(low, k["peak"], falling=[(0, k["period"] - 1)])


def _warmup_then_decay(peak: float, warmup: float) -> Facts:
    return Facts(
        0.0,
        peak,
        rising=[(0, warmup, True)],
        falling=[(warmup, HUGE)],
        joints=[warmup],
    )


def _noam(k: dict[str, Any]) -> Facts:
    return _warmup_then_decay(k["scale"] / math.sqrt(k["d_model"] * k["warmup"]), k["warmup"])


def _inverse_sqrt(k: dict[str, Any]) -> Facts:
    return _warmup_then_decay(k["peak"], k["warmup"])


def _tri_stage(k: dict[str, Any]) -> Facts:
    peak, warmup, hold, decay = k["peak"], k["warmup"], k["hold"], k["decay"]
    init, final = peak * k["init_scale"], peak * k["final_scale"]
    end = warmup + hold + decay
    return Facts(
        min(init, final),
        peak,
        rising=[(0, warmup, _strict(peak - init, warmup, peak)), (warmup, warmup + hold, False)],
        falling=[(warmup, end + 5)],
        joints=[warmup, warmup + hold, end],
    )


def _warmup_stable_decay(k: dict[str, Any]) -> Facts:
    peak, warmup, stable, decay = k["peak"], k["warmup"], k["stable"], k["decay"]
    start = k.get("start", 0.0)
    end = warmup + stable + decay
    steep = "1-sqrt" in (k["shape"], k.get("warmup_shape"))  # 1 - √p at p = 0, 1 - √(1 - p) at 1
    return Facts(
        min(start, k["final"]),
        peak,
        rising=[
            (0, warmup, _strict(peak - start, warmup, peak)),
            (warmup, warmup + stable, False),
        ],
        falling=[(warmup, end + 5)],
        joints=[warmup, warmup + stable, end],
        slack=_holder_slack(0.5) if steep else 2.0,
    )


def _one_cycle(k: dict[str, Any]) -> Facts:
    peak, n, pct = k["peak"], k["steps"], k["pct_start"]
    initial = peak / k["div"]
    minimum = initial / k["final_div"]
    first_end, last = pct * n - 1.0, n - 1.0
    joints = [first_end, last]
    if k["three_phase"]:
        joints.insert(1, 2.0 * pct * n - 2.0)
    return Facts(
        minimum,
        peak,
        rising=[(0, first_end, peak - initial > 1e-3 * peak)],
        falling=[(first_end, n + 5)],
        joints=joints,
    )


def _cyclic(k: dict[str, Any]) -> Facts:
    base, peak, up = k["base"], k["peak"], k["up"]
    down = up if k["down"] is None else k["down"]
    cycle = up + down
    rises = k["mode"] != "exp_range"  # gamma^s may outpace the rise within a cycle
    return Facts(
        base,
        peak,
        rising=[(0, up, _strict(peak - base, up, peak))] if rises else [],
        falling=[(up, cycle)],
        joints=[up, cycle, cycle + up],
    )


def _piecewise_constant(k: dict[str, Any]) -> Facts:
    boundaries, values = k["boundaries"], k["values"]
    last = boundaries[-1] if boundaries else 0
    return Facts(
        min(values),
        max(values),
        changes_at=boundaries,
        changes_until=min(last + 10, 3000),
    )


def _piecewise_linear(k: dict[str, Any]) -> Facts:
    points = k["points"]
    xs = [x for x, _ in points]
    vs = [v for _, v in points]
    rising = [(x0, x1, False) for (x0, v0), (x1, v1) in itertools.pairwise(points) if v1 >= v0]
    falling = [(x0, x1) for (x0, v0), (x1, v1) in itertools.pairwise(points) if v1 <= v0]
    return Facts(min(vs), max(vs), rising=rising, falling=falling, joints=xs)


def _tanh_decay(k: dict[str, Any]) -> Facts:
    n = k["steps"]  # it drops onto final at n (as timm's): no joint there
    return Facts(k["final"], k["peak"], falling=[(0, n + 5)], horizon=n)


def _power_decay(k: dict[str, Any]) -> Facts:
    # holds peak until begin, then decays towards 0 for ever; at begin it leaves peak like
    # t ** order: a steep start where order < 1
    return Facts(
        0.0,
        k["peak"],
        falling=[(0, HUGE)],
        joints=[k["begin"]],
        slack=_holder_slack(k["order"]),
    )


BUILDERS: dict[str, Callable[[dict[str, Any]], Facts]] = {
    "constant": _constant,
    "linear": _linear,
    "polynomial": _polynomial,
    "exponential": _exponential,
    "step_decay": _step_decay,
    "multistep": _multistep,
    "cosine": _cosine,
    "warmup_cosine": _warmup_cosine,
    "cosine_restarts": _cosine_restarts,
    "noam": _noam,
    "inverse_sqrt": _inverse_sqrt,
    "tri_stage": _tri_stage,
    "warmup_stable_decay": _warmup_stable_decay,
    "one_cycle": _one_cycle,
    "cyclic": _cyclic,
    "piecewise_constant": _piecewise_constant,
    "piecewise_linear": _piecewise_linear,
    "tanh_decay": _tanh_decay,
    "power_decay": _power_decay,
}


def facts_of(family: str, kwargs: dict[str, Any]) -> Facts:
    """The family's facts, its horizon taken from the registry ``schedules.FAMILIES``."""
    horizon = schedules.FAMILIES[family].horizon_of(kwargs)
    return attrs.evolve(BUILDERS[family](kwargs), horizon=horizon)


FACTS = {f: functools.partial(facts_of, f) for f in BUILDERS}
"""family -> its facts for given hyperparameters."""


def test_every_registered_family_has_its_facts_and_is_public() -> None:
    assert tuple(BUILDERS) == FAMILIES == tuple(schedules.FAMILIES)
    for family in FAMILIES:
        assert getattr(schedules, family) is schedules.FAMILIES[family].function
        assert family in schedules.__all__


def _key_steps(facts: Facts) -> list[float]:
    keys: list[float] = [0, 1, *facts.joints, HUGE]
    if facts.horizon is not None:
        keys += [facts.horizon, facts.horizon + 1]
    return [k for k in keys if 0 <= k <= HUGE]  # (a horizon can be past any int64 step)


@pytest.mark.parametrize("family", FAMILIES)
def test_family_shape(family: str) -> None:
    fn = getattr(schedules, family)

    @settings(max_examples=EXAMPLES, deadline=None)
    @given(kwargs=hyperparameters(family, max_steps=MAX_STEPS), step=steps())
    def check(kwargs: dict[str, Any], step: int) -> None:
        schedule = functools.partial(fn, **kwargs)
        facts = FACTS[family](kwargs)
        keys = _key_steps(facts)
        assert_bounded(schedule, facts.low, facts.high, [*keys, step])
        for start, stop, strict in facts.rising:
            assert_monotone(
                schedule, start, stop, increasing=True, strict=strict, max_points=POINTS
            )
        for start, stop in facts.falling:
            assert_monotone(schedule, start, stop, increasing=False, max_points=POINTS)
        if facts.joints:
            assert_continuous(schedule, facts.joints, slack=facts.slack)
        if facts.horizon is not None:
            assert_holds_after(schedule, facts.horizon, [facts.horizon + 1, step + facts.horizon])
        if facts.changes_at is not None:
            assert_changes_only_at(schedule, facts.changes_at, 0, facts.changes_until)

    check()


@pytest.mark.parametrize("family", FAMILIES)
def test_family_agrees_on_tensors_and_under_vmap(family: str) -> None:
    fn = getattr(schedules, family)

    @settings(max_examples=EXAMPLES, deadline=None)
    @given(kwargs=hyperparameters(family, max_steps=MAX_STEPS), step=steps())
    def check(kwargs: dict[str, Any], step: int) -> None:
        schedule = functools.partial(fn, **kwargs)
        keys = [*_key_steps(FACTS[family](kwargs)), step]
        assert_scalar_tensor_agree(schedule, keys)
        assert_vmappable(schedule, [round(k) for k in keys])

    check()


def test_the_fact_tables_check_every_warmup_strictly() -> None:
    """Every family with a warmup has it checked as strictly rising (``test_family_shape``)
    at typical settings: the fact tables do not quietly turn the check off."""
    rising = {f: [r for r in FACTS[f](_example(f)).rising if r[2]] for f in FAMILIES}
    with_warmup = {f for f, r in rising.items() if r}
    assert {
        "warmup_cosine", "noam", "inverse_sqrt", "tri_stage", "warmup_stable_decay",
        "one_cycle", "cyclic",
    } <= with_warmup  # fmt: skip


def _example(family: str) -> dict[str, Any]:
    """A typical setting of each family (for the fact tables themselves)."""
    examples: dict[str, dict[str, Any]] = {
        "constant": {"value": 0.1},
        "linear": {"start": 0.0, "end": 1.0, "steps": 10, "begin": 0},
        "polynomial": {"start": 1.0, "end": 0.0, "steps": 10, "begin": 0, "power": 2.0},
        "exponential": {"start": 1.0, "rate": 0.5, "steps": 10, "begin": 0, "staircase": False,
                        "end": None},
        "step_decay": {"start": 1.0, "every": 10, "gamma": 0.1},
        "multistep": {"start": 1.0, "milestones": [5, 9], "gamma": 0.1},
        "cosine": {"peak": 1.0, "steps": 10, "final": 0.0, "exponent": 1.0},
        "warmup_cosine": {"peak": 1.0, "warmup": 3, "steps": 10, "start": 0.0, "final": 0.0,
                          "exponent": 1.0},
        "cosine_restarts": {"peak": 1.0, "period": 10, "mult": 1.0, "final": 0.0, "decay": 1.0},
        "noam": {"d_model": 512, "warmup": 10, "scale": 1.0},
        "inverse_sqrt": {"peak": 1.0, "warmup": 10},
        "tri_stage": {"peak": 1.0, "warmup": 3, "hold": 3, "decay": 3, "init_scale": 0.01,
                      "final_scale": 0.01},
        "warmup_stable_decay": {"peak": 1.0, "warmup": 3, "stable": 3, "decay": 3, "final": 0.0,
                                "shape": "linear"},
        "one_cycle": {"peak": 1.0, "steps": 100, "pct_start": 0.3, "div": 25.0,
                      "final_div": 1e4, "anneal": "cos", "three_phase": False},
        "cyclic": {"base": 0.1, "peak": 1.0, "up": 5, "down": None, "mode": "triangular",
                   "gamma": 1.0},
        "piecewise_constant": {"boundaries": [5], "values": [1.0, 0.5]},
        "piecewise_linear": {"points": [(0, 0.0), (5, 1.0)]},
        "tanh_decay": {"peak": 1.0, "steps": 10, "final": 0.0, "lower": -7.0, "upper": 3.0},
        "power_decay": {"peak": 1.0, "scale": 10, "exponent": 0.5, "begin": 5, "order": 2.0},
    }  # fmt: skip
    return examples[family]


@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "cosine_restarts"])
def test_typical_settings_satisfy_their_facts(family: str) -> None:
    """The fact table on one hand-picked setting per family (a quick, readable failure)."""
    schedule = functools.partial(getattr(schedules, family), **_example(family))
    facts = FACTS[family](_example(family))
    assert_bounded(schedule, facts.low, facts.high, range(0, 120))
    if facts.joints:
        assert_continuous(schedule, facts.joints, slack=facts.slack)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    family=st.sampled_from([f for f in FAMILIES if f not in ("cosine_restarts", "cyclic")]),
    data=st.data(),
)
def test_joining_a_family_to_its_own_final_value_is_continuous(
    family: str, data: st.DataObject
) -> None:
    """``join([f, constant(f(horizon))], [horizon])`` meets without a jump: the parts were
    designed to meet, and the join sees the second part from exactly that step."""
    kwargs = data.draw(hyperparameters(family, max_steps=MAX_STEPS))
    first = functools.partial(getattr(schedules, family), **kwargs)
    facts = FACTS[family](kwargs)
    if facts.horizon is None or facts.horizon <= 0 or facts.horizon not in facts.joints:
        return  # no horizon, or a jump onto it by design (multistep, piecewise_constant)
    rest = functools.partial(schedules.constant, value=first(facts.horizon))
    joined = schedules.join([first, rest], [facts.horizon])
    assert_continuous(joined, [facts.horizon], slack=facts.slack)
    assert joined(facts.horizon + 7) == first(facts.horizon)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    kwargs=hyperparameters("cosine", max_steps=MAX_STEPS),
    tail=st.integers(1, MAX_STEPS),
)
def test_cosine_joined_to_a_linear_tail_is_continuous_and_never_rises(
    kwargs: dict[str, Any], tail: int
) -> None:
    n, final = kwargs["steps"], kwargs["final"]
    joined = schedules.join(
        [
            functools.partial(schedules.cosine, **kwargs),
            functools.partial(schedules.linear, start=final, end=0.0, steps=tail),
        ],
        [n],
    )
    assert_continuous(joined, [n, n + tail], slack=_holder_slack(2 * kwargs["exponent"]))
    assert_monotone(joined, 0, n + tail + 5, increasing=False, max_points=POINTS)
    assert_holds_after(joined, n + tail)
