"""The one host-device sync of an update: what it reads, in one ``.item()``/``.tolist()``."""

from __future__ import annotations

import torch
from torch import Tensor

from optimsche.parallel.distributed import all_reduce_sum_


def read_update_values(
    check: Tensor,
    overflow: Tensor | None,
    items: Tensor | None,
    distributed: bool,
    *,
    least: Tensor | None = None,
) -> tuple[float, float, float | None, float | None]:
    """``(check, overflow, items, least)`` read back to the host in one sync.

    ``check`` is the gradient norm plus the window's losses (finite iff all are); ``overflow``
    the fp16 scaler's inf flag (``None`` without a scaler, read as 0.0); both are summed over
    ranks first when ``distributed``, so that every rank decides alike. ``items`` is the
    window's item total, already summed over ranks (``None`` without ``num_items``); it is
    stacked in float64 (exact up to 2^53 items) with the others. ``least`` is the least items
    of one micro-step on this rank (a float64 0-dim tensor, ``None`` without Tensor items),
    all-reduced as ``min(0, least)`` summed over ranks (negative iff some rank's is), read in
    the same sync.
    """
    parts = [check.reshape(1).double()]
    if overflow is not None:
        parts.append(overflow.reshape(1).to(check.device, torch.float64))
    if least is not None:
        parts.append(torch.clamp(least.reshape(1).to(check.device), max=0.0))
    flags = parts[0] if len(parts) == 1 else torch.cat(parts)
    if distributed:
        all_reduce_sum_(flags)  # one all-reduce: the check, the overflow flag, min(0, least)
    if items is None:
        if len(parts) == 1:
            return flags.item(), 0.0, None, None
        read = flags.tolist()
    else:
        total = items.reshape(1).to(device=flags.device, dtype=torch.float64)
        read = torch.cat([flags, total]).tolist()
    check_value = read[0]
    overflow_value = read[1] if overflow is not None else 0.0
    least_value = read[len(parts) - 1] if least is not None else None
    return check_value, overflow_value, read[-1] if items is not None else None, least_value
