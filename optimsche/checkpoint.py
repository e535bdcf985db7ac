"""The checkpoint format of an OptimScheduler: writing it, and checking/converting it on load.

``OptimScheduler.state_dict()`` is a plain dict (loads with ``torch.load(weights_only=True)``)::

    {
      "version": 1,
      "optimizer_type": "AdamW",                  # class name of the torch optimizer
      "param_shapes": [[[64, 32], [64]], ...],    # per param group, per parameter
      "optimizer": optimizer.state_dict(),
      "scaler": GradScaler.state_dict() or None,  # None without fp16 AMP
      "amp": "fp16" | "bf16" | None,
      "counters": {"step_num": n, "accum_grad": a, "step_per_update": k, "lr": float},
      "rank": r, "world_size": w,                 # of the run that saved it (0 and 1 when
                                                  # the shell is not distributed)
      "window": None, or mid-window {
          "grads": [Tensor | None per parameter],  # copies of the partial gradients
          "losses": [Tensor per micro-step],       # the window's losses (finiteness check)
          "items": int | Tensor | None,            # num_items counted so far
      },
      "clock": {"items_seen": n, "epoch_num": e},  # items seen over all ranks (0 without
                                                  # num_items), the last epoch (or None)
      "plateau": RuleState.as_dict() or None,  # the metric rule's state (its "kind" first)
      "group_factors": {"lr": [1.0, 10.0], "weight_decay": [1.0, 0.0], ...},
                                                  # per scheduled key, each param group's
                                                  # factor (optimsche.optimizer.group_rule)
    }

``"clock"`` and ``"plateau"`` came later in version 1: a checkpoint without them loads with
``items_seen = 0``, no last epoch, and the plateau rule's initial state. A plateau state loaded
into a shell without a plateau rule is refused.

**Group factors.** The per-group factors of the scheduled keys are computed from the
groups' initial values when the shell is built; the checkpoint records them and a load
restores them, so a resumed run keeps its ratios even when the shell was built around an
optimizer whose values had already changed (one that loaded its state first). Keys the
loading shell does not schedule are ignored; keys the checkpoint lacks (and checkpoints
written before ``"group_factors"`` existed) keep the factors the shell computed.

Like torch's own ``state_dict()``, the optimizer's tensors are references to live state (save
the dict before training on); the window's gradients are copies.

**One file per rank, or a window boundary.** Under DDP/FSDP the partial gradients of an open
window (and its item count) are the saving rank's *own*: they are all-reduced only at the
window's end. A mid-window checkpoint therefore belongs to one rank: save one file per rank
(``ckpt.rank{r}.pt``) and load each on the same rank of a run with the same world size.
Loading it on another rank or world size is refused with a ``ValueError``; a checkpoint taken
at a window boundary (``step_num % accum_grad == 0``, no ``"window"``) holds nothing per rank
and loads on any rank of any world size. (Checkpoints written before ``rank``/``world_size``
were recorded load without this check.)

Loading checks the checkpoint against the shell and refuses, with a ``ValueError`` saying
what differs, a checkpoint of another optimizer class, of other parameter counts or shapes, of
an unknown version, or with missing/ill-typed entries, a scaler state that lacks a key, or an
optimizer-state tensor whose shape does not fit its parameter
(:mod:`optimsche.optimizer.saved_state`). Everything is checked before anything is loaded, so
a refused checkpoint changes nothing. Three differences are *converted*:

* **other accum_grad**: allowed at a window boundary (``step_num % accum_grad_saved == 0``):
  the number of completed windows (the real step, which drives the schedule) is kept and the
  micro-step counter becomes ``windows · accum_grad``. Mid-window it is an error, since the
  partial gradients were scaled for the saved window length.
* **scaler present/absent**: a scaler state loaded into a shell without fp16 AMP is dropped
  (and saved partial gradients are divided by its scale); a checkpoint without one loaded into
  an fp16 shell starts the shell's fresh scaler (and saved partial gradients are multiplied by
  its initial scale).
* **SpeeChain's format** ``{"optimizer": ..., "scaler": ...}`` (no ``"version"``): the optimizer
  and scaler states are loaded (scaler converted as above) and the counter stays at 0; pass
  ``step_num`` to ``step()`` as SpeeChain's runner does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from optimsche.optimizer.saved_state import check_optimizer_state, check_scaler_state
from optimsche.update.accumulation import AccumulationWindow, Items
from schedules.rule_state import RuleState
from schedules.step_arithmetic import real_step
from schedules.validation import require_int, require_non_negative, require_number

CHECKPOINT_VERSION = 1
"""The version :func:`to_state_dict` writes and :func:`read_state_dict` reads."""

_KEYS = (
    "version",
    "optimizer_type",
    "param_shapes",
    "optimizer",
    "scaler",
    "amp",
    "counters",
    "rank",
    "world_size",
    "window",
    "clock",
    "plateau",
    "group_factors",
)
_OPTIONAL_KEYS = frozenset({"rank", "world_size", "clock", "plateau", "group_factors"})
_LEGACY_KEYS = frozenset({"optimizer", "scaler"})
_PREFIX = "OptimScheduler.load_state_dict"


def param_shapes(optimizer: Optimizer) -> list[list[list[int]]]:
    """The shape of every parameter, per param group, as plain lists of ints."""
    return [[list(p.shape) for p in group["params"]] for group in optimizer.param_groups]


def to_state_dict(
    *,
    optimizer: Optimizer,
    scaler: torch.amp.GradScaler | None,
    amp: str | None,
    step_num: int,
    accum_grad: int,
    step_per_update: int,
    lr: float,
    params: Sequence[nn.Parameter],
    window: AccumulationWindow,
    rank: int,
    world_size: int,
    items_seen: int | float = 0,
    epoch_num: float | None = None,
    plateau: RuleState | None = None,
    group_factors: Mapping[str, Sequence[float]] | None = None,
) -> dict[str, Any]:
    """The checkpoint of a shell in the format of the module doc, saved by ``rank`` of
    ``world_size`` processes."""
    window_state: dict[str, Any] | None = None
    if window.real_step:
        window_state = {
            "grads": [None if p.grad is None else p.grad.detach().clone() for p in params],
            "losses": [loss.clone() for loss in window.losses],
            "items": window.items.clone() if isinstance(window.items, Tensor) else window.items,
        }
    return {
        "version": CHECKPOINT_VERSION,
        "optimizer_type": type(optimizer).__name__,
        "param_shapes": param_shapes(optimizer),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else None,
        "amp": amp,
        "counters": {
            "step_num": step_num,
            "accum_grad": accum_grad,
            "step_per_update": step_per_update,
            "lr": lr,
        },
        "rank": rank,
        "world_size": world_size,
        "window": window_state,
        "clock": {"items_seen": items_seen, "epoch_num": epoch_num},
        "plateau": None if plateau is None else plateau.as_dict(),
        "group_factors": {key: list(factors) for key, factors in (group_factors or {}).items()},
    }


@attrs.frozen
class Restored:
    """A checked and converted checkpoint, ready for the shell to apply.

    ``lr`` is ``None`` for SpeeChain's format (the optimizer's loaded lr stands). ``grads`` is
    ``None`` when no window was open, else one entry per parameter of the shell (already
    converted to the shell's gradient scale). ``scaler`` is the scaler state to load, or ``None``
    to keep the shell's scaler (if any) as it is.
    """

    step_num: int
    lr: float | None
    optimizer: dict[str, Any]
    scaler: dict[str, Any] | None
    grads: list[Tensor | None] | None
    losses: list[Tensor]
    items: Items | None
    items_seen: int | float = 0
    epoch_num: float | None = None
    plateau: RuleState | None = None
    group_factors: dict[str, list[float]] | None = None
    """Per scheduled key, the factor of each param group; ``None`` when not recorded."""


def _fail(message: str) -> ValueError:
    return ValueError(f"{_PREFIX}: {message}")


def _field(name: str) -> str:
    """A field of the checkpoint as a ``require_*`` validator names it, so that its message
    starts as :func:`_fail`'s do."""
    return f"{_PREFIX}: {name}"


def _check_shapes(saved: object, optimizer: Optimizer) -> None:
    expected = param_shapes(optimizer)
    if not isinstance(saved, list) or not all(isinstance(group, list) for group in saved):
        raise _fail(f"'param_shapes' must be a list of lists of shapes, got {saved!r}")
    if len(saved) != len(expected):
        raise _fail(
            f"the checkpoint has {len(saved)} param group(s), this optimizer has {len(expected)}"
        )
    mismatches = []
    for g, (saved_group, own_group) in enumerate(zip(saved, expected, strict=True)):
        if len(saved_group) != len(own_group):
            raise _fail(
                f"param group {g}: the checkpoint has {len(saved_group)} parameters, this "
                f"optimizer has {len(own_group)}"
            )
        for i, (saved_shape, own_shape) in enumerate(zip(saved_group, own_group, strict=True)):
            if list(saved_shape) != own_shape:
                mismatches.append(
                    f"group {g} parameter {i}: checkpoint {tuple(saved_shape)}, "
                    f"model {tuple(own_shape)}"
                )
    if mismatches:
        more = f" (and {len(mismatches) - 3} more)" if len(mismatches) > 3 else ""
        raise _fail(f"parameter shapes differ: {'; '.join(mismatches[:3])}{more}")


def _scaler_state(saved: object) -> dict[str, Any] | None:
    if saved is None or (isinstance(saved, Mapping) and not saved):
        return None
    if not isinstance(saved, Mapping) or "scale" not in saved:
        raise _fail(f"'scaler' must be None or a GradScaler state_dict, got {saved!r}")
    check_scaler_state(saved, _PREFIX)
    return dict(saved)


def _grad_factor(saved_scaler: dict[str, Any] | None, scaler: torch.amp.GradScaler | None) -> float:
    """What to multiply saved partial gradients by to put them on the shell's scale."""
    if saved_scaler is not None and scaler is None:
        return 1.0 / float(saved_scaler["scale"])
    if saved_scaler is None and scaler is not None:
        return float(scaler.get_scale())
    return 1.0


def _read_window(
    saved: object, params: Sequence[nn.Parameter], factor: float
) -> tuple[list[Tensor | None], list[Tensor], Items | None]:
    if not isinstance(saved, Mapping) or set(saved) != {"grads", "losses", "items"}:
        raise _fail(f"'window' must be None or a dict with grads, losses, items; got {saved!r}")
    grads, losses, items = saved["grads"], saved["losses"], saved["items"]
    if not isinstance(grads, list) or len(grads) != len(params):
        count = len(grads) if isinstance(grads, list) else grads
        raise _fail(f"window grads: expected {len(params)} entries, one per parameter, got {count}")
    restored: list[Tensor | None] = []
    for i, (grad, param) in enumerate(zip(grads, params, strict=True)):
        if grad is None:
            restored.append(None)
            continue
        if not isinstance(grad, Tensor) or grad.shape != param.shape:
            shape = tuple(grad.shape) if isinstance(grad, Tensor) else grad
            raise _fail(f"window grads[{i}] has shape {shape}, its parameter {tuple(param.shape)}")
        grad = grad.to(device=param.device, dtype=param.dtype, copy=True)
        if factor != 1.0:
            grad.mul_(factor)
        restored.append(grad)
    if not isinstance(losses, list) or not losses or not all(isinstance(x, Tensor) for x in losses):
        raise _fail(f"window losses must be a non-empty list of tensors, got {losses!r}")
    if items is not None and not isinstance(items, Tensor):
        items = require_int(_field("window items"), items, 0)
    return restored, [loss.clone() for loss in losses], items


def _read_clock(saved: object) -> tuple[int | float, float | None]:
    """``(items_seen, epoch_num)`` of a ``"clock"`` entry (absent: ``(0, None)``)."""
    if saved is None:
        return 0, None
    if not isinstance(saved, Mapping) or set(saved) != {"items_seen", "epoch_num"}:
        raise _fail(f"'clock' must be a dict with items_seen and epoch_num, got {saved!r}")
    items_seen = saved["items_seen"]
    require_non_negative(_field("clock['items_seen']"), items_seen)
    epoch_num = saved["epoch_num"]
    if epoch_num is not None:
        require_number(_field("clock['epoch_num']"), epoch_num)
    return items_seen, epoch_num


def _read_plateau(
    saved: object, has_plateau: bool, plateau_kind: str | None = None
) -> RuleState | None:
    """The metric rule's state of a checkpoint, checked (``None`` when it holds none); with
    ``plateau_kind``, it must be a state of that rule."""
    if saved is None:
        return None
    if not has_plateau:
        raise _fail(
            "the checkpoint holds a reduce-on-plateau state, but this shell has no plateau "
            "rule (build it with plateau=... to resume it)"
        )
    try:
        state = RuleState.from_dict(saved)
    except ValueError as error:
        raise _fail(f"'plateau': {error}") from None
    if plateau_kind not in (None, state.KIND):
        raise _fail(
            f"'plateau': the checkpoint holds a {state.KIND!r} state, but this shell's plateau "
            f"rule is {plateau_kind!r}"
        )
    return state


def _group_factors(saved: object, groups: int) -> dict[str, list[float]] | None:
    """The checkpoint's ``"group_factors"``, checked: key -> one finite number >= 0 per param
    group (``groups`` of them)."""
    if saved is None:
        return None
    if not isinstance(saved, Mapping) or not all(isinstance(k, str) for k in saved):
        raise _fail(f"'group_factors' must map scheduled keys to lists of factors, got {saved!r}")
    factors: dict[str, list[float]] = {}
    for key, values in saved.items():
        if not isinstance(values, list):
            raise _fail(f"group_factors[{key!r}] must be a list of factors, got {values!r}")
        if len(values) != groups:
            raise _fail(
                f"group_factors[{key!r}] has {len(values)} factor(s), this optimizer has "
                f"{groups} param group(s)"
            )
        factors[key] = [
            require_non_negative(_field(f"group_factors[{key!r}][{g}]"), value)
            for g, value in enumerate(values)
        ]
    return factors


def _saved_process(state_dict: Mapping[str, Any]) -> tuple[int, int] | None:
    """The checkpoint's ``(rank, world_size)``, checked; ``None`` if it records neither."""
    if "rank" not in state_dict and "world_size" not in state_dict:
        return None
    saved_rank, saved_world = state_dict.get("rank"), state_dict.get("world_size")
    world = require_int(_field("'world_size'"), saved_world, 1)
    rank = require_int(_field(f"'rank' (world_size={world})"), saved_rank, 0, world - 1)
    return rank, world


def _check_same_process(
    saved: tuple[int, int] | None, step_num: int, rank: int, world_size: int
) -> None:
    """A mid-window checkpoint, saved by ``saved = (rank, world_size)``, loads only on that
    rank of that world size (see the module doc)."""
    if saved is None or saved == (rank, world_size):
        return
    raise _fail(
        f"the checkpoint was taken mid-window (micro-step {step_num}) by rank {saved[0]} of "
        f"{saved[1]} process(es); its partial gradients are that rank's own (not yet "
        f"all-reduced), so it cannot resume rank {rank} of {world_size}. Save and load one "
        f"file per rank (each rank loads its own), or checkpoint at a window boundary "
        f"(step_num % accum_grad == 0), which loads on any rank"
    )


def read_state_dict(
    state_dict: object,
    *,
    optimizer: Optimizer,
    scaler: torch.amp.GradScaler | None,
    accum_grad: int,
    step_per_update: int,
    params: Sequence[nn.Parameter],
    rank: int,
    world_size: int,
    has_plateau: bool = False,
    plateau_kind: str | None = None,
) -> Restored:
    """Check ``state_dict`` against the shell, loading on ``rank`` of ``world_size`` processes,
    and convert it (see the module doc)."""
    if not isinstance(state_dict, Mapping):
        raise _fail(f"expected a dict from OptimScheduler.state_dict(), got {type(state_dict)}")
    if "version" not in state_dict and set(state_dict) == _LEGACY_KEYS:
        saved_scaler = _scaler_state(state_dict["scaler"])
        if not isinstance(state_dict["optimizer"], Mapping):
            raise _fail("'optimizer' must be a torch optimizer state_dict")
        check_optimizer_state(state_dict["optimizer"], optimizer, _PREFIX)
        return Restored(
            step_num=0,
            lr=None,
            optimizer=dict(state_dict["optimizer"]),
            scaler=saved_scaler if scaler is not None else None,
            grads=None,
            losses=[],
            items=None,
        )
    missing = [key for key in _KEYS if key not in state_dict and key not in _OPTIONAL_KEYS]
    unexpected = [key for key in state_dict if key not in _KEYS]
    if missing or unexpected:
        raise _fail(
            f"not an OptimScheduler state_dict: missing keys {missing}, unexpected keys "
            f"{unexpected} (expected {list(_KEYS)}, or SpeeChain's {sorted(_LEGACY_KEYS)})"
        )
    version = state_dict["version"]
    if version != CHECKPOINT_VERSION:
        raise _fail(
            f"checkpoint version {version!r} is not supported; this optimsche reads version "
            f"{CHECKPOINT_VERSION} (and SpeeChain's format)"
        )
    saved_type = state_dict["optimizer_type"]
    if saved_type != type(optimizer).__name__:
        raise _fail(
            f"the checkpoint holds a {saved_type} state, this shell wraps a "
            f"{type(optimizer).__name__}"
        )
    _check_shapes(state_dict["param_shapes"], optimizer)
    if not isinstance(state_dict["optimizer"], Mapping):
        raise _fail("'optimizer' must be a torch optimizer state_dict")
    check_optimizer_state(state_dict["optimizer"], optimizer, _PREFIX)
    counters = state_dict["counters"]
    if not isinstance(counters, Mapping) or set(counters) != {
        "step_num",
        "accum_grad",
        "step_per_update",
        "lr",
    }:
        raise _fail(
            f"'counters' must hold step_num, accum_grad, step_per_update and lr, got {counters!r}"
        )
    step_num = require_int(_field("counters['step_num']"), counters["step_num"], 0)
    saved_accum = require_int(_field("counters['accum_grad']"), counters["accum_grad"], 1)
    require_int(_field("counters['step_per_update']"), counters["step_per_update"], 1)
    lr = require_number(_field("counters['lr']"), counters["lr"])
    saved_scaler = _scaler_state(state_dict["scaler"])
    saved_process = _saved_process(state_dict)
    window = state_dict["window"]
    if saved_accum != accum_grad:
        if step_num % saved_accum != 0 or window is not None:
            raise _fail(
                f"the checkpoint was taken at micro-step {step_num}, inside a window of "
                f"accum_grad={saved_accum}; it can only be resumed with accum_grad={saved_accum} "
                f"(this shell has {accum_grad}). A checkpoint taken at a window boundary converts "
                f"(the real step is kept)"
            )
        step_num = step_num // saved_accum * accum_grad
    grads: list[Tensor | None] | None = None
    losses: list[Tensor] = []
    items: Items | None = None
    if window is not None:
        real = real_step(step_num, accum_grad)
        if real == 0 or step_num % accum_grad == 0:
            raise _fail(f"a 'window' is saved, but micro-step {step_num} ends no open window")
        if real % step_per_update != 0:
            raise _fail(
                f"the checkpoint holds partial gradients of window {real}, in which this "
                f"shell (step_per_update={step_per_update}) takes no part"
            )
        _check_same_process(saved_process, step_num, rank, world_size)
        grads, losses, items = _read_window(window, params, _grad_factor(saved_scaler, scaler))
    items_seen, epoch_num = _read_clock(state_dict.get("clock"))
    plateau = _read_plateau(state_dict.get("plateau"), has_plateau, plateau_kind)
    return Restored(
        step_num=step_num,
        lr=float(lr),
        optimizer=dict(state_dict["optimizer"]),
        scaler=saved_scaler if scaler is not None else None,
        grads=grads,
        losses=losses,
        items=items,
        items_seen=items_seen,
        epoch_num=epoch_num,
        plateau=plateau,
        group_factors=_group_factors(state_dict.get("group_factors"), len(optimizer.param_groups)),
    )
