"""Properties of lr_range_test over generated settings: whatever the optimizer, accumulation,
AMP mode, position in a window and the micro-step at which the loss function raises (if it
does), the shell and the model are bit-identical afterwards; and the micro-steps between
updates read nothing back from the device."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from shell_models import batches, tiny_mlp
from shell_snapshot import assert_unchanged, snapshot
from torch import Tensor

from optimsche import OptimScheduler
from optimsche.lr_range import lr_range_test
from optimsche.testing.host_syncs import counting_host_syncs

OPTIMIZERS = {
    "SGD": {"lr": 0.1, "momentum": 0.9},
    "Adam": {"lr": 1e-3},
    "AdamW": {"lr": 1e-3, "weight_decay": 0.01},
    "RMSprop": {"lr": 1e-3},
}


class _Raised(Exception):
    pass


@settings(max_examples=15, deadline=None)
@given(
    optimizer=st.sampled_from(sorted(OPTIMIZERS)),
    accum_grad=st.integers(1, 3),
    use_amp=st.sampled_from([False, "bf16", "fp16"]),
    before=st.integers(0, 5),
    raise_at=st.one_of(st.none(), st.integers(1, 12)),
    grad_clip=st.one_of(st.none(), st.floats(0.1, 10.0)),
)
def test_state_is_bit_identical_afterwards(
    optimizer: str,
    accum_grad: int,
    use_amp: bool | str,
    before: int,
    raise_at: int | None,
    grad_clip: float | None,
) -> None:
    model = tiny_mlp()
    shell = OptimScheduler(
        optimizer,
        OPTIMIZERS[optimizer],
        model=model,
        accum_grad=accum_grad,
        use_amp=use_amp,
        grad_clip=grad_clip,
    )
    data = batches(8)
    calls = 0
    sweeping = False

    def loss_fn(batch: tuple[Tensor, Tensor]) -> Tensor:
        nonlocal calls
        calls += sweeping
        if sweeping and calls == raise_at:
            raise _Raised
        x, y = batch
        return ((model(x) - y) ** 2).mean().float()

    for batch in data[:before]:
        with shell.autocast():
            shell.step(loss_fn(batch))
    sweeping = True  # count the sweep's calls only
    state = snapshot(shell)
    model_state = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    try:
        lr_range_test(shell, data, loss_fn, min_lr=1e-4, max_lr=100.0, num_updates=6)
    except _Raised:
        assert raise_at is not None and raise_at <= 6 * accum_grad
    assert_unchanged(shell, state)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in model_state.items())
    assert torch.equal(rng, torch.get_rng_state())


def _reads(accum_grad: int, updates: int) -> int:
    model = tiny_mlp()
    shell = OptimScheduler("SGD", {"lr": 0.1}, model=model, accum_grad=accum_grad)

    def loss_fn(batch: tuple[Tensor, Tensor]) -> Tensor:
        x, y = batch
        return ((model(x) - y) ** 2).mean()

    with counting_host_syncs() as syncs:
        result = lr_range_test(
            shell, batches(4), loss_fn, num_updates=updates, max_lr=1e-3, diverge=None
        )
    assert len(result.lrs) == updates
    return syncs.count


@pytest.mark.parametrize("accum_grad", [2, 4])
def test_no_host_read_between_updates(accum_grad: int) -> None:
    # the same updates with more micro-steps each: not one more read of the device
    assert _reads(accum_grad, updates=5) == _reads(1, updates=5)


def test_one_read_of_the_loss_per_update() -> None:
    per_update = _reads(1, updates=6) - _reads(1, updates=5)
    model = tiny_mlp()
    shell = OptimScheduler("SGD", {"lr": 0.1}, model=model)
    x, y = batches(1)[0]
    with counting_host_syncs() as syncs:
        shell.step(((model(x) - y) ** 2).mean())
    shell_reads = syncs.count
    assert per_update == shell_reads + 1  # the shell's own update sync, plus the loss read
