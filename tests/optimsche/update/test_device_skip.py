"""The device-side skip: bit-identical to a hand-written loop that decides on the host, and
zero host syncs per update with a fused optimizer (fp32, fp16, a window that must be skipped).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from optimsche import StepReport
from optimsche.step_report import SKIP_AMP_OVERFLOW, SKIP_NONFINITE
from optimsche.testing.host_syncs import counting_host_syncs
from optimsche.update.device_skip import (
    skip_code,
    state_pending,
    step_unless_skipped,
    supports_device_skip,
    update_on_device,
)

NAN = float("nan")

OPTIMIZERS: dict[str, Callable[[Any], torch.optim.Optimizer]] = {
    "AdamW": lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1, fused=True),
    "Adam-amsgrad": lambda p: torch.optim.Adam(p, lr=1e-2, amsgrad=True, fused=True),
    "SGD-momentum": lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9, fused=True),
    "SGD": lambda p: torch.optim.SGD(p, lr=1e-2, fused=True),
    "Adagrad": lambda p: torch.optim.Adagrad(p, lr=1e-2, fused=True),
}


class TwoLayers(nn.Module):
    """An MLP with an unused parameter (never has a gradient, never gets state)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 1))
        self.unused = nn.Parameter(torch.ones(3))

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.net(x)
        return out


def data(steps: int) -> list[tuple[Tensor, Tensor]]:
    g = torch.Generator().manual_seed(3)
    return [(torch.randn(8, 6, generator=g), torch.randn(8, 1, generator=g)) for _ in range(steps)]


def window_loss(model: nn.Module, x: Tensor, y: Tensor, fp16: bool) -> Tensor:
    with torch.autocast("cpu", dtype=torch.float16, enabled=fp16):
        return (model(x).float() - y).pow(2).mean()


# what each step's loss gets: "nan-grad" poisons the gradients (the fp16 scaler overflows),
# "nan-loss" only the loss checked (the gradients stay finite: a "nonfinite" skip)
PLAN = ["nan-grad", "ok", "ok", "nan-loss", "ok", "nan-grad", "ok", "inf-loss", "ok"]


def losses_for(
    model: nn.Module, x: Tensor, y: Tensor, kind: str, fp16: bool
) -> tuple[Tensor, Tensor]:
    """(the loss to backward, the loss the skip check sees)."""
    loss = window_loss(model, x, y, fp16)
    if kind == "nan-grad":
        loss = loss * NAN
    checked = loss.detach()
    if kind == "nan-loss":
        checked = checked + NAN
    if kind == "inf-loss":
        checked = checked + math.inf
    return loss, checked


def host_update(
    optimizer: torch.optim.Optimizer,
    params: list[nn.Parameter],
    checked: Tensor,
    scaler: torch.amp.GradScaler | None,
    clip: float | None,
) -> str | None:
    """The hand-written loop's update, deciding on the host: unscale, norm (clip), skip if
    the scaler overflowed or norm + loss is not finite, else step; update the scaler."""
    if scaler is not None:
        scaler.unscale_(optimizer)
    grads = [p.grad for p in params if p.grad is not None]
    if clip is None:
        norm = torch.nn.utils.get_total_norm(grads, 2.0, foreach=True)
    else:
        norm = torch.nn.utils.clip_grad_norm_(params, clip, foreach=True)
    overflow = 0.0
    if scaler is not None:
        state = scaler._per_optimizer_states[id(optimizer)]
        overflow = sum(v.item() for v in state["found_inf_per_device"].values())
    skipped = None
    if overflow:
        skipped = SKIP_AMP_OVERFLOW
    elif not math.isfinite((norm + checked).item()):
        skipped = SKIP_NONFINITE
    else:
        optimizer.step()
    if scaler is not None:
        scaler.update()
    return skipped


def assert_same_state(a: torch.optim.Optimizer, b: torch.optim.Optimizer) -> None:
    sa, sb = a.state_dict()["state"], b.state_dict()["state"]
    assert sa.keys() == sb.keys()
    for key in sa:
        assert sa[key].keys() == sb[key].keys()
        for name in sa[key]:
            assert torch.equal(sa[key][name], sb[key][name]), (key, name)


def run_both_loops(name: str, fp16: bool, clip: float | None, plan: list[str]) -> list[str | None]:
    """Run ``plan`` through the hand-written host loop and through ``update_on_device`` from
    the same start, asserting after every update that the skip decision, the parameters, the
    optimizer state and the scaler are the same bit for bit; return the skips."""
    host_model = TwoLayers()
    device_model = copy.deepcopy(host_model)
    host_params = list(host_model.parameters())
    device_params = list(device_model.parameters())
    host_opt, device_opt = OPTIMIZERS[name](host_params), OPTIMIZERS[name](device_params)
    host_scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8) if fp16 else None
    device_scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8) if fp16 else None
    skips = []
    for kind, (x, y) in zip(plan, data(len(plan)), strict=True):
        loss, checked = losses_for(host_model, x, y, kind, fp16)
        (loss if host_scaler is None else host_scaler.scale(loss)).backward()
        host_skipped = host_update(host_opt, host_params, checked, host_scaler, clip)
        host_opt.zero_grad()
        loss, checked = losses_for(device_model, x, y, kind, fp16)
        (loss if device_scaler is None else device_scaler.scale(loss)).backward()
        result = update_on_device(
            device_opt, loss_sum=checked, scaler=device_scaler, grad_clip=clip
        )
        device_opt.zero_grad()
        report = StepReport(step_num=1, real_step=1, skipped=result.code, lr=0.01)
        assert report.skipped == host_skipped, kind
        skips.append(host_skipped)
        assert all(torch.equal(p, q) for p, q in zip(host_params, device_params, strict=True))
        assert_same_state(host_opt, device_opt)
        if host_scaler is not None and device_scaler is not None:
            assert host_scaler.state_dict() == device_scaler.state_dict()
    return skips


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("fp16", [False, True])
@pytest.mark.parametrize("clip", [None, 0.05])
def test_bit_identical_to_the_hand_loop_that_decides_on_the_host(
    name: str, fp16: bool, clip: float | None
) -> None:
    skips = run_both_loops(name, fp16, clip, PLAN)
    assert skips[0] is not None and skips[1] is None  # a skipped first update, then applied
    want = SKIP_AMP_OVERFLOW if fp16 else SKIP_NONFINITE
    assert skips == [want, None, None, SKIP_NONFINITE, None, want, None, SKIP_NONFINITE, None]


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(list(OPTIMIZERS)),
    fp16=st.booleans(),
    clip=st.sampled_from([None, 0.05, 10.0]),
    plan=st.lists(st.sampled_from(["ok", "nan-grad", "nan-loss", "inf-loss"]), max_size=6),
)
def test_any_plan_is_bit_identical_to_the_host_loop(
    name: str, fp16: bool, clip: float | None, plan: list[str]
) -> None:
    run_both_loops(name, fp16, clip, plan)


@pytest.mark.parametrize("fp16", [False, True])
@pytest.mark.parametrize("clip", [None, 1.0])
def test_zero_host_syncs_per_update_with_fused_adamw(fp16: bool, clip: float | None) -> None:
    model = TwoLayers()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8) if fp16 else None
    reads: list[list[str]] = []
    codes = []
    for kind, (x, y) in zip(["ok", *PLAN], data(len(PLAN) + 1), strict=True):
        loss, checked = losses_for(model, x, y, kind, fp16)
        (loss if scaler is None else scaler.scale(loss)).backward()
        with counting_host_syncs() as syncs:
            result = update_on_device(opt, loss_sum=checked, scaler=scaler, grad_clip=clip)
            report = StepReport(
                step_num=1, real_step=1, skipped=result.code, lr=0.001, grad_norm=result.grad_norm
            )
        opt.zero_grad()
        reads.append(syncs.reads)
        codes.append(report.as_dict()["skipped"])
    # the first update creates the optimizer's state: decided on the host (one read)
    assert reads[0] == ["item"]
    assert all(r == [] for r in reads[1:]), reads
    assert codes == [0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_a_skipped_first_update_creates_no_state(name: str) -> None:
    """Until the optimizer has its state the decision is read on the host (one read), so a
    skipped first update creates none; SGD without momentum has none to create, Adagrad
    creates its state at construction: no read for them."""
    model = TwoLayers()
    opt = OPTIMIZERS[name](model.parameters())
    creates_state_lazily = name not in ("SGD", "Adagrad")
    assert state_pending(opt) is False  # no gradients yet
    loss = model(torch.ones(2, 6)).sum()
    (loss * NAN).backward()
    assert state_pending(opt) is creates_state_lazily
    before = snapshot(model, opt, None)
    with counting_host_syncs() as syncs:
        result = update_on_device(opt, loss_sum=loss.detach())
    assert syncs.reads == (["item"] if creates_state_lazily else [])
    assert result.code.item() == 1
    assert same(snapshot(model, opt, None), before)


def test_supports_device_skip_follows_torchs_amp_protocol() -> None:
    p = [nn.Parameter(torch.ones(2))]
    for make in OPTIMIZERS.values():
        assert supports_device_skip(make(p))
    assert not supports_device_skip(torch.optim.AdamW(p))
    assert not supports_device_skip(torch.optim.AdamW(p, foreach=True))
    assert not supports_device_skip(torch.optim.Adam(p, capturable=True))
    assert not supports_device_skip(object())

    class ReadsTheScaler(torch.optim.SGD):
        """The older protocol: step(grad_scaler=...) reads the scaler itself."""

        def __init__(self, params: Any) -> None:
            super().__init__(params, lr=0.1)
            self._step_supports_amp_scaling = True

        def step(self, closure: Any = None, grad_scaler: Any = None) -> Any:  # type: ignore[override]
            return super().step(closure)

    assert not supports_device_skip(ReadsTheScaler(p))


def snapshot(model: nn.Module, opt: torch.optim.Optimizer, scaler: Any) -> Any:
    return (
        [p.detach().clone() for p in model.parameters()],
        [None if p.grad is None else p.grad.clone() for p in model.parameters()],
        copy.deepcopy(opt.state_dict()),
        None if scaler is None else copy.deepcopy(scaler.state_dict()),
    )


def same(a: Any, b: Any) -> bool:
    if isinstance(a, Tensor):
        return (  # bitwise, NaNs included
            isinstance(b, Tensor)
            and a.shape == b.shape
            and a.dtype == b.dtype
            and torch.equal(a.reshape(-1).view(torch.uint8), b.reshape(-1).view(torch.uint8))
        )
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.mark.parametrize(
    ("make", "given", "message"),
    [
        (lambda p: torch.optim.AdamW(p), {}, r"AdamW with fused=None \(pass fused=True\)"),
        (lambda p: torch.optim.AdamW(p, fused=True), {"grad_clip": 0}, "grad_clip must be > 0"),
        (lambda p: torch.optim.AdamW(p, fused=True), {"grad_clip": NAN}, "grad_clip must be"),
        (lambda p: torch.optim.AdamW(p, fused=True), {"grad_norm_type": -1}, "grad_norm_type"),
        (lambda p: torch.optim.AdamW(p, fused=True), {"loss_sum": torch.ones(2)}, "loss_sum"),
        (lambda p: torch.optim.AdamW(p, fused=True), {"loss_sum": 1.0}, "loss_sum"),
        (lambda p: torch.optim.AdamW(p, fused=True), {"scaler": "fp16"}, "scaler must be"),
    ],
)
def test_refusals_leave_everything_untouched(
    make: Callable[[Any], torch.optim.Optimizer], given: dict[str, Any], message: str
) -> None:
    model = TwoLayers()
    opt = make(model.parameters())
    scaler = torch.amp.GradScaler("cpu")
    scaler.scale(model(torch.ones(2, 6)).sum()).backward()
    before = snapshot(model, opt, scaler)
    with pytest.raises(ValueError, match=message):
        update_on_device(opt, **{"scaler": scaler, **given})
    assert same(snapshot(model, opt, scaler), before)
    scaler.unscale_(opt)  # the scaler was not unscaled by the refused call


def test_a_found_inf_already_handed_over_is_refused_untouched() -> None:
    model = TwoLayers()
    opt = torch.optim.AdamW(model.parameters(), fused=True)
    model(torch.ones(2, 6)).sum().backward()
    opt.found_inf = torch.zeros(())  # type: ignore[attr-defined]
    before = snapshot(model, opt, None)
    with pytest.raises(ValueError, match="already holds a 'found_inf'"):
        update_on_device(opt)
    with pytest.raises(ValueError, match="already holds a 'found_inf'"):
        step_unless_skipped(opt, torch.tensor(0))
    assert same(snapshot(model, opt, None), before)


def test_step_unless_skipped_refuses_an_optimizer_without_the_protocol() -> None:
    opt = torch.optim.SGD([nn.Parameter(torch.ones(2))], lr=0.1)
    with pytest.raises(ValueError, match=r"SGD with fused=None \(pass fused=True\)"):
        step_unless_skipped(opt, torch.tensor(0))


@given(
    check=st.sampled_from([0.0, 1.5, 1e30, NAN, math.inf, -math.inf]),
    overflow=st.sampled_from([None, 0.0, 1.0, 2.0]),
)
def test_skip_code_is_the_host_rule(check: float, overflow: float | None) -> None:
    code = skip_code(
        torch.tensor(check), None if overflow is None else torch.tensor(overflow), False
    )
    want = 2 if overflow else (0 if math.isfinite(check) else 1)
    assert code.dtype == torch.int64 and code.shape == () and code.item() == want
