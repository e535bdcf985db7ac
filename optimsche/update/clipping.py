"""Gradient norm and norm clipping over one optimizer's own gradients, without host syncs.

The same arithmetic as ``torch.nn.utils.clip_grad_norm_`` (per-tensor norms, then the norm of
those; clip coefficient ``min(max_norm / (norm + 1e-6), 1)`` multiplied into every gradient),
but over the gradient list the shell already holds, with one fused ``_foreach`` call per
device instead of torch's per-call grouping. No value is read back to the host: a non-finite
norm gives a non-finite coefficient, and the shell decides to skip the update from the norm
afterwards.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _by_device(tensors: list[Tensor]) -> dict[torch.device, list[Tensor]]:
    grouped: dict[torch.device, list[Tensor]] = {}
    for tensor in tensors:
        grouped.setdefault(tensor.device, []).append(tensor)
    return grouped


def total_norm(
    grads: list[Tensor], norm_type: float, device: torch.device, one_device: bool
) -> Tensor:
    """``‖(‖g₁‖, …, ‖gₙ‖)‖`` in the ``norm_type`` norm: the norm of all of ``grads`` viewed as
    one vector, a 0-dim tensor on ``device`` (0 for an empty list).

    ``one_device`` says every gradient lives on ``device`` (the common case, one fused call).
    """
    if not grads:
        return torch.zeros((), device=device)
    norms: list[Tensor]
    if one_device:
        norms = list(torch._foreach_norm(grads, norm_type))
    else:
        norms = []
        for group in _by_device(grads).values():
            norms.extend(norm.to(device) for norm in torch._foreach_norm(group, norm_type))
    total: Tensor = torch.linalg.vector_norm(torch.stack(norms), norm_type)
    return total


def clip_by_norm_(grads: list[Tensor], max_norm: float, norm: Tensor, one_device: bool) -> None:
    """Scale ``grads`` in place by ``min(max_norm / (norm + 1e-6), 1)`` (torch's formula).

    ``norm`` is their total norm from :func:`total_norm`. Gradients whose norm is already at
    most ``max_norm`` are multiplied by 1 (unchanged values).
    """
    if not grads:
        return
    coefficient = torch.clamp(max_norm / (norm + 1e-6), max=1.0)
    if one_device:
        torch._foreach_mul_(grads, coefficient)
        return
    for device, group in _by_device(grads).items():
        torch._foreach_mul_(group, coefficient.to(device))
