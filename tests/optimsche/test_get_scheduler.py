"""``optimsche.get_scheduler``: transformers' names, arguments and refusals, the same lr in
every param group after every step as transformers 5.25.0 (get_scheduler_vectors/), resume."""

from __future__ import annotations

import io
import json
import math
import pickle
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

import optimsche
import schedules
from optimsche.config.error import ConfigError
from optimsche.config.schedule_expression import parse_schedule_expression
from optimsche.transformers_scheduler import SCHEDULER_KWARGS, SCHEDULER_TYPES

VECTORS = json.loads(
    (Path(__file__).parent / "get_scheduler_vectors" / "get_scheduler.json").read_text()
)
CASES: list[dict[str, Any]] = VECTORS["cases"]


def _optimizer(case: dict[str, Any]) -> torch.optim.Optimizer:
    groups = [
        {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in case["group_lrs"]
    ]
    return torch.optim.SGD(groups, lr=case["defaults_lr"])


def _build(case: dict[str, Any], optimizer: torch.optim.Optimizer) -> LRScheduler:
    return optimsche.get_scheduler(
        case["name"],
        optimizer,
        case["num_warmup_steps"],
        case["num_training_steps"],
        dict(case["kwargs"]),
    )


def _compared_steps(case: dict[str, Any]) -> int:
    """Every step of the vectors, past num_training_steps included."""
    return int(case["steps"])


def _step(scheduler: LRScheduler, case: dict[str, Any], k: int) -> None:
    scheduler.optimizer.step()
    if case["metrics"] is None:
        scheduler.step()
    else:
        scheduler.step(case["metrics"][k])  # type: ignore[call-arg]


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [
        f"{c['name']}-{c['num_warmup_steps']}-{c['num_training_steps']}-{c['kwargs']}"
        for c in cases
    ]


def test_every_scheduler_type_of_transformers_is_known_and_covered() -> None:
    assert list(SCHEDULER_TYPES) == VECTORS["scheduler_types"]
    assert set(SCHEDULER_KWARGS) == set(SCHEDULER_TYPES)
    assert {case["name"] for case in CASES} == set(SCHEDULER_TYPES)


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_every_group_gets_transformers_lr_after_every_step(case: dict[str, Any]) -> None:
    optimizer = _optimizer(case)
    scheduler = _build(case, optimizer)
    assert isinstance(scheduler, LRScheduler)
    for k, expected in enumerate(case["lrs"][: _compared_steps(case) + 1]):
        if k:
            _step(scheduler, case, k - 1)
        got = [group["lr"] for group in optimizer.param_groups]
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-18), k
        assert scheduler.get_last_lr() == pytest.approx(expected, rel=1e-12, abs=1e-18)


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_state_dict_resumes_exactly_through_weights_only(case: dict[str, Any]) -> None:
    half = _compared_steps(case) // 2
    optimizer = _optimizer(case)
    scheduler = _build(case, optimizer)
    for k in range(half):
        _step(scheduler, case, k)
    buffer = io.BytesIO()
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    resumed_optimizer = _optimizer(case)
    resumed = _build(case, resumed_optimizer)
    resumed_optimizer.load_state_dict(saved["optimizer"])
    resumed.load_state_dict(saved["scheduler"])
    for k in range(half, _compared_steps(case)):
        _step(scheduler, case, k)
        _step(resumed, case, k)
        assert [g["lr"] for g in resumed_optimizer.param_groups] == [
            g["lr"] for g in optimizer.param_groups
        ]


def test_metric_names_are_plateau_schedulers_for_trainer() -> None:
    case = next(c for c in CASES if c["name"] == "greedy")
    assert isinstance(_build(case, _optimizer(case)), ReduceLROnPlateau)
    case = next(c for c in CASES if c["name"] == "reduce_lr_on_plateau")
    scheduler = _build(case, _optimizer(case))
    assert isinstance(scheduler, ReduceLROnPlateau)
    with pytest.raises(
        ValueError, match=r"step\(metrics\): this scheduler is stepped with a metric"
    ):
        scheduler.step()
    with pytest.raises(ValueError, match="metric must be finite"):
        scheduler.step(math.nan)
    assert scheduler.last_epoch == 0


def test_a_schedule_per_group_pickles() -> None:
    case = next(c for c in CASES if c["name"] == "warmup_stable_decay")
    scheduler = _build(case, _optimizer(case))
    assert pickle.loads(pickle.dumps(scheduler.schedule)) == scheduler.schedule  # type: ignore[attr-defined]


@pytest.mark.parametrize("error", VECTORS["errors"], ids=[str(e) for e in VECTORS["errors"]])
def test_what_transformers_refuses_is_refused(error: dict[str, Any]) -> None:
    case = {"group_lrs": [1e-3, 3e-4, 2e-3], "defaults_lr": 1e-3, **error}
    optimizer = _optimizer(case)
    before = [dict(group) for group in optimizer.param_groups]
    with pytest.raises(ValueError):
        _build(case, optimizer)
    assert [dict(group) for group in optimizer.param_groups] == before


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("cosinus", {}, r"unknown scheduler name 'cosinus'; did you mean 'cosine'"),
        (
            "cosine",
            {"num_cycle": 1},
            r"unknown scheduler_specific_kwargs key 'num_cycle'; did you mean 'num_cycles'",
        ),
        ("linear", None, r"'linear'\): linear requires `num_training_steps`"),
        (
            "warmup_stable_decay",
            {"num_decay_steps": 3, "decay_type": "cosin"},
            "did you mean 'cosine'",
        ),
        ("polynomial", {}, r"num_training_steps \(3.0\) must exceed num_warmup_steps \(3.0\)"),
        ("greedy", {"min_lr": [1e-4]}, r"expected 2 min_lrs \(one per param group\), got 1"),
        (
            "cosine_warmup_with_min_lr",
            {"min_lr_rate": 0.1, "warmup_lr_rate": 0.1},
            "num_warmup_steps=1",
        ),
    ],
)
def test_refusals_name_the_argument(name: str, kwargs: dict[str, Any] | None, message: str) -> None:
    optimizer = torch.optim.SGD(
        [
            {"params": [torch.nn.Parameter(torch.zeros(1))]},
            {"params": [torch.nn.Parameter(torch.zeros(1))]},
        ],
        lr=0.1,
    )
    warmup = 1 if name == "cosine_warmup_with_min_lr" else 3
    total = 3 if name == "polynomial" else (10 if name != "linear" else None)
    with pytest.raises(ValueError, match=message):
        optimsche.get_scheduler(name, optimizer, warmup, total, kwargs)
    assert all(group["lr"] == 0.1 and "initial_lr" not in group for group in optimizer.param_groups)


def test_a_scheduler_type_member_is_accepted() -> None:
    class SchedulerType(str):
        value = "cosine"

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = optimsche.get_scheduler(SchedulerType("cosine"), optimizer, 2, 10)
    assert optimizer.param_groups[0]["lr"] == 0.0
    optimizer.step()
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05)


STEP_CASES = [c for c in CASES if c["metrics"] is None]


@pytest.mark.parametrize("case", STEP_CASES, ids=_ids(STEP_CASES))
def test_transformers_schedule_is_the_same_lr_on_a_1_based_clock(case: dict[str, Any]) -> None:
    """The expression form, on as_lr_scheduler's default 1-based clock (the shell's)."""
    base = case["group_lrs"][1]
    keywords = {k: v for k, v in case["kwargs"].items()}
    schedule = schedules.transformers_schedule(
        case["name"],
        base,
        case["num_warmup_steps"],
        case["num_training_steps"],
        lr=case["defaults_lr"],
        **keywords,
    )
    for k in range(1, _compared_steps(case) + 1):  # the k-th update gets the lr after k - 1 steps
        assert schedule(k) == pytest.approx(case["lrs"][k - 1][1], rel=1e-12, abs=1e-18), k


def test_transformers_schedule_is_an_expression() -> None:
    text = (
        "transformers_schedule(name='warmup_stable_decay', peak=0.001, num_warmup_steps=3,"
        " num_training_steps=20, num_decay_steps=6, decay_type='1-sqrt')"
    )
    parsed = parse_schedule_expression(text)
    assert parsed.schedule == schedules.transformers_schedule(
        "warmup_stable_decay", 0.001, 3, 20, num_decay_steps=6, decay_type="1-sqrt"
    )
    with pytest.raises(ConfigError, match="takes no power"):
        parse_schedule_expression(
            "transformers_schedule(name='cosine', peak=0.1, num_warmup_steps=1,"
            " num_training_steps=9, power=2.0)"
        )
    with pytest.raises(ValueError, match="count_from=1"):
        schedules.transformers_schedule("inverse_sqrt", 0.1, 0, count_from=0)
    with pytest.raises(ValueError, match="did you mean 'cosine'"):
        schedules.transformers_schedule("cosin", 0.1, 0, 10)


def test_a_config_schedule_names_a_transformers_shape() -> None:
    expression = (
        "transformers_schedule(name='linear', peak=0.1, num_warmup_steps=2, num_training_steps=10)"
    )
    text = f"""
    optim_sches:
      conf:
        optim_type: SGD
        schedule: "{expression}"
    """
    main = optimsche.build_optim_sches(optimsche.load_config(text), torch.nn.Linear(3, 1))["main"]
    model = main.model
    assert model is not None
    lrs = [main.step(model(torch.ones(1, 3)).sum()).lr for _ in range(4)]
    # transformers' lrs after 0, 1, 2, 3 steps: 0, 0.05, 0.1, 0.1 · 7/8
    assert lrs == pytest.approx([0.0, 0.05, 0.1, 0.0875], rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        (
            {"num_warmup": 3},
            r"unexpected keyword argument 'num_warmup'; did you mean "
            r"'num_warmup_steps'\? \(its arguments: name, optimizer, num_warmup_steps",
        ),
        ({"num_cycles": 2}, r"num_cycles is one of cosine's scheduler_specific_kwargs"),
        ({"scheduler_kwargs": {}}, r"did you mean 'scheduler_specific_kwargs'"),
    ],
)
def test_an_unknown_keyword_argument_names_the_valid_ones(
    keywords: dict[str, Any], message: str
) -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(TypeError, match=message):
        optimsche.get_scheduler("cosine", optimizer, 1, 10, **keywords)
    assert optimizer.param_groups[0]["lr"] == 0.1 and "initial_lr" not in optimizer.param_groups[0]
