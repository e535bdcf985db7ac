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
    step: int | None = None,
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

    ``step`` (the micro-step of this update, given when ``distributed``): the ranks' steps are
    compared in the same all-reduce (the sums of ``s`` and ``s²``, ``s = step mod 1000003``:
    equal on every rank iff ``world · Σs² = (Σs)²``); ranks at different micro-steps (a run
    that drifted) raise :class:`~optimsche.parallel.rank_agreement.RankDisagreement` on every
    rank, naming each rank's step (gathered only then).
    """
    if overflow is None and least is None and items is None and not distributed:
        return check.item(), 0.0, None, None  # the common case: the check alone, read as is
    parts = [check.reshape(1).double()]
    if overflow is not None:
        parts.append(overflow.reshape(1).to(check.device, torch.float64))
    if least is not None:
        parts.append(torch.clamp(least.reshape(1).to(check.device), max=0.0))
    compared = distributed and step is not None
    if compared:
        s = float((step or 0) % _STEP_MODULUS)
        parts.append(torch.tensor([s, s * s], dtype=torch.float64, device=check.device))
    flags = parts[0] if len(parts) == 1 else torch.cat(parts)
    if distributed:
        # one all-reduce: the check, the overflow flag, min(0, least), the steps compared
        all_reduce_sum_(flags)
    if items is None:
        if len(parts) == 1:
            return flags.item(), 0.0, None, None
        read = flags.tolist()
    else:
        total = items.reshape(1).to(device=flags.device, dtype=torch.float64)
        read = torch.cat([flags, total]).tolist()
    at = 1
    overflow_value = 0.0
    if overflow is not None:
        overflow_value, at = read[at], at + 1
    least_value = None
    if least is not None:
        least_value, at = read[at], at + 1
    if compared:
        _check_same_step(step or 0, read[at], read[at + 1], check.device)
    return read[0], overflow_value, read[-1] if items is not None else None, least_value


_STEP_MODULUS = 1_000_003
"""Steps are compared modulo this prime, so that their squares stay exact in float64."""


def _check_same_step(step: int, total: float, squares: float, device: torch.device) -> None:
    """Every rank is at the same micro-step iff ``world · Σs² = (Σs)²`` (Cauchy–Schwarz);
    otherwise gather each rank's step (every rank is here, so the collective pairs up) and
    raise the same :class:`RankDisagreement` on every rank."""
    import torch.distributed as dist

    world = dist.get_world_size()
    if world * round(squares) == round(total) ** 2:  # exact: Python ints
        return
    from optimsche.parallel.rank_agreement import RankDisagreement

    steps = [torch.zeros((), dtype=torch.int64, device=device) for _ in range(world)]
    dist.all_gather(steps, torch.tensor(step, dtype=torch.int64, device=device))
    values = ", ".join(f"rank {rank} = {int(s)}" for rank, s in enumerate(steps))
    raise RankDisagreement(
        f"the ranks reached an update at different micro-steps (step_num: {values}): their "
        f"collectives no longer pair up; every rank must call step() alike (the same step_num "
        f"and accum_grad; flush() alike)"
    )
