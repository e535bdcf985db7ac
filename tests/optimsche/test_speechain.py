"""SpeeChain's NoamLr and ExponentDecayLr, with their formulas checked update by update."""

from __future__ import annotations

import copy
import io
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from shell_models import batches, clone_params, mse, tiny_mlp

import schedules
from optimsche import ExponentDecayLr, NoamLr, OptimScheduler
from optimsche.speechain import Noamlr


def _update_lrs(sche: OptimScheduler, updates: int) -> list[float]:
    """The lr of the first param group at each of ``updates`` updates."""
    model = sche.model
    assert model is not None
    lrs = []
    for x, y in batches(updates * sche.accum_grad):
        if sche.step(mse(model, x, y)).updated:
            lrs.append(float(sche.optimizer.param_groups[0]["lr"]))
    return lrs


@settings(max_examples=15, deadline=None)
@given(d_model=st.integers(16, 1024), warmup=st.integers(1, 8), ft_factor=st.floats(0.1, 2.0))
def test_noam_with_d_model_is_the_transformer_formula(
    d_model: int, warmup: int, ft_factor: float
) -> None:
    sche = NoamLr(
        "Adam",
        {"lr": 1.0},
        tiny_mlp(),
        accum_grad=2,
        ft_factor=ft_factor,
        d_model=d_model,
        warmup_steps=warmup,
    )
    for r, lr in enumerate(_update_lrs(sche, 12), start=1):
        speechain = d_model**-0.5 * min(r**-0.5, r * warmup**-1.5)
        assert lr == pytest.approx(ft_factor * speechain, rel=1e-12)
        assert lr == ft_factor * schedules.noam(r, d_model, warmup)


def test_noam_without_d_model_peaks_at_the_optimizers_lr() -> None:
    warmup = 4
    sche = NoamLr("SGD", {"lr": 0.3}, tiny_mlp(), warmup_steps=warmup)
    lrs = _update_lrs(sche, 12)
    for r, lr in enumerate(lrs, start=1):
        if r <= warmup:
            assert lr == pytest.approx(0.3 * r / warmup, rel=1e-12)  # linear rise
        else:
            assert lr == pytest.approx(0.3 * math.sqrt(warmup / r), rel=1e-12)  # r^-1/2 decay
    assert max(lrs) == pytest.approx(0.3, rel=1e-12) and lrs.index(max(lrs)) == warmup - 1
    assert sche.init_lr == pytest.approx(0.3 * math.sqrt(warmup))
    assert repr(sche).endswith("d_model=None, warmup_steps=4)")


def test_noamlr_is_speechains_spelling() -> None:
    assert Noamlr is NoamLr


def _epoch_lrs(sche: OptimScheduler, epochs: list[float]) -> list[float]:
    """The lr of the first param group at each update, micro-step ``n`` of ``epochs[n-1]``."""
    model = sche.model
    assert model is not None
    lrs = []
    for epoch, (x, y) in zip(epochs, batches(len(epochs)), strict=True):
        if sche.step(mse(model, x, y), epoch_num=epoch).updated:
            lrs.append(float(sche.optimizer.param_groups[0]["lr"]))
    return lrs


def test_exponent_decay_is_per_epoch_from_the_initial_lr() -> None:
    """SpeeChain's formula ``lr0 · decay_factor^(epoch_num - 1)``: 2 updates per epoch here,
    both at the epoch's lr."""
    sche = ExponentDecayLr("SGD", {"lr": 0.2}, tiny_mlp(), accum_grad=3, decay_factor=0.5)
    epochs = [e for e in (1, 2, 3) for _ in range(6)]  # 6 micro-steps = 2 windows per epoch
    lrs = _epoch_lrs(sche, epochs)
    assert lrs == [0.2 * 0.5 ** (e - 1) for e in (1, 1, 2, 2, 3, 3)]
    assert repr(sche).endswith("decay_factor=0.5)")


def test_exponent_decay_does_not_compound_as_speechains_did() -> None:
    """SpeeChain multiplied the *current* lr by decay^(epoch-1) at every update: its second
    update of epoch 2 used lr0·d·d. Here the lr is a function of the epoch alone."""
    sche = ExponentDecayLr("SGD", {"lr": 0.2}, tiny_mlp(), decay_factor=0.5)
    lrs = _epoch_lrs(sche, [1, 2, 2, 2])
    assert lrs == [0.2, 0.1, 0.1, 0.1]
    speechain_lr, speechain = 0.2, []
    for epoch in (1, 2, 2, 2):
        speechain_lr = speechain_lr * 0.5 ** (epoch - 1)
        speechain.append(speechain_lr)
    assert speechain == [0.2, 0.1, 0.05, 0.025] != lrs
    assert sche.update_lr(7, 3) == sche.update_lr(1, 3) == 0.2 * 0.25


def test_exponent_decay_takes_float_epochs() -> None:
    sche = ExponentDecayLr("SGD", {"lr": 0.2}, tiny_mlp(), decay_factor=0.5)
    assert _epoch_lrs(sche, [1.0, 1.5, 2.25]) == [0.2, 0.2 * 0.5**0.5, 0.2 * 0.5**1.25]


def test_exponent_decay_without_epoch_num_changes_nothing() -> None:
    model = tiny_mlp()
    sche = ExponentDecayLr("SGD", {"lr": 0.2, "momentum": 0.9}, model, decay_factor=0.5)
    _epoch_lrs(sche, [1, 1])
    before = (copy.deepcopy(sche.optimizer.state_dict()), clone_params(model), sche.step_num)
    with pytest.raises(ValueError, match=r"epoch_num is required: ExponentDecayLr\.update_lr"):
        sche.step(mse(model, *batches(1)[0]))
    with pytest.raises(ValueError, match="ExponentDecayLr decays per epoch: epoch_num is required"):
        sche.update_lr(3, None)
    assert sche.step_num == before[2]
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before[1], strict=True))
    assert str(sche.optimizer.state_dict()) == str(before[0])
    assert all(p.grad is None for p in model.parameters())


def test_exponent_decay_resumes_with_the_same_lr() -> None:
    model = tiny_mlp()
    sche = ExponentDecayLr("SGD", {"lr": 0.2}, model, decay_factor=0.9)
    _epoch_lrs(sche, [1, 2, 3, 4])
    buffer = io.BytesIO()
    torch.save(sche.state_dict(), buffer)
    buffer.seek(0)
    resumed = ExponentDecayLr("SGD", {"lr": 0.2}, tiny_mlp(), decay_factor=0.9)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    assert resumed.get_lr() == sche.get_lr()
    assert _epoch_lrs(resumed, [5, 6]) == _epoch_lrs(sche, [5, 6]) == [0.2 * 0.9**4, 0.2 * 0.9**5]
    with pytest.raises(ValueError, match="epoch_num must not go backwards: got epoch_num=5"):
        _epoch_lrs(resumed, [5])  # the last epoch is in the checkpoint


def test_sche_init_keys_are_the_speechain_names() -> None:
    with pytest.raises(ValueError, match=r"NoamLr: unknown key 'warmup' for NoamLr\.sche_init; "):
        NoamLr("SGD", {"lr": 0.1}, tiny_mlp(), warmup=3)
    with pytest.raises(ValueError, match=r"valid keys: 'decay_factor'\)$"):
        ExponentDecayLr("SGD", {"lr": 0.1}, tiny_mlp(), gamma=0.9)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"d_model": 0}, "NoamLr: d_model must be > 0, got 0"),
        ({"warmup_steps": 0}, "NoamLr: warmup_steps must be > 0, got 0"),
        ({"warmup_steps": True}, "NoamLr: warmup_steps must be a number, got bool: True"),
    ],
)
def test_noam_checks_its_hyperparameters(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NoamLr("SGD", {"lr": 0.1}, tiny_mlp(), **kwargs)


@pytest.mark.parametrize("decay_factor", [0.0, 1.5, -0.1, math.nan])
def test_exponent_decay_checks_its_factor(decay_factor: float) -> None:
    with pytest.raises(
        ValueError, match=r"ExponentDecayLr: decay_factor must (lie in \(0, 1\]|be finite)"
    ):
        ExponentDecayLr("SGD", {"lr": 0.1}, tiny_mlp(), decay_factor=decay_factor)


def test_subclasses_cannot_take_a_schedule() -> None:
    with pytest.raises(ValueError, match="schedule= cannot be combined with NoamLr"):
        NoamLr("SGD", {"lr": 0.1}, tiny_mlp(), schedule=schedules.constant)
