"""state_dict / load_state_dict: bit-identical resume at any micro-step, and refused or
converted mismatches."""

from __future__ import annotations

import functools
import io
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from shell_models import batches, tiny_mlp
from torch import Tensor, nn

import schedules
from optimsche import OptimScheduler

BATCH_SIZES = [3, 5, 2, 4, 1, 6, 3, 2, 5, 4, 2, 3]


def _roundtrip(state: dict[str, Any]) -> Any:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def _make(model: nn.Module, accum_grad: int, use_amp: bool, every: int) -> OptimScheduler:
    return OptimScheduler(
        "AdamW",
        {"lr": 1.0, "weight_decay": 0.1},
        model,
        accum_grad=accum_grad,
        step_per_update=every,
        use_amp=use_amp,
        grad_clip=0.5,
        schedule=functools.partial(schedules.warmup_cosine, peak=0.05, warmup=2, steps=6),
    )


def _train(
    steps: int, accum_grad: int, use_amp: bool, num_items: bool, every: int, resume_at: int | None
) -> nn.Module:
    """Train ``steps`` micro-steps; before micro-step ``resume_at + 1`` save everything,
    rebuild model and shell from scratch (other initial weights), and load."""
    model = tiny_mlp()
    sche = _make(model, accum_grad, use_amp, every)
    for n in range(1, steps + 1):
        if resume_at is not None and n == resume_at + 1:
            saved = _roundtrip({"model": model.state_dict(), "sche": sche.state_dict()})
            model = tiny_mlp(seed=123)
            model.load_state_dict(saved["model"])
            sche = _make(model, accum_grad, use_amp, every)
            sche.load_state_dict(saved["sche"])
        generator = torch.Generator().manual_seed(n)
        size = BATCH_SIZES[n % len(BATCH_SIZES)]
        x = torch.randn(size, 6, generator=generator)
        y = torch.randn(size, 1, generator=generator)
        with sche.autocast():
            errors = (model(x) - y).float().pow(2)
        if num_items:
            sche.step(errors.sum(), num_items=torch.tensor(size) if n % 2 else size)
        else:
            sche.step(errors.mean())
    return model


@settings(max_examples=20, deadline=None)
@given(
    accum_grad=st.integers(1, 3),
    use_amp=st.booleans(),
    num_items=st.booleans(),
    every=st.integers(1, 2),
    steps=st.integers(1, 9),
    data=st.data(),
)
def test_resuming_at_any_micro_step_is_bit_identical(
    accum_grad: int, use_amp: bool, num_items: bool, every: int, steps: int, data: st.DataObject
) -> None:
    """AdamW, clipping, a schedule, fp16 or not, num_items or not, step_per_update 1 or 2:
    saving, rebuilding everything and loading before any micro-step changes no bit."""
    resume_at = data.draw(st.integers(0, steps), label="resume_at")
    straight = _train(steps, accum_grad, use_amp, num_items, every, None)
    resumed = _train(steps, accum_grad, use_amp, num_items, every, resume_at)
    for p, q in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(p, q)


def _shell_after(steps: int, **kwargs: Any) -> OptimScheduler:
    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 0.1, "momentum": 0.9}, model, **kwargs)
    for x, y in batches(steps):
        with sche.autocast():
            loss = (model(x) - y).float().pow(2).mean()
        sche.step(loss)
    return sche


def test_state_dict_format() -> None:
    mid = _shell_after(3, accum_grad=2).state_dict()
    assert mid["version"] == 1 and mid["optimizer_type"] == "SGD"
    assert mid["param_shapes"] == [[[8, 6], [8], [1, 8], [1]]]
    assert mid["counters"] == {"step_num": 3, "accum_grad": 2, "step_per_update": 1, "lr": 0.1}
    assert mid["scaler"] is None and mid["amp"] is None
    assert (mid["rank"], mid["world_size"]) == (0, 1)  # a single-process shell
    assert mid["window"] is not None and len(mid["window"]["grads"]) == 4
    assert len(mid["window"]["losses"]) == 1 and mid["window"]["items"] is None
    assert _shell_after(4, accum_grad=2).state_dict()["window"] is None
    amp_shell = _shell_after(1, use_amp=True)
    amp = amp_shell.state_dict()
    assert amp_shell.scaler is not None
    assert amp["amp"] == "fp16" and amp["scaler"] == amp_shell.scaler.state_dict()


def test_other_accum_grad_mid_window_is_refused() -> None:
    state = _roundtrip(_shell_after(3, accum_grad=2).state_dict())
    other = OptimScheduler("SGD", {"lr": 0.1, "momentum": 0.9}, tiny_mlp(), accum_grad=4)
    with pytest.raises(
        ValueError,
        match=r"taken at micro-step 3, inside a window of accum_grad=2; it can only be resumed "
        r"with accum_grad=2 \(this shell has 4\)",
    ):
        other.load_state_dict(state)


def test_other_accum_grad_at_a_window_boundary_keeps_the_real_step() -> None:
    seen: list[int] = []

    def schedule(real_step: int) -> float:
        seen.append(real_step)
        return 0.1

    state = _roundtrip(_shell_after(8, accum_grad=4).state_dict())  # 2 windows done
    model = tiny_mlp()
    sche = OptimScheduler(
        "SGD", {"lr": 0.1, "momentum": 0.9}, model, accum_grad=2, schedule=schedule
    )
    sche.load_state_dict(state)
    assert sche.step_num == 4  # 2 windows of the new accum_grad
    for x, y in batches(2):
        report = sche.step((model(x) - y).pow(2).mean())
    assert report.real_step == 3 and seen == [3]


def test_parameter_shape_mismatch_is_refused() -> None:
    state = _roundtrip(_shell_after(2).state_dict())
    other = OptimScheduler("SGD", {"lr": 0.1, "momentum": 0.9}, tiny_mlp(hidden=9))
    with pytest.raises(
        ValueError,
        match=r"parameter shapes differ: group 0 parameter 0: checkpoint \(8, 6\), model \(9, 6\); "
        r"group 0 parameter 1: checkpoint \(8,\), model \(9,\); group 0 parameter 2: "
        r"checkpoint \(1, 8\), model \(1, 9\)$",
    ):
        other.load_state_dict(state)
    fewer = OptimScheduler("SGD", {"lr": 0.1}, tiny_mlp(), updated_modules="0")
    with pytest.raises(ValueError, match="param group 0: the checkpoint has 4 parameters, this"):
        fewer.load_state_dict(state)


def test_other_optimizer_class_version_or_keys_are_refused() -> None:
    state = _roundtrip(_shell_after(2).state_dict())
    adam = OptimScheduler("Adam", {"lr": 0.1}, tiny_mlp())
    with pytest.raises(ValueError, match="holds a SGD state, this shell wraps a Adam"):
        adam.load_state_dict(state)
    sgd = OptimScheduler("SGD", {"lr": 0.1, "momentum": 0.9}, tiny_mlp())
    with pytest.raises(ValueError, match="checkpoint version 2 is not supported; this optimsche"):
        sgd.load_state_dict({**state, "version": 2})
    with pytest.raises(ValueError, match=r"missing keys \['counters'\], unexpected keys \['x'\]"):
        sgd.load_state_dict({**{k: v for k, v in state.items() if k != "counters"}, "x": 1})
    with pytest.raises(ValueError, match=r"expected a dict from OptimScheduler\.state_dict"):
        sgd.load_state_dict([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"counters\['step_num'\] must be an int >= 0"):
        sgd.load_state_dict({**state, "counters": {**state["counters"], "step_num": -1}})


def test_mid_window_checkpoint_of_another_rank_or_world_size_is_refused() -> None:
    """Mid-window partial gradients are the saving rank's own (the 2-rank case is in
    test_ddp.py): another rank or world size must not resume from them."""
    state = _roundtrip(_shell_after(3, accum_grad=2).state_dict())
    sgd = OptimScheduler("SGD", {"lr": 0.1, "momentum": 0.9}, tiny_mlp(), accum_grad=2)
    for rank, world in [(1, 2), (0, 2), (3, 4)]:
        with pytest.raises(
            ValueError,
            match=rf"taken mid-window \(micro-step 3\) by rank {rank} of {world} process\(es\); "
            r"its partial gradients are that rank's own .* cannot resume rank 0 of 1\. Save and "
            r"load one file per rank .* or checkpoint at a window boundary",
        ):
            sgd.load_state_dict({**state, "rank": rank, "world_size": world})
    sgd.load_state_dict(state)  # its own rank and world size
    assert sgd.step_num == 3


def test_boundary_checkpoint_loads_on_any_rank_and_old_ones_load_unchecked() -> None:
    boundary = _roundtrip(_shell_after(4, accum_grad=2).state_dict())
    sgd = OptimScheduler("SGD", {"lr": 0.1, "momentum": 0.9}, tiny_mlp(), accum_grad=2)
    sgd.load_state_dict({**boundary, "rank": 1, "world_size": 4})
    assert sgd.step_num == 4
    # written before rank/world_size were recorded: no rank check, even mid-window
    mid = _roundtrip(_shell_after(3, accum_grad=2).state_dict())
    sgd.load_state_dict({k: v for k, v in mid.items() if k not in ("rank", "world_size")})
    assert sgd.step_num == 3


@pytest.mark.parametrize(
    ("rank", "world", "match"),
    [
        (0, 0, r"'world_size' must be an int >= 1, got 0"),
        (0, None, r"'world_size' must be an int >= 1, got None"),
        (2, 2, r"'rank' \(world_size=2\) must be an int in \[0, 1\], got 2"),
        (True, 2, r"'rank' \(world_size=2\) must be an int in \[0, 1\], got True"),
    ],
)
def test_bad_rank_or_world_size_is_refused(rank: object, world: object, match: str) -> None:
    boundary = _roundtrip(_shell_after(4, accum_grad=2).state_dict())
    sgd = OptimScheduler("SGD", {"lr": 0.1, "momentum": 0.9}, tiny_mlp(), accum_grad=2)
    with pytest.raises(ValueError, match=match):
        sgd.load_state_dict({**boundary, "rank": rank, "world_size": world})


def test_step_per_update_that_excludes_the_saved_window_is_refused() -> None:
    state = _roundtrip(_shell_after(1, accum_grad=2).state_dict())
    other = OptimScheduler(
        "SGD", {"lr": 0.1, "momentum": 0.9}, tiny_mlp(), accum_grad=2, step_per_update=2
    )
    with pytest.raises(ValueError, match="partial gradients of window 1, in which this shell"):
        other.load_state_dict(state)


def _grads(sche: OptimScheduler) -> list[Tensor]:
    grads = []
    for group in sche.optimizer.param_groups:
        for p in group["params"]:
            assert p.grad is not None
            grads.append(p.grad)
    return grads


def test_scaler_to_no_scaler_divides_partial_gradients_by_the_scale() -> None:
    state = _roundtrip(_shell_after(1, accum_grad=2, use_amp=True).state_dict())
    assert state["scaler"]["scale"] == 65536.0
    plain = OptimScheduler("SGD", {"lr": 0.1, "momentum": 0.9}, tiny_mlp(), accum_grad=2)
    plain.load_state_dict(state)
    for grad, saved in zip(_grads(plain), state["window"]["grads"], strict=True):
        assert torch.equal(grad, saved / 65536.0)
    model = plain.model
    assert model is not None
    x, y = batches(1)[0]
    assert plain.step((model(x) - y).pow(2).mean()).updated


def test_no_scaler_to_scaler_multiplies_partial_gradients_by_its_scale() -> None:
    state = _roundtrip(_shell_after(1, accum_grad=2).state_dict())
    amp = OptimScheduler(
        "SGD", {"lr": 0.1, "momentum": 0.9}, tiny_mlp(), accum_grad=2, use_amp="fp16"
    )
    amp.load_state_dict(state)
    for grad, saved in zip(_grads(amp), state["window"]["grads"], strict=True):
        assert torch.equal(grad, saved * 65536.0)
    assert amp.scaler is not None and amp.scaler.get_scale() == 65536.0


def test_speechain_format_loads_optimizer_and_scaler() -> None:
    source = _shell_after(2, use_amp=True)
    assert source.scaler is not None
    source.scaler.update(1024.0)
    legacy = _roundtrip(
        {"optimizer": source.optimizer.state_dict(), "scaler": source.scaler.state_dict()}
    )
    target = OptimScheduler("SGD", {"lr": 0.5, "momentum": 0.9}, tiny_mlp(), use_amp=True)
    target.load_state_dict(legacy)
    assert target.step_num == 0 and target.get_lr() == 0.1
    assert target.scaler is not None and target.scaler.get_scale() == 1024.0
    momentum = target.optimizer.state[target.optimizer.param_groups[0]["params"][0]]
    assert torch.equal(
        momentum["momentum_buffer"], legacy["optimizer"]["state"][0]["momentum_buffer"]
    )
    plain = OptimScheduler("SGD", {"lr": 0.5, "momentum": 0.9}, tiny_mlp())
    plain.load_state_dict(legacy)  # scaler dropped
    assert plain.scaler is None


def test_a_tensor_lr_stays_the_same_tensor_across_load() -> None:
    model = tiny_mlp()
    lr = torch.tensor(0.1)
    sche = OptimScheduler(
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=lr),
        schedule=lambda r: 0.5 / r,
    )
    x, y = batches(1)[0]
    sche.step((model(x) - y).pow(2).mean())
    assert sche.optimizer.param_groups[0]["lr"] is lr and float(lr) == 0.5
    state = _roundtrip(sche.state_dict())
    lr.fill_(7.0)
    sche.load_state_dict(state)
    assert sche.optimizer.param_groups[0]["lr"] is lr and float(lr) == 0.5
