"""The metric rules beside reduce_on_plateau: NewBob, the non-strict comparison, the warmup
wrapper and GreedyLR, replayed against their anchors' numbers (metric_rule_vectors/), plus
their states' one dict mechanism."""

from __future__ import annotations

import itertools
import json
import math
import pickle
from pathlib import Path
from typing import Any

import attrs
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules.greedy import GreedyState, greedy
from schedules.metric_rule import MetricRule
from schedules.newbob import NewBobState, newbob
from schedules.plateau_state import PlateauState
from schedules.plateau_warmup import plateau_warmup
from schedules.reduce_on_plateau import reduce_on_plateau
from schedules.rule_state import RuleState

VECTORS = json.loads(
    (Path(__file__).parent / "metric_rule_vectors" / "metric_rules.json").read_text()
)
SEQUENCES: dict[str, list[float]] = VECTORS["sequences"]
REL = 1e-12


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL, abs_tol=1e-300)


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [f"{i}-{case['sequence']}" for i, case in enumerate(cases)]


def _metrics(case: dict[str, Any]) -> list[float]:
    metrics = SEQUENCES[case["sequence"]]
    return [-m for m in metrics] if case.get("mode_sign") == "max" else metrics


@pytest.mark.parametrize("case", VECTORS["newbob"], ids=_ids(VECTORS["newbob"]))
def test_newbob_replays_speechbrain(case: dict[str, Any]) -> None:
    anchor = case["anchor"]
    rule = newbob(anchor["annealing_factor"], anchor["improvement_threshold"], anchor["patient"])
    state = rule.init()
    for metric, expected in zip(_metrics(case), case["values"], strict=True):
        state = rule.update(state, metric)
        assert _close(anchor["initial_value"] * state.scale, expected)
    assert state.patience_left == case["patience_left"]


def _sb_rule(anchor: dict[str, Any]) -> plateau_warmup:
    inner = reduce_on_plateau(
        factor=anchor["factor"],
        patience=anchor["patience"],
        threshold=0.0,
        strict=False,
        min_scale=anchor["lr_min"] / anchor["lr"],
    )
    return plateau_warmup(inner, warmup=anchor["dont_halve_until_epoch"], ignore="metrics")


@pytest.mark.parametrize(
    "case", VECTORS["speechbrain_plateau"], ids=_ids(VECTORS["speechbrain_plateau"])
)
def test_non_strict_plateau_with_held_metrics_replays_speechbrain(case: dict[str, Any]) -> None:
    rule = _sb_rule(case["anchor"])
    state = rule.init()
    for metric, expected in zip(_metrics(case), case["lrs"], strict=True):
        state = rule.update(state, metric)
        assert _close(case["anchor"]["lr"] * state.scale, expected)


def _greedy_rule(anchor: dict[str, Any], base: float) -> greedy:
    kwargs = {k: v for k, v in anchor.items() if k not in ("min_lr", "max_lr", "eps")}
    return greedy(min_scale=anchor["min_lr"] / base, max_scale=anchor["max_lr"] / base, **kwargs)


@pytest.mark.parametrize("case", VECTORS["greedy"], ids=_ids(VECTORS["greedy"]))
def test_greedy_replays_transformers(case: dict[str, Any]) -> None:
    rule = _greedy_rule(case["anchor"], case["base_lr"])
    state = rule.init()
    for metric, lr, counters in zip(_metrics(case), case["lrs"], case["counters"], strict=True):
        state = rule.update(state, metric)
        assert _close(case["base_lr"] * state.scale, lr)
        assert [
            state.num_bad_epochs,
            state.num_good_epochs,
            state.cooldown_counter,
            state.warmup_counter,
            state.reset_left,
        ] == counters


@pytest.mark.parametrize(
    "case", VECTORS["espnet_warmup_plateau"], ids=_ids(VECTORS["espnet_warmup_plateau"])
)
def test_plateau_warmup_replays_espnet(case: dict[str, Any]) -> None:
    anchor, per_epoch = case["anchor"], case["batches_per_epoch"]
    warmup_steps = anchor["warmup_steps"]
    rule = plateau_warmup(
        reduce_on_plateau(
            factor=anchor["factor"],
            patience=anchor["patience"],
            threshold=anchor["threshold"],
            threshold_mode=anchor["threshold_mode"],
            mode=anchor["mode"],
            cooldown=anchor["cooldown"],
            min_scale=anchor["min_lr"] / anchor["lr"],
        ),
        warmup=math.ceil(warmup_steps / per_epoch) - 1,
    )
    state, metrics = rule.init(), iter(_metrics(case))
    lost = 0
    for update, expected in enumerate(case["update_lrs"], start=1):
        after_metric = update > 1 and (update - 1) % per_epoch == 0
        if after_metric:
            state = rule.update(state, next(metrics))
        ours = anchor["lr"] * min((update - 1) / warmup_steps, 1.0) * state.scale
        if update == 1:
            continue  # ESPnet's first update runs at the optimizer's own lr (no batch step yet)
        if after_metric and update - 1 < warmup_steps and not _close(ours, expected):
            # a reduction in the warmup reaches the one update before the next batch step
            # overwrites it (plateau_warmup's doc); from the next update on they agree
            assert _close(max(ours * anchor["factor"], anchor["min_lr"]), expected), update
            lost += 1
            continue
        assert _close(ours, expected), update
    case_lost[0] += lost


case_lost = [0]


def test_the_vectors_exercise_every_behaviour() -> None:
    greedy_lrs = [(c["base_lr"], c["lrs"]) for c in VECTORS["greedy"]]
    assert any(any(lr > base for lr in lrs) for base, lrs in greedy_lrs)  # raises
    assert any(any(lr < base for lr in lrs) for base, lrs in greedy_lrs)  # lowers
    assert any(  # a reset after reset_start falls at the minimum: from min_lr back to base
        any(
            a == c["anchor"]["min_lr"] and b == c["base_lr"]
            for a, b in itertools.pairwise(c["lrs"])
        )
        for c in VECTORS["greedy"]
    )
    assert any(len(set(c["values"])) > 2 for c in VECTORS["newbob"])
    held = [c for c in VECTORS["speechbrain_plateau"] if c["anchor"]["dont_halve_until_epoch"] == 3]
    assert any(len(set(c["lrs"])) > 1 for c in held)
    espnet = VECTORS["espnet_warmup_plateau"]
    assert any(
        min(c["update_lrs"][1:]) < c["anchor"]["lr"] * 0.99
        and c["update_lrs"][-1] < c["anchor"]["lr"]
        for c in espnet
    )


def test_non_strict_counts_an_equal_metric_as_an_improvement() -> None:
    strict, loose = (
        reduce_on_plateau(patience=0, threshold=0.0),
        reduce_on_plateau(patience=0, threshold=0.0, strict=False),
    )
    a, b = strict.init(), loose.init()
    for metric in [1.0, 1.0, 1.0]:
        a, b = strict.update(a, metric), loose.update(b, metric)
    assert a.scale < 1.0 and b.scale == 1.0


def test_newbob_hand_checked() -> None:
    rule = newbob(factor=0.5, threshold=0.1, patience=1)
    state = rule.init()
    scales = []
    for metric in [10.0, 8.0, 7.9, 7.8, 7.7, 5.0, 5.0]:
        state = rule.update(state, metric)
        scales.append(state.scale)
    # 8 -> 7.9: too small, patience 1 -> 0; 7.9 -> 7.8: anneal, patience back to 1;
    # 7.8 -> 7.7: 1 -> 0; 7.7 -> 5: a big improvement (the patience is not restored);
    # 5 -> 5: anneal
    assert scales == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
    assert state.patience_left == 1


def test_plateau_warmup_changes_keeps_counting_metrics_ignores_restarts() -> None:
    inner = reduce_on_plateau(patience=0, threshold=0.0)
    counting = plateau_warmup(inner, warmup=2)
    restarting = plateau_warmup(inner, warmup=2, ignore="metrics")
    a, b = counting.init(), restarting.init()
    for metric in [1.0, 2.0]:
        a, b = counting.update(a, metric), restarting.update(b, metric)
    assert a.scale == b.scale == 1.0
    assert a.best == 1.0 and b.best == 2.0  # counted vs. the last metric as the reference
    a, b = counting.update(a, 1.5), restarting.update(b, 1.5)
    assert a.scale == 0.1 and b.scale == 1.0


RULES: list[MetricRule] = [
    reduce_on_plateau(factor=0.5, patience=1, cooldown=1),
    reduce_on_plateau(patience=0, strict=False, mode="max"),
    newbob(factor=0.5, threshold=0.01, patience=1),
    greedy(min_scale=0.1, max_scale=4.0, factor=0.5, patience=1, smooth=True, window_size=3),
    plateau_warmup(newbob(), warmup=2, ignore="metrics"),
    plateau_warmup(greedy(min_scale=0.0, max_scale=2.0, patience=0), warmup=1),
]


@pytest.mark.parametrize("rule", RULES, ids=repr)
def test_states_round_trip_a_weights_only_checkpoint(rule: MetricRule, tmp_path: Path) -> None:
    state = rule.init()
    for metric in [1.0, 0.9, 0.95, 0.95, 2.0, 0.5]:
        state = rule.update(state, metric)
    saved = state.as_dict()
    assert saved["kind"] == state.KIND
    torch.save({"state": saved}, tmp_path / "s.pt")
    loaded = RuleState.from_dict(torch.load(tmp_path / "s.pt", weights_only=True)["state"])
    assert loaded == state and type(loaded) is type(state)
    assert rule.update(loaded, 0.7) == rule.update(state, 0.7)
    assert pickle.loads(pickle.dumps(rule)) == rule
    assert pickle.loads(pickle.dumps(state)) == state


def test_an_untagged_dict_is_a_plateau_state_and_a_tag_is_checked() -> None:
    untagged = {k: v for k, v in reduce_on_plateau().init().as_dict().items() if k != "kind"}
    assert isinstance(RuleState.from_dict(untagged), PlateauState)
    with pytest.raises(ValueError, match=r"unknown kind 'newbo'.*did you mean 'newbob'"):
        RuleState.from_dict({**newbob().init().as_dict(), "kind": "newbo"})
    with pytest.raises(ValueError, match="holds a 'newbob' state, not a 'reduce_on_plateau'"):
        PlateauState.from_dict(newbob().init().as_dict())
    with pytest.raises(ValueError, match=r"NewBobState.from_dict: missing keys \['previous'\]"):
        NewBobState.from_dict(
            {k: v for k, v in newbob().init().as_dict().items() if k != "previous"}
        )
    with pytest.raises(ValueError, match=r"window\[1\] must be finite"):
        GreedyState.from_dict({**greedy(0.0, 2.0).init().as_dict(), "window": [1.0, math.inf]})


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: newbob(factor=0.0), "factor must lie in"),
        (lambda: newbob(patience=-1), "patience must be an int >= 0"),
        (lambda: greedy(min_scale=0.5, max_scale=0.4), r"max_scale must be >= min_scale \(0.5\)"),
        (lambda: greedy(min_scale=-0.1, max_scale=2.0), "min_scale must be"),
        (lambda: greedy(min_scale=0.0, max_scale=0.0), "max_scale must be"),
        (lambda: greedy(0.0, 2.0, window_size=0), "window_size must be an int >= 1"),
        (lambda: greedy(0.0, 2.0, mode="mean"), "mode"),
        (lambda: plateau_warmup(object(), warmup=1), "rule must be a metric rule"),  # type: ignore[arg-type]
        (lambda: plateau_warmup(newbob(), warmup=-1), "warmup must be an int >= 0"),
        (lambda: plateau_warmup(newbob(), warmup=1, ignore="all"), "ignore"),
        (lambda: reduce_on_plateau(strict=1), "strict must be a bool"),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments_are_value_errors_naming_them(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize("rule", RULES, ids=repr)
def test_a_bad_metric_or_state_is_refused_and_changes_nothing(rule: MetricRule) -> None:
    state = rule.update(rule.init(), 1.0)
    before = state.as_dict()
    for metric in [math.nan, math.inf, "1.0", torch.ones(2)]:
        with pytest.raises(ValueError, match="metric"):
            rule.update(state, metric)
    with pytest.raises(ValueError, match="state must be"):
        rule.update(before, 1.0)
    assert state.as_dict() == before


@settings(max_examples=60, deadline=None)
@given(
    metrics=st.lists(st.floats(-10, 10, allow_nan=False), min_size=1, max_size=40),
    min_scale=st.floats(0.0, 1.0),
    max_scale=st.floats(1.0, 8.0),
    factor=st.floats(0.05, 0.95),
    patience=st.integers(0, 3),
)
def test_greedy_stays_within_its_bounds(
    metrics: list[float], min_scale: float, max_scale: float, factor: float, patience: int
) -> None:
    rule = greedy(min_scale, max_scale, factor=factor, patience=patience, reset_start=3)
    state = rule.init()
    for metric in metrics:
        state = rule.update(state, metric)
        assert min_scale <= state.scale <= max_scale
        assert state.last_epoch >= 1


@settings(max_examples=60, deadline=None)
@given(
    metrics=st.lists(st.floats(0.1, 10, allow_nan=False), min_size=1, max_size=40),
    factor=st.floats(0.05, 1.0),
    patience=st.integers(0, 3),
)
def test_newbob_only_anneals_and_never_on_a_big_improvement(
    metrics: list[float], factor: float, patience: int
) -> None:
    rule = newbob(factor=factor, threshold=0.01, patience=patience)
    state = rule.init()
    for metric in metrics:
        previous = state
        state = rule.update(state, metric)
        assert state.scale <= previous.scale
        if previous.previous is not None and metric < previous.previous * 0.98:
            assert state.scale == previous.scale
        assert attrs.evolve(state) == state
