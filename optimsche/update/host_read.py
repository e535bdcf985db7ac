"""The one host-device sync of an update: what it reads, in one ``.item()``/``.tolist()``."""

from __future__ import annotations

import torch
from torch import Tensor

from optimsche.parallel.distributed import all_reduce_sum_


def read_update_values(
    check: Tensor, overflow: Tensor | None, items: Tensor | None, distributed: bool
) -> tuple[float, float, float | None]:
    """``(check, overflow, items)`` read back to the host in one sync.

    ``check`` is the gradient norm plus the window's losses (finite iff all are); ``overflow``
    the fp16 scaler's inf flag (``None`` without a scaler, read as 0.0); both are summed over
    ranks first when ``distributed``, so that every rank decides alike. ``items`` is the
    window's item total, already summed over ranks (``None`` without ``num_items``); it is
    stacked in float64 (exact up to 2^53 items) with the others.
    """
    flags = check if overflow is None else torch.stack([check.float(), overflow])
    if distributed:
        all_reduce_sum_(flags)
    if items is None:
        if overflow is None:
            return flags.item(), 0.0, None
        check_value, overflow_value = flags.tolist()
        return check_value, overflow_value, None
    values = torch.cat(
        [flags.reshape(-1).double(), items.reshape(1).to(device=flags.device, dtype=torch.float64)]
    ).tolist()
    return values[0], values[1] if overflow is not None else 0.0, values[-1]
