"""Automatic mixed precision for the shell: which dtype, which GradScaler, and its inf check.

``use_amp`` chooses the autocast dtype:

* ``False`` / ``None``: no AMP;
* ``True``, ``"fp16"`` or ``"float16"``: float16, with a ``torch.amp.GradScaler`` on the
  parameters' device type (SpeeChain's ``use_amp=True`` meant a GradScaler). Gradients are
  unscaled before clipping; an overflow skips the update and lowers the scale;
* ``"bf16"`` or ``"bfloat16"``: bfloat16, no scaler (its exponent range is float32's).

The same choice holds on every device (CPU included: torch 2.13 runs float16 autocast and the
GradScaler on CPU), so a run is reproducible across machines; say ``"bf16"`` to get bfloat16.

The shell does not own the forward pass. Run it inside :meth:`OptimScheduler.autocast`
(``torch.autocast`` with this dtype and device type, or a no-op without AMP) or inside your
own ``torch.autocast``.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor
from torch.optim import Optimizer

_FLOAT16_NAMES = ("fp16", "float16")
_BFLOAT16_NAMES = ("bf16", "bfloat16")


def resolve_amp_dtype(use_amp: object) -> torch.dtype | None:
    """The autocast dtype ``use_amp`` asks for, or ``None`` for no AMP (see the module doc)."""
    if use_amp is None or use_amp is False:
        return None
    if use_amp is True or use_amp in _FLOAT16_NAMES:
        return torch.float16
    if use_amp in _BFLOAT16_NAMES:
        return torch.bfloat16
    raise ValueError(
        f"use_amp must be False, True (= 'fp16'), 'fp16'/'float16' or 'bf16'/'bfloat16', "
        f"got {use_amp!r}"
    )


def amp_name(dtype: torch.dtype | None) -> str | None:
    """``"fp16"``, ``"bf16"`` or ``None``: how reprs and checkpoints name an AMP dtype."""
    if dtype is None:
        return None
    return "fp16" if dtype == torch.float16 else "bf16"


def make_scaler(dtype: torch.dtype | None, device_type: str) -> torch.amp.GradScaler | None:
    """A ``GradScaler`` for float16 AMP on ``device_type``; ``None`` for bf16 or no AMP."""
    if dtype != torch.float16:
        return None
    return torch.amp.GradScaler(device_type)


def autocast(
    dtype: torch.dtype | None, device_type: str
) -> contextlib.AbstractContextManager[None]:
    """``torch.autocast(device_type, dtype)``, or a no-op context when ``dtype`` is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type, dtype=dtype)


def found_inf(scaler: torch.amp.GradScaler, optimizer: Optimizer, device: torch.device) -> Tensor:
    """After ``scaler.unscale_(optimizer)``: 1.0 if it met an inf/NaN gradient, else 0.0.

    A float32 0-dim tensor on ``device``, computed without a host sync. Reads the per-optimizer
    record the scaler keeps for ``update()`` (``GradScaler._per_optimizer_states``, torch's own
    layout: the public ``step()`` would read it with one ``.item()`` per device, which the
    shell folds into its single sync per update instead).
    """
    state = scaler._per_optimizer_states[id(optimizer)]
    per_device: list[Tensor] = list(state["found_inf_per_device"].values())
    if not per_device:
        return torch.zeros((), dtype=torch.float32, device=device)
    total = per_device[0].to(device, non_blocking=True)
    for flag in per_device[1:]:
        total = total + flag.to(device, non_blocking=True)
    return total


def scale_snapshot(scaler: torch.amp.GradScaler) -> Tensor | None:
    """A copy of the scaler's current scale as a device tensor (no host sync), or ``None``
    before its first ``scale()``. Reads ``GradScaler._scale``, which ``update()`` changes in
    place (hence the copy)."""
    scale: Tensor | None = scaler._scale
    return None if scale is None else scale.detach().clone()


def rescale_gradients_(
    grads: list[Tensor], scaler: torch.amp.GradScaler, before: Tensor | None
) -> None:
    """Multiply ``grads`` (scaled by the scale ``before``) in place by ``scale / before``, so
    that they carry the scaler's current scale (see :mod:`optimsche.update.partial_window`)."""
    scale: Tensor | None = scaler._scale
    if before is None or scale is None or not grads:
        return
    ratio = scale / before
    for grad in grads:
        grad.mul_(ratio.to(device=grad.device, dtype=grad.dtype))
