"""Reduce on plateau in the shell: ``plateau=``, ``observe(metric)``, its checkpointed state."""

from __future__ import annotations

import functools
import io
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from shell_models import EncoderTwoHeads, batches, mse, tiny_mlp
from shell_snapshot import assert_unchanged, snapshot

import schedules
from optimsche import OptimScheduler, OptimSchedulerGroup


def _train(sche: OptimScheduler, updates: int) -> list[float]:
    model = sche.model
    assert model is not None
    lrs = []
    for x, y in batches(updates * sche.accum_grad):
        report = sche.step(mse(model, x, y))
        if report.updated:
            lrs.append(float(sche.optimizer.param_groups[0]["lr"]))
    return lrs


@settings(max_examples=20, deadline=None)
@given(
    metrics=st.lists(st.floats(0.0, 2.0, allow_nan=False), min_size=1, max_size=25),
    factor=st.sampled_from([0.1, 0.5]),
    patience=st.integers(0, 3),
    cooldown=st.integers(0, 2),
    mode=st.sampled_from(["min", "max"]),
)
def test_a_constant_lr_follows_torch_reduce_lr_on_plateau(
    metrics: list[float], factor: float, patience: int, cooldown: int, mode: str
) -> None:
    """Hand-written torch: SGD + ReduceLROnPlateau(eps=0), stepped with the same metrics after
    each epoch of 2 updates; the shell's lr at each update is torch's."""
    arguments = {"factor": factor, "patience": patience, "cooldown": cooldown, "mode": mode}
    model, reference = tiny_mlp(), tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 0.1}, model, plateau=arguments)
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    torch_rule = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, eps=0.0, **arguments)
    for metric in metrics:
        assert _train(sche, 2) == [optimizer.param_groups[0]["lr"]] * 2
        sche.observe(metric)
        torch_rule.step(metric)


def test_warmup_then_plateau_is_the_schedule_times_the_scale() -> None:
    rule = schedules.reduce_on_plateau(factor=0.5, patience=0)
    warm = schedules.warmup(functools.partial(schedules.constant, value=0.2), steps=4)
    sche = OptimScheduler(
        "SGD", {"lr": 1.0}, tiny_mlp(), ft_factor=0.5, schedule=warm, plateau=rule
    )
    state = rule.init()
    real = 0
    for metric in (1.0, 0.9, 0.95, 0.97, 0.5, 0.6):
        for lr in _train(sche, 2):
            real += 1
            assert lr == 0.5 * warm(real) * state.scale
        sche.observe(metric)
        state = rule.update(state, metric)
        assert sche.plateau_state == state
    assert state.scale == 0.125 and sche.get_lr() == 0.5 * 0.2 * 0.25


def test_a_rule_and_a_dict_of_its_arguments_are_the_same() -> None:
    a = OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), plateau={"factor": 0.5, "mode": "max"})
    b = OptimScheduler(
        "SGD", {"lr": 0.1}, tiny_mlp(), plateau=schedules.reduce_on_plateau(0.5, mode="max")
    )
    assert a.plateau == b.plateau and a.plateau_state == b.plateau_state


def test_observe_reads_a_tensor_metric() -> None:
    sche = OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), plateau={"patience": 0})
    sche.observe(torch.tensor(1.0))
    sche.observe(torch.tensor([2.0]))
    state = sche.plateau_state
    assert state is not None and state.scale == pytest.approx(0.1) and state.best == 1.0


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        (math.nan, "metric must be finite, got nan"),
        (math.inf, "metric must be finite, got inf"),
        (torch.tensor(math.nan), "metric must be finite"),
        (torch.ones(2), r"metric must be a number or a one-element Tensor, got a Tensor of shape"),
        ("0.5", "metric must be a number, got str"),
    ],
)
def test_a_bad_metric_changes_nothing(metric: object, message: str) -> None:
    sche = OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), plateau={"patience": 0})
    sche.observe(1.0)
    _train(sche, 1)
    before = snapshot(sche)
    with pytest.raises(ValueError, match=message):
        sche.observe(metric)  # type: ignore[arg-type]
    assert_unchanged(sche, before)


def test_observe_without_a_plateau_rule_is_refused() -> None:
    sche = OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp())
    before = snapshot(sche)
    with pytest.raises(ValueError, match="observe: this OptimScheduler has no plateau rule"):
        sche.observe(0.5)
    assert_unchanged(sche, before)


@pytest.mark.parametrize(
    ("plateau", "message"),
    [
        ({"factr": 0.5}, r"plateau: unknown key 'factr'; did you mean 'factor'\? \(valid keys"),
        ({"factor": 2.0}, r"plateau: factor must lie in the open interval \(0, 1\), got 2.0"),
        ({"mode": "low"}, r"plateau: mode must be one of 'min', 'max', got 'low'"),
        (0.5, r"plateau must be a metric rule \(schedules.reduce_on_plateau, newbob, .* or a dict"),
    ],
)
def test_bad_plateau_arguments(plateau: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), plateau=plateau)  # type: ignore[arg-type]


def test_the_plateau_state_is_checkpointed_and_resumes() -> None:
    def build() -> OptimScheduler:
        return OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), plateau={"patience": 1})

    sche = build()
    for metric in (1.0, 1.0, 1.0, 0.5):
        _train(sche, 1)
        sche.observe(metric)
    buffer = io.BytesIO()
    torch.save(sche.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    assert state["plateau"] == sche.plateau_state.as_dict()  # type: ignore[union-attr]
    resumed = build()
    resumed.load_state_dict(state)
    assert resumed.plateau_state == sche.plateau_state
    for metric in (0.6, 0.7):
        resumed.observe(metric)
        sche.observe(metric)
    assert resumed.plateau_state == sche.plateau_state
    assert _train(resumed, 1) == _train(sche, 1) == [pytest.approx(0.1 * 0.1 * 0.1)]


def test_a_plateau_state_does_not_load_into_a_shell_without_a_rule() -> None:
    with_rule = OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), plateau={})
    without = OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp())
    before = snapshot(without)
    with pytest.raises(ValueError, match="holds a reduce-on-plateau state, but this shell has no"):
        without.load_state_dict(with_rule.state_dict())
    assert_unchanged(without, before)
    state = without.state_dict()  # no plateau state: the rule starts afresh
    with_rule.observe(1.0)
    with_rule.load_state_dict(state)
    assert with_rule.plateau_state == schedules.reduce_on_plateau().init()


def test_a_malformed_plateau_state_is_refused() -> None:
    sche = OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), plateau={})
    state = sche.state_dict()
    state["plateau"] = {**state["plateau"], "scale": 2.0}
    before = snapshot(sche)
    with pytest.raises(ValueError, match=r"'plateau': PlateauState.from_dict: scale must lie"):
        sche.load_state_dict(state)
    assert_unchanged(sche, before)


# --- groups ------------------------------------------------------------------------------------


def _group(with_rule_b: bool = True) -> OptimSchedulerGroup:
    model = EncoderTwoHeads()
    return OptimSchedulerGroup(
        {
            "a": OptimScheduler(
                "SGD", {"lr": 0.1}, model, optim_loss="a", updated_modules=["encoder", "head_a"],
                plateau={"patience": 0, "factor": 0.5},
            ),
            "b": OptimScheduler(
                "SGD", {"lr": 0.1}, model, optim_loss="b", updated_modules="head_b",
                plateau={"patience": 0} if with_rule_b else None,
            ),
        }
    )  # fmt: skip


def test_group_observe_one_metric_or_one_per_member() -> None:
    group = _group()
    group.observe(1.0)
    group.observe(2.0)  # worse: both reduce
    assert group["a"].plateau_state.scale == 0.5  # type: ignore[union-attr]
    assert group["b"].plateau_state.scale == pytest.approx(0.1)  # type: ignore[union-attr]
    group.observe({"a": 0.5})
    assert group["a"].plateau_state.best == 0.5  # type: ignore[union-attr]
    assert group["b"].plateau_state.best == 1.0  # type: ignore[union-attr]
    partial = _group(with_rule_b=False)
    partial.observe(torch.tensor(3.0))  # only the members with a rule
    assert partial["a"].plateau_state.best == 3.0  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ({"a": 0.5, "c": 1.0}, "observe: unknown member 'c'; the group's members: 'a', 'b'"),
        ({"a": 0.5, "b": 1.0}, r"observe: member 'b' has no plateau rule; members with one: \['a'"),
        ({"a": 0.5, "b": math.nan}, "metric must be finite"),
    ],
)
def test_group_observe_checks_everything_before_any_member_changes(
    metric: dict[str, float], message: str
) -> None:
    group = _group(with_rule_b=message.startswith("metric"))
    before = {name: snapshot(member) for name, member in group.items()}
    with pytest.raises(ValueError, match=message):
        group.observe(metric)
    for name, member in group.items():
        assert_unchanged(member, before[name])


def test_group_observe_needs_a_member_with_a_rule() -> None:
    model = tiny_mlp()
    group = OptimSchedulerGroup({"main": OptimScheduler("SGD", {"lr": 0.1}, model)})
    with pytest.raises(ValueError, match="observe: no member of the group has a plateau rule"):
        group.observe(1.0)
