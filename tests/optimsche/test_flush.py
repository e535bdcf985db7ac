"""Partial windows: flush() and step_num jumps equal the large batch of the micro-batches the
window held (float64, SGD with momentum, which is not invariant to the gradient's scale)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import torch
from shell_models import EncoderTwoHeads, batches
from shell_snapshot import assert_unchanged, snapshot
from torch import Tensor, nn

from optimsche import OptimScheduler, OptimSchedulerGroup

ACCUM = 4
LR, MOMENTUM = 0.05, 0.9


def model64(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1)).double()


def batch(i: int, size: int = 3) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(100 + i)
    x = torch.randn(size, 3, generator=gen, dtype=torch.float64)
    return x, torch.randn(size, 1, generator=gen, dtype=torch.float64)


def sq_sum(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    return (model(x) - y).pow(2).sum()


def sgd(model: nn.Module) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)


def shell(model: nn.Module, **kwargs: object) -> OptimScheduler:
    return OptimScheduler(model=model, optimizer=sgd(model), accum_grad=ACCUM, **kwargs)  # type: ignore[arg-type]


def large_batch_step(model: nn.Module, optimizer: torch.optim.Optimizer, ids: Sequence[int],
                     sizes: Sequence[int] | None = None) -> None:  # fmt: skip
    """One step on the concatenated micro-batches ``ids``: the mean over rows (equal sizes,
    or the item-weighted mean with ``sizes``)."""
    parts = [batch(i, 3 if sizes is None else sizes[i]) for i in ids]
    x, y = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    optimizer.zero_grad(set_to_none=True)
    (sq_sum(model, x, y) / x.shape[0]).backward()
    optimizer.step()


def assert_same(a: nn.Module, b: nn.Module) -> None:
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("num_items", [False, True])
def test_flushed_windows_equal_the_large_batch_of_their_micro_batches(num_items: bool) -> None:
    """Windows of 4, 3 (flushed) and 2 (flushed) micro-batches; uneven sizes with num_items."""
    sizes = [3, 1, 4, 2, 5, 2, 3, 1, 2] if num_items else None
    model, reference = model64(), model64()
    sche, ref_opt = shell(model), sgd(reference)
    windows = [[0, 1, 2, 3], [4, 5, 6], [7, 8]]
    for ids in windows:
        for i in ids:
            x, y = batch(i, 3 if sizes is None else sizes[i])
            if num_items:
                sche.step(sq_sum(model, x, y), num_items=len(x))
            else:
                sche.step(sq_sum(model, x, y) / len(x))
        report = sche.flush()
        if len(ids) == ACCUM:
            assert report is None  # the window already updated
        else:
            assert report is not None and report.updated
            assert report.step_num == sche.step_num - (ACCUM - len(ids))  # its last micro-step
        large_batch_step(reference, ref_opt, ids, sizes)
        assert_same(model, reference)
    assert sche.step_num == 3 * ACCUM  # every flushed window is closed


def test_a_flushed_window_is_closed() -> None:
    model = model64()
    sche = shell(model)
    sche.step(sq_sum(model, *batch(0)))
    sche.step(sq_sum(model, *batch(1)), step_num=2)
    report = sche.flush()
    assert report is not None and (report.step_num, report.real_step) == (2, 1)
    assert sche.step_num == ACCUM and sche.flush() is None
    before = snapshot(sche)
    with pytest.raises(
        ValueError, match=r"step_num=3 lies in a window that flush\(\) closed after micro-step 2"
    ):
        sche.step(sq_sum(model, *batch(2)), step_num=3)
    assert_unchanged(sche, before)
    assert sche.step(sq_sum(model, *batch(2))).step_num == ACCUM + 1  # next window's first
    with pytest.raises(ValueError, match="step_num must increase: got step_num=4 after"):
        sche.step(sq_sum(model, *batch(3)), step_num=4)


def test_flush_with_nothing_open_returns_none_and_changes_nothing() -> None:
    model = model64()
    sche = OptimScheduler(
        model=model, optimizer=sgd(model), accum_grad=2, step_per_update=2
    )  # takes part in windows 2, 4, ...
    assert sche.flush() is None
    sche.step(sq_sum(model, *batch(0)))  # window 1: no part
    before = snapshot(sche)
    assert sche.flush() is None
    assert_unchanged(sche, before)


def test_flush_checkpoint_resumes_at_the_next_window() -> None:
    model = model64()
    sche = shell(model)
    sche.step(sq_sum(model, *batch(0)))
    sche.flush()
    state = sche.state_dict()
    assert state["window"] is None and state["counters"]["step_num"] == ACCUM
    resumed = shell(model64())
    resumed.load_state_dict(state)
    assert resumed.step(sq_sum(model, *batch(1))).step_num == ACCUM + 1


@pytest.mark.parametrize("num_items", [False, True])
def test_a_jump_out_of_an_open_window_flushes_it_with_the_new_gradient_at_the_old_weights(
    num_items: bool,
) -> None:
    """Micro-steps 1, 2, then 6, 7, 8 (3..5 skipped by the runner): window 1 is the mean of
    micro-batches 1-2; micro-step 6's forward ran before window 1's update, so window 2 holds
    its gradient at those weights, plus those of 7 and 8 at the updated weights."""
    sizes = {1: 2, 2: 5, 6: 3, 7: 1, 8: 4}
    model, reference = model64(), model64()
    sche, ref_opt = shell(model), sgd(reference)

    def loss_of(net: nn.Module, n: int) -> tuple[Tensor, int]:
        x, y = batch(n, sizes[n])
        total = sq_sum(net, x, y)
        return (total, len(x)) if num_items else (total / len(x), len(x))

    for n in (1, 2, 6, 7, 8):
        loss, count = loss_of(model, n)
        report = sche.step(loss, step_num=n, num_items=count if num_items else None)
        assert (report.flushed is not None) == (n == 6)
        if n == 6:
            assert report.flushed is not None
            assert (report.flushed.step_num, report.flushed.real_step) == (2, 1)
            assert report.flushed.updated and not report.updated
    assert report.updated and report.real_step == 2

    # by hand: micro-batch 6's gradient at the initial weights, then window 1's update
    w1 = [loss_of(reference, n) for n in (1, 2)]
    l6, c6 = loss_of(reference, 6)
    params = list(reference.parameters())
    g6 = torch.autograd.grad(l6, params)
    items_1 = sum(c for _, c in w1)
    for loss, _ in w1:
        (loss / (items_1 if num_items else 2)).backward()
    ref_opt.step()
    ref_opt.zero_grad(set_to_none=True)
    rest = [loss_of(reference, n) for n in (7, 8)]
    items_2 = c6 + sum(c for _, c in rest)
    divisor = items_2 if num_items else ACCUM
    for p, g in zip(params, g6, strict=True):
        p.grad = g / divisor
    for loss, _ in rest:
        (loss / divisor).backward()
    ref_opt.step()
    assert_same(model, reference)


def test_a_jump_onto_a_window_end_applies_both_windows() -> None:
    """Micro-steps 1, then 8: window 1 (micro-batch 1 alone, its mean) and window 2 (micro-step
    8 alone, at the initial weights, divided by accum_grad as any window with missing
    micro-steps)."""
    model, reference = model64(), model64()
    sche, ref_opt = shell(model), sgd(reference)
    sche.step(sq_sum(model, *batch(1)))
    report = sche.step(sq_sum(model, *batch(8)), step_num=8)
    assert report.updated and report.flushed is not None and report.flushed.updated
    params = list(reference.parameters())
    g8 = torch.autograd.grad(sq_sum(reference, *batch(8)), params)
    sq_sum(reference, *batch(1)).backward()
    ref_opt.step()
    for p, g in zip(params, g8, strict=True):
        p.grad = g / ACCUM
    ref_opt.step()
    assert_same(model, reference)


def test_a_jump_under_fp16_rescales_the_new_gradient_when_the_flush_changes_the_scale() -> None:
    """The old window overflows (the scaler halves its scale): the new micro-step's gradient,
    scaled by the old scale, must be unscaled by the old one. Float32 forward, no autocast:
    the scaler's powers of two are exact."""
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    reference = nn.Linear(3, 1)
    reference.load_state_dict(model.state_dict())
    sche = OptimScheduler(
        model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), accum_grad=2,
        use_amp="fp16",
    )  # fmt: skip
    x, y = batch(0)
    x, y = x.float(), y.float()
    sche.step((model(x) - y).pow(2).mean() * 1e36)  # overflows once scaled by 65536
    scale_before = sche.scaler.get_scale()  # type: ignore[union-attr]
    report = sche.step((model(x) - y).pow(2).mean(), step_num=3)
    assert report.flushed is not None and report.flushed.skipped == "amp_overflow"
    assert sche.scaler.get_scale() == scale_before / 2  # type: ignore[union-attr]
    sche.step((model(x) - y).pow(2).mean())
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    ((reference(x) - y).pow(2).mean() / 2 * 2).backward()  # micro-steps 3 and 4, same batch
    ref_opt.step()
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)


def test_a_failing_backward_after_a_jump_puts_the_open_window_back() -> None:
    model = model64()
    sche = shell(model)
    sche.step(sq_sum(model, *batch(0)))
    before = snapshot(sche)
    spent = sq_sum(model, *batch(1))
    torch.autograd.grad(spent, list(model.parameters()))  # frees its graph
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        sche.step(spent, step_num=6)
    assert_unchanged(sche, before)


# --- groups ------------------------------------------------------------------------------------


def two_member_group(model: EncoderTwoHeads, accum: int = ACCUM) -> OptimSchedulerGroup:
    def member(modules: list[str], loss: str) -> OptimScheduler:
        return OptimScheduler(
            "SGD", {"lr": LR, "momentum": MOMENTUM}, model, optim_loss=loss,
            updated_modules=modules, accum_grad=accum,
        )  # fmt: skip

    return OptimSchedulerGroup(
        {"a": member(["encoder", "head_a"], "a"), "b": member(["head_b"], "b")}
    )


GROUP_DATA = batches(8)


def group_losses(model: EncoderTwoHeads, i: int) -> dict[str, Tensor]:
    x, y = GROUP_DATA[i]
    out_a, out_b = model(x)
    return {"a": (out_a - y).pow(2).mean(), "b": (out_b + y).pow(2).mean()}


def test_group_flush_flushes_every_member_as_each_would_alone() -> None:
    group, model = two_member_group(m := EncoderTwoHeads()), m
    twins = two_member_group(t := EncoderTwoHeads())
    for i in range(2):
        group.step(group_losses(model, i))
        twins.step(group_losses(t, i))
    reports = group.flush()
    assert set(reports) == {"a", "b"} and all(r is not None and r.updated for r in reports.values())
    for name in ("a", "b"):
        assert twins[name].flush() is not None
    assert group.step_num == ACCUM
    for p, q in zip(model.parameters(), t.parameters(), strict=True):
        assert torch.equal(p, q)
    assert group.flush() == {"a": None, "b": None}
    assert group.step(group_losses(model, 2)) ["a"].step_num == ACCUM + 1  # fmt: skip


def test_group_jump_flushes_the_members_windows_first() -> None:
    """A group whose step_num jumps equals its members stepped alike by hand: each member's
    window 1 applied, then micro-step 6's gradients (at the old weights) in window 2."""
    group, model = two_member_group(m := EncoderTwoHeads()), m
    group.step(group_losses(model, 0))
    reports = group.step(group_losses(model, 1), step_num=6)
    assert all(r.flushed is not None and r.flushed.updated for r in reports.values())
    for i in (2, 3):
        reports = group.step(group_losses(model, i))
    assert all(r.updated for r in reports.values())

    reference = EncoderTwoHeads()
    params_a = [*reference.encoder.parameters(), *reference.head_a.parameters()]
    params_b = list(reference.head_b.parameters())
    opt_a = torch.optim.SGD(params_a, lr=LR, momentum=MOMENTUM)
    opt_b = torch.optim.SGD(params_b, lr=LR, momentum=MOMENTUM)
    late = group_losses(reference, 1)
    g_a = torch.autograd.grad(late["a"], params_a, retain_graph=True)
    g_b = torch.autograd.grad(late["b"], params_b)
    first = group_losses(reference, 0)
    torch.autograd.backward(first["a"], inputs=params_a, retain_graph=True)
    torch.autograd.backward(first["b"], inputs=params_b)
    opt_a.step()
    opt_b.step()
    for params, grads in ((params_a, g_a), (params_b, g_b)):
        for p, g in zip(params, grads, strict=True):
            p.grad = g / ACCUM
    for i in (2, 3):
        losses = group_losses(reference, i)
        torch.autograd.backward(losses["a"] / ACCUM, inputs=params_a, retain_graph=True)
        torch.autograd.backward(losses["b"] / ACCUM, inputs=params_b)
    opt_a.step()
    opt_b.step()
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-7)


def test_a_group_jump_under_fp16_rescales_every_members_new_gradients() -> None:
    """Window 1 overflows in both members (the shared scaler halves its scale); micro-step 3's
    gradients, scaled before, are unscaled right: the group equals a float32 run in which
    window 1 was skipped."""
    model, reference = EncoderTwoHeads(), EncoderTwoHeads()

    def member(net: EncoderTwoHeads, modules: list[str], loss: str, amp: bool) -> OptimScheduler:
        return OptimScheduler(
            "SGD", {"lr": 0.1}, net, optim_loss=loss, updated_modules=modules, accum_grad=2,
            use_amp="fp16" if amp else False,
        )  # fmt: skip

    def group_of(net: EncoderTwoHeads, amp: bool) -> OptimSchedulerGroup:
        return OptimSchedulerGroup(
            {
                "a": member(net, ["encoder", "head_a"], "a", amp),
                "b": member(net, ["head_b"], "b", amp),
            }
        )

    group, plain = group_of(model, True), group_of(reference, False)
    losses = group_losses(model, 0)
    group.step({name: loss * 1e36 for name, loss in losses.items()})
    reports = group.step(group_losses(model, 1), step_num=3)
    assert all(
        r.flushed is not None and r.flushed.skipped == "amp_overflow" for r in reports.values()
    )
    group.step(group_losses(model, 2))
    plain.step(group_losses(reference, 1), step_num=3)
    plain.step(group_losses(reference, 2))
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)
