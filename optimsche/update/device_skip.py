"""An update whose skip decision stays on the device: no host sync with a fused optimizer.

The host path of an update reads one value back (is the norm plus the window's losses
finite? did the fp16 ``GradScaler`` overflow?) and calls ``optimizer.step()`` only when the
update is applied. An optimizer that takes torch's AMP protocol
(``optimizer._step_supports_amp_scaling``: ``Adam``/``AdamW``/``SGD``/``Adagrad`` with
``fused=True``, on CPU too) can take that decision itself: ``GradScaler.step`` hands it a
``found_inf`` tensor (and, for still-scaled gradients, a ``grad_scale``) as attributes, and
its fused kernel leaves parameters and state untouched where ``found_inf`` is 1 (the step
count is raised, then lowered again). This module makes the shell's own decision that
``found_inf``:

* ``nonfinite = not isfinite(norm + Σ losses)`` (the host path's check) and ``overflow`` (the
  scaler's inf flag after ``unscale_``), stacked and, under DDP/FSDP, summed over ranks with
  one all-reduce (every rank decides alike, no host read);
* the skip code ``where(overflow > 0, 2, nonfinite > 0)`` (0 applied, 1 ``"nonfinite"``,
  2 ``"amp_overflow"``: :data:`optimsche.step_report.SKIP_CODES`, the host path's priority),
  and ``found_inf = (code != 0)`` in float32 for the optimizer.

Gradients are unscaled by ``scaler.unscale_`` before the norm and the clipping (as on the
host path, so that both give bit-identical parameters and state), hence no ``grad_scale`` is
handed over: the same as ``GradScaler.step`` after an explicit ``unscale_``. The scaler's
``update()`` reads its own found-inf flags on the device.

**Lazily created state.** A skipped first step would make the optimizer create its state
(zeros where the host path creates none, and fused ``SGD`` with momentum an *uninitialised*
momentum buffer, a torch quirk): so while some parameter with a gradient still has no
optimizer state, the update takes the host decision (one ``.item()`` of the skip code) and
calls ``optimizer.step()`` only if applied. From the first applied update on, none.
"""

from __future__ import annotations

import inspect

import attrs
import torch
from torch import Tensor
from torch.optim import Optimizer

from optimsche.parallel.distributed import all_reduce_sum_, as_full_tensor
from optimsche.update.amp import found_inf
from optimsche.update.clipping import clip_by_norm_, total_norm
from schedules.validation import require_order, require_positive

_TAKES_GRAD_SCALER_KWARG: dict[type, bool] = {}


def supports_device_skip(optimizer: object) -> bool:
    """Whether ``optimizer`` takes torch's AMP protocol by attributes: it sets
    ``_step_supports_amp_scaling`` (``fused=True`` ``Adam``, ``AdamW``, ``SGD``, ``Adagrad``)
    and its ``step`` has no ``grad_scaler`` parameter (the older protocol, in which the
    optimizer reads the scaler itself)."""
    if not isinstance(optimizer, Optimizer):
        return False
    if not getattr(optimizer, "_step_supports_amp_scaling", False):
        return False
    kind = type(optimizer)
    takes_scaler = _TAKES_GRAD_SCALER_KWARG.get(kind)
    if takes_scaler is None:
        takes_scaler = "grad_scaler" in inspect.signature(optimizer.step).parameters
        _TAKES_GRAD_SCALER_KWARG[kind] = takes_scaler
    return not takes_scaler


def skip_code(check: Tensor, overflow: Tensor | None, distributed: bool) -> Tensor:
    """The update's skip code, a 0-dim int64 tensor on ``check``'s device, without a host
    sync: 2 if the scaler's ``overflow`` flag is set, else 1 if ``check`` (the gradient norm
    plus the window's losses) is not finite, else 0. With ``distributed`` both flags are first
    summed over ranks (one all-reduce), so every rank gets the same code."""
    flags = torch.stack(
        [
            torch.isfinite(check).logical_not().to(torch.float32).reshape(()),
            torch.zeros((), dtype=torch.float32, device=check.device)
            if overflow is None
            else overflow.to(device=check.device, dtype=torch.float32).reshape(()),
        ]
    )
    if distributed:
        all_reduce_sum_(flags)
    return torch.where(flags[1] > 0, 2, (flags[0] > 0).to(torch.int64))


def _creates_state(optimizer: Optimizer, group: dict[str, object]) -> bool:
    """Whether a step of ``optimizer`` creates per-parameter state for ``group`` (every
    optimizer does, except ``SGD`` without momentum)."""
    return not (isinstance(optimizer, torch.optim.SGD) and group.get("momentum", 0) == 0)


def state_pending(optimizer: Optimizer) -> bool:
    """Whether some parameter with a gradient has no optimizer state yet, which its next step
    would create (module doc, "Lazily created state")."""
    state = optimizer.state
    for group in optimizer.param_groups:
        if _creates_state(optimizer, group):
            for param in group["params"]:
                if param.grad is not None and not state.get(param):
                    return True
    return False


def step_unless_skipped(optimizer: Optimizer, code: Tensor) -> None:
    """``optimizer.step()`` where ``code`` (:func:`skip_code`) is 0; parameters and state
    untouched otherwise. No host sync when the optimizer :func:`supports_device_skip` and has
    its state (``found_inf = (code != 0)`` is handed to its fused kernel); one ``.item()``
    of ``code`` otherwise (module doc)."""
    if not supports_device_skip(optimizer):
        raise ValueError(
            f"step_unless_skipped needs an optimizer that takes torch's AMP protocol "
            f"(fused=True Adam, AdamW, SGD or Adagrad), got {type(optimizer).__name__}"
            f"{_fused_hint(optimizer)}"
        )
    _refuse_a_pending_handover(optimizer)
    if state_pending(optimizer):
        if code.item() == 0:
            optimizer.step()
        return
    optimizer.found_inf = (code != 0).to(torch.float32)  # type: ignore[attr-defined]
    try:
        optimizer.step()
    finally:
        del optimizer.found_inf  # type: ignore[attr-defined]


def _refuse_a_pending_handover(optimizer: Optimizer) -> None:
    for name in ("found_inf", "grad_scale"):
        if hasattr(optimizer, name):
            raise ValueError(
                f"the optimizer already holds a {name!r} attribute (is a GradScaler.step "
                f"running?); the device-side skip sets found_inf itself"
            )


def _fused_hint(optimizer: object) -> str:
    if isinstance(optimizer, Optimizer) and "fused" in optimizer.defaults:
        return f" with fused={optimizer.defaults['fused']!r} (pass fused=True)"
    return ""


@attrs.frozen
class DeviceUpdate:
    """What :func:`update_on_device` did, on the device: ``code`` the skip code (0 applied,
    1 non-finite, 2 fp16 overflow; pass it as ``StepReport(skipped=code)``) and
    ``grad_norm`` the total gradient norm before clipping."""

    code: Tensor
    grad_norm: Tensor


def update_on_device(
    optimizer: Optimizer,
    *,
    loss_sum: Tensor | None = None,
    scaler: torch.amp.GradScaler | None = None,
    grad_clip: float | None = None,
    grad_norm_type: float = 2.0,
    distributed: bool = False,
    update_scaler: bool = True,
) -> DeviceUpdate:
    """One whole update of ``optimizer`` from the gradients its parameters hold, the skip
    decision on the device: with ``scaler``, ``scaler.unscale_(optimizer)``; the total norm
    ``‖(‖g₁‖, …, ‖gₙ‖)‖`` (``grad_norm_type``); with ``grad_clip``, every gradient times
    ``min(grad_clip / (norm + 1e-6), 1)``; the :func:`skip_code` of ``norm + loss_sum`` and
    the scaler's overflow (summed over ranks with ``distributed``); the step unless skipped
    (:func:`step_unless_skipped`); then, with ``scaler`` and ``update_scaler``,
    ``scaler.update()``. The gradients are left in place (zero them as usual).

    No host sync with an optimizer that :func:`supports_device_skip` once it has its state;
    parameters and state bit-identical to the host path (read the code, then step or not).
    Everything is checked before anything changes.
    """
    if not supports_device_skip(optimizer):
        raise ValueError(
            f"update_on_device needs an optimizer that takes torch's AMP protocol "
            f"(fused=True Adam, AdamW, SGD or Adagrad), got {type(optimizer).__name__}"
            f"{_fused_hint(optimizer)}"
        )
    clip = None if grad_clip is None else require_positive("grad_clip", grad_clip)
    norm_type = require_order("grad_norm_type", grad_norm_type)
    if loss_sum is not None and (not isinstance(loss_sum, Tensor) or loss_sum.numel() != 1):
        raise ValueError(f"loss_sum must be a one-element Tensor or None, got {loss_sum!r}")
    if scaler is not None and not isinstance(scaler, torch.amp.GradScaler):
        raise ValueError(f"scaler must be a torch.amp.GradScaler or None, got {scaler!r}")
    _refuse_a_pending_handover(optimizer)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    grads = [p.grad for p in params if p.grad is not None]
    device = grads[0].device if grads else params[0].device
    one_device = all(g.device == device for g in grads)
    if scaler is not None and not scaler.is_enabled():
        scaler = None  # a disabled scaler does nothing
    if scaler is not None:
        scaler.unscale_(optimizer)
    norm = total_norm(grads, norm_type, device, one_device)
    if distributed:
        norm = as_full_tensor(norm)  # FSDP2: a sharded norm, reduced here
    if clip is not None:
        clip_by_norm_(grads, clip, norm, one_device)
    check = norm if loss_sum is None else norm + loss_sum.detach().to(device).reshape(())
    overflow = None if scaler is None else found_inf(scaler, optimizer, device)
    code = skip_code(check, overflow, distributed)
    try:
        step_unless_skipped(optimizer, code)
    finally:
        if scaler is not None and update_scaler:
            scaler.update()
    return DeviceUpdate(code=code, grad_norm=norm)
