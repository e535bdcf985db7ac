"""``reduce_on_plateau``: torch ``ReduceLROnPlateau`` as a pure rule (init / update), replayed
against vectors generated from torch, its properties, its state's dict form, and its refusals."""

from __future__ import annotations

import itertools
import json
import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules import PlateauState, reduce_on_plateau

VECTORS = json.loads((Path(__file__).parent / "plateau_vectors" / "plateau.json").read_text())


def _expand(runs: list[list[float]]) -> list[float]:
    """The run-length encoded lrs ``[[lr, steps], ...]`` as one lr per step."""
    return [value for value, times in runs for _ in range(int(times))]


def _vector_cases() -> list[Any]:
    cases = [("grid", i, c) for i, c in enumerate(VECTORS["grid"])]
    cases += [("defaults", i, c) for i, c in enumerate(VECTORS["torch_defaults"])]
    return [pytest.param(case, id=f"{kind}-{i}-{case['sequence']}") for kind, i, case in cases]


@pytest.mark.parametrize("case", _vector_cases())
def test_replays_torch_number_for_number(case: dict[str, Any]) -> None:
    rule = reduce_on_plateau(**case["rule"])
    metrics = VECTORS["sequences"][case["sequence"]]
    expected_lrs = _expand(case["lrs"])
    assert len(expected_lrs) == len(metrics)
    state = rule.init()
    for i, metric in enumerate(metrics):
        state = rule.update(state, metric)
        where = f"{rule!r} on {case['sequence']!r}, metric {i}: {state!r}"
        assert math.isclose(state.scale * case["base_lr"], expected_lrs[i], rel_tol=1e-12), where
        assert state.num_bad_epochs == case["num_bad_epochs"][i], where
        assert state.cooldown_counter == case["cooldown_counter"][i], where
    assert state.best == case["best"] and state.last_epoch == case["last_epoch"]


def test_the_vectors_cover_every_combination_and_every_behaviour() -> None:
    axes = ("mode", "threshold_mode", "patience", "cooldown", "min_scale")
    seen = {tuple(c["rule"][axis] for axis in axes) for c in VECTORS["grid"]}
    assert seen == set(
        itertools.product(("min", "max"), ("rel", "abs"), (0, 2, 5), (0, 3), (0.0, 0.05))
    )
    every = VECTORS["grid"] + VECTORS["torch_defaults"]
    reductions = [len(c["lrs"]) - 1 for c in every]
    assert min(reductions) == 0 and max(reductions) >= 20  # none, and many
    assert any(any(c["cooldown_counter"]) for c in every)
    at_floor = [
        c
        for c in every
        if c["rule"].get("min_scale", 0.0) > 0
        and math.isclose(c["lrs"][-1][0], c["rule"]["min_scale"] * c["base_lr"])
    ]
    assert at_floor
    assert all(c["eps"] is None for c in VECTORS["torch_defaults"])


def test_hand_checked_run() -> None:
    rule = reduce_on_plateau(factor=0.5, patience=1, cooldown=1, threshold=0.0)
    state = rule.init()
    assert state == PlateauState(
        scale=1.0, best=math.inf, num_bad_epochs=0, cooldown_counter=0, last_epoch=0
    )
    scales = []
    for metric in [3.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 1.0]:
        state = rule.update(state, metric)
        scales.append(state.scale)
    # bad updates at 3 and 4 (> patience 1) reduce; update 5 is cooldown; 6, 7 reduce again
    assert scales == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert (state.best, state.num_bad_epochs, state.cooldown_counter) == (1.0, 0, 0)
    assert state.last_epoch == 8
    assert reduce_on_plateau(mode="max").init().best == -math.inf


def test_torch_eps_has_no_counterpart() -> None:
    """torch skips a reduction that would change the lr by 1e-8 or less; the rule does not."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=1e-6)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.1, patience=0)
    rule = reduce_on_plateau(factor=0.1, patience=0)
    state = rule.init()
    for _ in range(6):
        scheduler.step(1.0)
        state = rule.update(state, 1.0)
    # torch: 1e-6 -> 1e-7 -> 1e-8, then the next step would be 9e-9 <= eps: it stops
    assert math.isclose(optimizer.param_groups[0]["lr"], 1e-8, rel_tol=1e-12)
    assert math.isclose(state.scale * 1e-6, 1e-11, rel_tol=1e-12)


# --- properties ---------------------------------------------------------------------------

rules = st.builds(
    reduce_on_plateau,
    factor=st.floats(0.01, 0.99),
    patience=st.integers(0, 6),
    threshold=st.sampled_from([0.0, 1e-4, 0.05]) | st.floats(0.0, 0.5),
    threshold_mode=st.sampled_from(["rel", "abs"]),
    mode=st.sampled_from(["min", "max"]),
    cooldown=st.integers(0, 4),
    min_scale=st.sampled_from([0.0, 0.05]) | st.floats(0.0, 1.0),
)
metric_values = st.floats(-10.0, 10.0) | st.sampled_from([0.0, 1.0, -1.0, 2.0])
metric_lists = st.lists(metric_values, min_size=1, max_size=60) | st.lists(
    st.sampled_from([1.0, 1.00001, 0.99999]), min_size=1, max_size=60
)


def _improves(rule: reduce_on_plateau, metric: float, best: float) -> bool:
    """The improvement test, as the module doc's table writes it (torch's arithmetic)."""
    table = {
        ("min", "rel"): lambda: metric < best * (1.0 - rule.threshold),
        ("min", "abs"): lambda: metric < best - rule.threshold,
        ("max", "rel"): lambda: metric > best * (rule.threshold + 1.0),
        ("max", "abs"): lambda: metric > best + rule.threshold,
    }
    return table[(rule.mode, rule.threshold_mode)]()


@settings(max_examples=300, deadline=None)
@given(rule=rules, metrics=metric_lists)
def test_the_scale_never_rises_and_never_drops_below_min_scale(
    rule: reduce_on_plateau, metrics: list[float]
) -> None:
    state = rule.init()
    for metric in metrics:
        new = rule.update(state, metric)
        assert new.scale <= state.scale, (rule, metrics)
        assert new.scale >= rule.min_scale, (rule, metrics)
        assert new.last_epoch == state.last_epoch + 1
        state = new


@settings(max_examples=300, deadline=None)
@given(rule=rules, metrics=metric_lists)
def test_no_reduction_before_patience_plus_one_bad_updates(
    rule: reduce_on_plateau, metrics: list[float]
) -> None:
    """Bad updates are counted here from the metrics alone (the test keeps its own best);
    every reduction comes after at least ``patience + 1`` of them since the last reduction or
    improvement, and with ``cooldown == 0`` exactly then (while the scale is above
    ``min_scale``, where a reduction shows)."""
    state, best, bad = rule.init(), math.inf if rule.mode == "min" else -math.inf, 0
    for metric in metrics:
        if _improves(rule, metric, best):
            best, bad = metric, 0
        else:
            bad += 1
        new = rule.update(state, metric)
        reduced = new.scale < state.scale
        assert not reduced or bad >= rule.patience + 1, (rule, metrics)
        if rule.cooldown == 0 and state.scale > rule.min_scale:
            assert reduced == (bad == rule.patience + 1), (rule, metrics)
        if reduced:
            bad = 0
        elif rule.cooldown == 0 and bad == rule.patience + 1:
            bad = 0  # a reduction at min_scale: nothing shows, the count starts again
        state = new
        assert state.best == best


@settings(max_examples=200, deadline=None)
@given(
    rule=rules,
    start=st.floats(0.1, 100.0),
    steps=st.lists(st.floats(1e-3, 0.5), min_size=1, max_size=60),
)
def test_a_strictly_improving_metric_never_reduces(
    rule: reduce_on_plateau, start: float, steps: list[float]
) -> None:
    """Each metric beats the last by more than the threshold (in the rule's mode and
    threshold mode): the scale stays 1.0 and no bad update is counted."""
    metric, state = start, rule.init()
    for step in steps:
        state = rule.update(state, metric)
        assert state.scale == 1.0 and state.num_bad_epochs == 0, (rule, start, steps)
        if rule.threshold_mode == "rel":
            ratio = (1.0 - rule.threshold) * (1.0 - step)
            metric = metric * ratio if rule.mode == "min" else metric / ratio
        else:
            move = rule.threshold + step
            metric = metric - move if rule.mode == "min" else metric + move


# --- the state: dict form, pickling ---------------------------------------------------------


def test_state_round_trips_through_a_weights_only_checkpoint(tmp_path: Path) -> None:
    rule = reduce_on_plateau(factor=0.5, patience=0, cooldown=2)
    state = rule.init()
    first = state.as_dict()
    assert first["best"] == math.inf
    for metric in [1.0, 1.0, 1.0, 0.5]:
        state = rule.update(state, metric)
    as_dict = state.as_dict()
    assert as_dict == {
        "kind": "reduce_on_plateau",
        "scale": 0.5,
        "best": 0.5,
        "num_bad_epochs": 0,
        "cooldown_counter": 0,
        "last_epoch": 4,
    }
    assert all(type(v) in (int, float) for k, v in as_dict.items() if k != "kind")
    torch.save({"plateau": as_dict, "first": first}, tmp_path / "p.pt")
    loaded = torch.load(tmp_path / "p.pt", weights_only=True)
    assert PlateauState.from_dict(loaded["plateau"]) == state
    assert PlateauState.from_dict(loaded["first"]) == rule.init()
    restored = PlateauState.from_dict(loaded["plateau"])
    assert rule.update(restored, 0.5) == rule.update(state, 0.5)


def test_rule_and_state_pickle_compare_and_read_well() -> None:
    rule = reduce_on_plateau(factor=0.5, patience=3, mode="max")
    state = rule.update(rule.init(), 0.7)
    assert pickle.loads(pickle.dumps(rule)) == rule
    assert pickle.loads(pickle.dumps(state)) == state
    assert hash(pickle.loads(pickle.dumps(rule))) == hash(rule)
    assert rule != reduce_on_plateau(factor=0.5, patience=3)
    assert repr(rule) == (
        "reduce_on_plateau(factor=0.5, patience=3, threshold=0.0001, threshold_mode='rel', "
        "mode='max', cooldown=0, min_scale=0.0, strict=True)"
    )
    assert eval(repr(rule), {"reduce_on_plateau": reduce_on_plateau}) == rule
    assert repr(state) == (
        "PlateauState(scale=1.0, best=0.7, num_bad_epochs=0, cooldown_counter=0, last_epoch=1)"
    )
    with pytest.raises(AttributeError):
        state.scale = 0.5  # type: ignore[misc]


GOOD = {"scale": 0.5, "best": 1.0, "num_bad_epochs": 1, "cooldown_counter": 0, "last_epoch": 3}


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ([0.5, 1.0], r"expected a dict with keys \['scale', .*got list"),
        ({k: v for k, v in GOOD.items() if k != "best"}, r"missing keys \['best'\]"),
        ({**GOOD, "mode": "min"}, r"unexpected keys \['mode'\]"),
        ({**GOOD, "scale": 1.5}, r"scale must lie in the closed interval \[0, 1\], got 1.5"),
        ({**GOOD, "scale": "0.5"}, "scale must be a number, got str"),
        ({**GOOD, "best": math.nan}, "best must not be NaN"),
        ({**GOOD, "best": torch.tensor(1.0)}, "best must be a number, got Tensor"),
        ({**GOOD, "num_bad_epochs": -1}, "num_bad_epochs must be an int >= 0, got -1"),
        ({**GOOD, "cooldown_counter": 1.0}, "cooldown_counter must be an int >= 0, got 1.0"),
        ({**GOOD, "last_epoch": True}, "last_epoch must be an int >= 0, got True"),
    ],
)
def test_a_malformed_dict_is_a_value_error_naming_the_key(state: object, message: str) -> None:
    with pytest.raises(ValueError, match="PlateauState.from_dict: " + message):
        PlateauState.from_dict(state)


def test_from_dict_accepts_inf_best_and_int_numbers() -> None:
    state = PlateauState.from_dict({**GOOD, "best": -math.inf, "scale": 1})
    assert state.best == -math.inf and state.scale == 1.0 and type(state.scale) is float


# --- metrics and refusals ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "metric", [0.5, 1, np.float32(0.5), np.float64(0.5), torch.tensor(0.5), torch.tensor([0.5])]
)
def test_metric_types_torch_accepts(metric: object) -> None:
    rule = reduce_on_plateau()
    assert rule.update(rule.init(), metric).best == float(metric)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        (math.nan, "metric must be finite, got nan"),
        (math.inf, "metric must be finite, got inf"),
        (-math.inf, "metric must be finite, got -inf"),
        (torch.tensor(math.nan), "metric must be finite, got nan"),
        (np.float32("nan"), "metric must be finite, got nan"),
        (torch.tensor([1.0, 2.0]), r"one-element Tensor, got a Tensor of shape \(2,\)"),
        (True, "metric must be a number, got bool"),
        ("0.5", "metric must be a number, got str"),
        (None, "metric must be a number, got NoneType"),
    ],
)
def test_a_bad_metric_is_a_value_error_and_changes_nothing(metric: object, message: str) -> None:
    rule = reduce_on_plateau(patience=0)
    state = rule.update(rule.init(), 1.0)
    before = state.as_dict()
    with pytest.raises(ValueError, match=message):
        rule.update(state, metric)
    assert state.as_dict() == before
    assert rule.update(state, 1.0).scale == 0.1  # the rule goes on as if nothing happened


def test_update_refuses_what_is_not_a_state() -> None:
    with pytest.raises(ValueError, match=r"state must be a PlateauState .* got dict"):
        reduce_on_plateau().update(GOOD, 1.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"factor": 0.0}, r"factor must lie in the open interval \(0, 1\), got 0.0"),
        ({"factor": 1.0}, r"factor must lie in the open interval \(0, 1\), got 1.0"),
        ({"factor": -0.5}, r"factor must lie in the open interval \(0, 1\)"),
        ({"factor": math.nan}, "factor must be finite"),
        ({"factor": "0.1"}, "factor must be a number, got str"),
        ({"patience": -1}, "patience must be an int >= 0, got -1"),
        ({"patience": 2.5}, "patience must be an int >= 0, got 2.5"),
        ({"patience": True}, "patience must be an int >= 0, got True"),
        ({"cooldown": -3}, "cooldown must be an int >= 0, got -3"),
        ({"threshold": -1e-4}, "threshold must be >= 0, got -0.0001"),
        ({"threshold": math.inf}, "threshold must be finite"),
        ({"mode": "minimum"}, "mode must be one of 'min', 'max', got 'minimum'"),
        ({"threshold_mode": "relative"}, "threshold_mode must be one of 'rel', 'abs', got"),
        ({"min_scale": -0.1}, r"min_scale must lie in the closed interval \[0, 1\], got -0.1"),
        ({"min_scale": 1.5}, r"min_scale must lie in the closed interval \[0, 1\], got 1.5"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        reduce_on_plateau(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scale": 1.01}, r"scale must lie in the closed interval \[0, 1\]"),
        ({"best": math.nan}, "best must not be NaN"),
        ({"last_epoch": -1}, "last_epoch must be an int >= 0"),
    ],
)
def test_a_state_is_checked_when_built(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PlateauState(**{**GOOD, **kwargs})
