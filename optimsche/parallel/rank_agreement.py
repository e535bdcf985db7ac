"""Ranks that disagree fail fast: the settings of a distributed shell, compared across ranks.

Data-parallel replicas must run the same settings: two ranks with different ``accum_grad``
pair their all-reduces with the wrong partner (one runs on silently, the other dies with a
closed connection), and two ranks resumed at different steps train on with different lrs.
So a distributed shell (or group) compares its settings across the ranks of the default
process group twice:

* **at construction** (:func:`agree_at_construction`): the shell's :func:`shell_settings` —
  ``accum_grad``, ``step_per_update``, ``clock``, the optimizer class, each param group's
  parameter shapes (dtypes only under FSDP1, whose shards differ per rank) and dtypes and its
  plain hyperparameters (``lr``, ``betas``, ...),
  ``grad_clip``, ``grad_norm_type``, the AMP dtype, ``ft_factor``, the lr and the step;
  for an :class:`~optimsche.OptimSchedulerGroup` every member's, prefixed by its name;
* **before a load** (:func:`agree_before_load`): every rank first checks its own checkpoint
  (``check_state_dict``, which changes nothing), then the ranks compare the shell's settings
  and what each checkpoint would restore (:func:`checkpoint_settings`: the step after
  conversion, the lr, the items seen, the last epoch, the world size it was saved by and
  whether it holds an open window). Together they identify the *checkpoint set*: per-rank
  files of one save agree on all of them; files of different steps, of another world size,
  or a mid-window file loaded on another rank do not.

**The collective.** Each rank hashes its settings (SHA-256 of their text, 32 bytes) and adds
a flag saying whether its own check refused the checkpoint; one ``all_gather`` of these five
int64 values is the whole cost when the ranks agree. Only when they do not, a second
collective (``all_gather_object``) gathers the readable settings and refusals, and *every*
rank raises the same :class:`RankDisagreement` naming each setting that differs with every
rank's value (``accum_grad: rank 0 = 2, rank 1 = 4``), or the ranks that refused their
checkpoint and why. Every rank takes the same branch, so nothing waits for the process
group's timeout: a disagreement is an error on every rank within the time of two small
collectives. A refused load changes nothing on any rank.

Nothing is compared when the shell is not distributed or the world has one process. What is
not caught: settings that are the same text on every rank but mean different things (a
``schedule=`` callable is not compared, only the lr it gives now), a rank that builds no
shell at all (the others wait in the collective until the process group's timeout), and two
saves of equal settings at the same step and lr (their files form a consistent set).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist
from torch import nn

from optimsche.parallel.distributed import is_fsdp1, is_initialized

if TYPE_CHECKING:
    from optimsche.group import OptimSchedulerGroup
    from optimsche.optim_scheduler import OptimScheduler

__all__ = [
    "RankDisagreement",
    "agree",
    "agree_at_construction",
    "agree_before_load",
    "checkpoint_settings",
    "group_agree_at_construction",
    "group_agree_before_load",
    "shell_settings",
]

Settings = dict[str, str]
"""Setting name -> its value as text (what is hashed and, on a mismatch, shown)."""

_DIGEST_WORDS = 4
_SHOWN = 240
_PARTIAL_SHOWN = 6
_PLAIN = (bool, int, float, str, type(None))


class RankDisagreement(ValueError):
    """The ranks of a distributed run disagree on a shell's settings, or one of them refused
    its checkpoint: raised on every rank, naming what differs and each rank's value."""


def _text(value: object) -> str | None:
    """``value`` as text if it is a plain value (numbers, strings, their tuples and lists, a
    one-element Tensor); ``None`` for anything else (a callable, an object whose repr may hold
    an address), which is left out of the comparison."""
    if isinstance(value, torch.Tensor):
        return repr(value.item()) if value.numel() == 1 else None
    if isinstance(value, _PLAIN):
        return repr(value)
    if isinstance(value, (tuple, list)):
        items = [_text(item) for item in value]
        return None if None in items else "(" + ", ".join(str(i) for i in items) + ")"
    return None


def shell_settings(shell: OptimScheduler) -> Settings:
    """The settings of ``shell`` that every rank must share (module doc)."""
    settings: Settings = {
        "shell class": type(shell).__name__,
        "optimizer class": type(shell.optimizer).__name__,
        "accum_grad": str(shell.accum_grad),
        "step_per_update": str(shell.step_per_update),
        "clock": shell.clock,
        "grad_clip": repr(shell.grad_clip),
        "grad_norm_type": repr(shell.grad_norm_type),
        "amp dtype": str(shell.amp_dtype),
        "ft_factor": repr(shell.ft_factor),
        "step_num": str(shell.step_num),
        "lr": repr(shell.get_lr()),
        "param groups": str(len(shell.optimizer.param_groups)),
    }
    sharded = _fsdp1_sharded(shell.model)
    for index, group in enumerate(shell.optimizer.param_groups):
        dtypes = [str(p.dtype).removeprefix("torch.") for p in group["params"]]
        if sharded:
            settings[f"param group {index}: parameter dtypes"] = f"[{', '.join(dtypes)}]"
        else:
            params = ", ".join(
                f"{list(p.shape)} {dtype}" for p, dtype in zip(group["params"], dtypes, strict=True)
            )
            settings[f"param group {index}: parameter shapes and dtypes"] = f"[{params}]"
        for key in sorted(k for k in group if k != "params"):
            text = _text(group[key])
            if text is not None:
                settings[f"param group {index}: {key}"] = text
    return settings


def _fsdp1_sharded(model: nn.Module | None) -> bool:
    """Whether ``model`` holds FSDP1-wrapped modules: then each rank's parameters are views of
    its own shard, whose shapes differ from rank to rank (FSDP2's DTensors keep the full
    shape), and only their dtypes are compared."""
    return model is not None and any(is_fsdp1(module) for module in model.modules())


def checkpoint_settings(shell: OptimScheduler, state_dict: Mapping[str, Any]) -> Settings:
    """What loading ``state_dict`` (already checked by ``shell.check_state_dict``) would
    restore that every rank must share, as text (module doc)."""
    restored = shell.check_state_dict(state_dict)
    window = state_dict.get("window")
    saved_rank = state_dict.get("rank")
    if window is None:
        open_window = "none (a window boundary: loads on any rank)"
    elif saved_rank is None:
        open_window = "open (saved by an unrecorded rank)"
    else:
        own = "this rank's own" if saved_rank == shell_rank(shell) else f"rank {saved_rank}'s"
        open_window = f"open, {own}"
    return {
        "checkpoint step_num": str(restored.step_num),
        "checkpoint lr": repr(restored.lr),
        "checkpoint items_seen": repr(restored.items_seen),
        "checkpoint epoch_num": repr(restored.epoch_num),
        "checkpoint saved by world_size": repr(state_dict.get("world_size")),
        "checkpoint window": open_window,
        "checkpoint format": "optimsche" if "version" in state_dict else "SpeeChain",
    }


def shell_rank(shell: OptimScheduler) -> int:
    """This process's rank as the shell sees it: the default group's when distributed."""
    return dist.get_rank() if shell.distributed and is_initialized() else 0


def _engaged(distributed: bool) -> bool:
    """Whether to compare at all: a distributed shell in a world of more than one process."""
    return distributed and is_initialized() and dist.get_world_size() > 1


def _device() -> torch.device:
    """Where the small all-gather runs: the current CUDA device under NCCL, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _digest(what: str, settings: Settings) -> list[int]:
    """The SHA-256 of ``what`` and ``settings`` as four signed 64-bit words."""
    text = "\n".join([what, *(f"{name}={value}" for name, value in settings.items())])
    raw = hashlib.sha256(text.encode("utf-8")).digest()
    return [int.from_bytes(raw[i : i + 8], "little", signed=True) for i in range(0, len(raw), 8)]


def _shown(value: str | None) -> str:
    if value is None:
        return "(none)"
    return value if len(value) <= _SHOWN else value[: _SHOWN - 3] + "..."


def _message(what: str, gathered: list[tuple[Settings, str | None]]) -> str:
    """The error of a disagreement: the refusals, then each differing setting per rank."""
    lines = [f"the {len(gathered)} ranks disagree {what}:"]
    for rank, (_, refusal) in enumerate(gathered):
        if refusal is not None:
            lines.append(f"  rank {rank} refused its checkpoint: {refusal}")
    names = list(dict.fromkeys(name for settings, _ in gathered for name in settings))
    compared = [settings for settings, refusal in gathered if refusal is None]
    ranks = [rank for rank, (_, refusal) in enumerate(gathered) if refusal is None]
    partial: list[str] = []
    for name in names:
        values = [settings.get(name) for settings in compared]
        if None in values and len(set(values)) > 1:
            partial.append(name)
        elif len(set(values)) > 1:
            each = ", ".join(f"rank {r} = {_shown(v)}" for r, v in zip(ranks, values, strict=True))
            lines.append(f"  {name}: {each}")
    if partial:
        shown = ", ".join(partial[:_PARTIAL_SHOWN])
        more = f" and {len(partial) - _PARTIAL_SHOWN} more" if len(partial) > _PARTIAL_SHOWN else ""
        lines.append(f"  settings that only some ranks have: {shown}{more}")
    return "\n".join(lines)


def agree(what: str, settings: Settings, refusal: str | None = None) -> None:
    """Compare ``settings`` across the ranks of the default process group in one all-gather;
    on any difference, or where a rank's ``refusal`` is not ``None``, raise the same
    :class:`RankDisagreement` on every rank (module doc). ``what`` says where (it is part of
    the hash: ranks at different places disagree too)."""
    device = _device()
    local = torch.tensor([*_digest(what, settings), int(refusal is not None)], device=device)
    world = dist.get_world_size()
    gathered = [torch.empty_like(local) for _ in range(world)]
    dist.all_gather(gathered, local)
    rows = torch.stack(gathered).cpu().tolist()
    if all(row == rows[0] for row in rows) and rows[0][_DIGEST_WORDS] == 0:
        return
    readable: list[Any] = [None] * world
    dist.all_gather_object(readable, (what, settings, refusal))
    places = {place for place, _, _ in readable}
    where = (
        what
        if len(places) == 1
        else "on where they are: "
        + ", ".join(f"rank {rank} is {place}" for rank, (place, _, _) in enumerate(readable))
    )
    raise RankDisagreement(
        _message(where, [(settings, refusal) for _, settings, refusal in readable])
    )


def agree_at_construction(shell: OptimScheduler) -> None:
    """At the end of ``OptimScheduler.__init__``: the ranks compare :func:`shell_settings`."""
    if _engaged(shell.distributed):
        agree(f"on the settings of {type(shell).__name__} at construction", shell_settings(shell))


def _checked(check: Callable[[], Settings]) -> tuple[Settings, str | None]:
    """``check()``'s settings, or no settings and the reason it refused."""
    try:
        return check(), None
    except (ValueError, TypeError, KeyError) as error:
        return {}, f"{type(error).__name__}: {error}"


def agree_before_load(shell: OptimScheduler, state_dict: Mapping[str, Any]) -> None:
    """At the start of ``OptimScheduler.load_state_dict``: each rank checks its checkpoint
    (changing nothing), then the ranks compare the shell's settings and the checkpoint's
    (:func:`checkpoint_settings`); a refusal on any rank is an error on all (module doc)."""
    if not _engaged(shell.distributed):
        return
    settings, refusal = _checked(
        lambda: {**shell_settings(shell), **checkpoint_settings(shell, state_dict)}
    )
    settings.pop("step_num", None)  # the loaded step replaces the shell's own
    settings.pop("lr", None)
    agree(f"on loading a checkpoint into {type(shell).__name__}", settings, refusal)


def _members(group: OptimSchedulerGroup) -> Mapping[str, OptimScheduler]:
    return {name: group[name] for name in group}


def group_agree_at_construction(group: OptimSchedulerGroup) -> None:
    """At the end of ``OptimSchedulerGroup.__init__``: every member's settings, by name."""
    members = _members(group)
    if not any(_engaged(member.distributed) for member in members.values()):
        return
    settings: Settings = {"members": repr(list(members))}
    for name, member in members.items():
        settings.update({f"{name!r}: {k}": v for k, v in shell_settings(member).items()})
    agree("on the settings of OptimSchedulerGroup at construction", settings)


def group_agree_before_load(
    group: OptimSchedulerGroup, state_dict: Mapping[str, Mapping[str, Any]]
) -> None:
    """At the start of ``OptimSchedulerGroup.load_state_dict``: as :func:`agree_before_load`
    for every member at once, in one comparison."""
    members = _members(group)
    if not any(_engaged(member.distributed) for member in members.values()):
        return

    def check() -> Settings:
        if not isinstance(state_dict, Mapping) or set(state_dict) != set(members):
            names = list(state_dict) if isinstance(state_dict, Mapping) else state_dict
            raise ValueError(
                f"the checkpoint's names {names!r} are not the group's {list(members)!r}"
            )
        settings: Settings = {"members": repr(list(members))}
        for name, member in members.items():
            own = {**shell_settings(member), **checkpoint_settings(member, state_dict[name])}
            own.pop("step_num")
            own.pop("lr")
            settings.update({f"{name!r}: {k}": v for k, v in own.items()})
        return settings

    settings, refusal = _checked(check)
    agree("on loading a checkpoint into OptimSchedulerGroup", settings, refusal)
