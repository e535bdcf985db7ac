"""Checking a saved optimizer state and a saved GradScaler state before either is loaded.

``torch.optim.Optimizer.load_state_dict`` checks the number of param groups and their sizes,
but takes any tensor as a parameter's state: an ``exp_avg`` of the wrong shape loads, and
fails at the next update deep inside torch (or broadcasts silently). ``GradScaler
.load_state_dict`` reads its keys one by one and raises a bare ``KeyError`` half-way. The
shell checks both here first, so a refused checkpoint changes nothing.

What a parameter's state tensor may look like (:func:`check_optimizer_state`):

* when the live optimizer already holds state for that parameter, the saved entry must have
  the same keys and each tensor the same shape;
* otherwise, for the optimizers of ``torch.optim`` (whose state is per parameter), a tensor
  is either one value (``step``; at most one element), or has the parameter's number of
  dimensions with every size equal to the parameter's or 1 (``exp_avg``, ``momentum_buffer``
  and Adafactor's factored ``row_var``/``col_var``). ``LBFGS`` (one flat state for all
  parameters) and optimizers from elsewhere are checked only against live state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor
from torch.optim import LBFGS, Optimizer

SCALER_KEYS = ("scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker")
"""The entries of ``torch.amp.GradScaler.state_dict()``, all read by its ``load_state_dict``."""


def check_scaler_state(saved: Mapping[str, Any], where: str) -> None:
    """Refuse a GradScaler state that lacks a key its ``load_state_dict`` reads, or whose
    entries are not numbers (``where`` starts the message)."""
    missing = [key for key in SCALER_KEYS if key not in saved]
    if missing:
        raise ValueError(
            f"{where}: the scaler state lacks {', '.join(repr(k) for k in missing)} (a "
            f"GradScaler state_dict holds {', '.join(SCALER_KEYS)})"
        )
    for key in SCALER_KEYS:
        value = saved[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{where}: scaler {key!r} must be a number, got {value!r}")


def _shape(value: Tensor) -> tuple[int, ...]:
    return tuple(value.shape)


def _fits_parameter(value: Tensor, param: Tensor) -> bool:
    """One value, or the parameter's dimensions with sizes equal to its own or 1."""
    if value.numel() <= 1:
        return True
    if value.ndim != param.ndim:
        return False
    return all(v in (p, 1) for v, p in zip(value.shape, param.shape, strict=True))


def check_optimizer_state(saved: Mapping[str, Any], optimizer: Optimizer, where: str) -> None:
    """Refuse a saved ``optimizer.state_dict()`` that ``optimizer`` cannot load or would fail
    on at its next step: param groups of other counts or sizes, state for a parameter index
    it does not have, or a state tensor whose shape does not fit its parameter (module doc).
    ``where`` starts each message."""
    groups = saved.get("param_groups")
    state = saved.get("state")
    if not isinstance(groups, list) or not all(
        isinstance(g, Mapping) and isinstance(g.get("params"), list) for g in groups
    ):
        raise ValueError(f"{where}: the optimizer state has no list of param_groups with params")
    if not isinstance(state, Mapping):
        raise ValueError(f"{where}: the optimizer state has no 'state' mapping")
    own_groups = optimizer.param_groups
    if len(groups) != len(own_groups):
        raise ValueError(
            f"{where}: the optimizer state has {len(groups)} param group(s), this "
            f"{type(optimizer).__name__} has {len(own_groups)}"
        )
    params: dict[object, Tensor] = {}
    for g, (saved_group, own_group) in enumerate(zip(groups, own_groups, strict=True)):
        if len(saved_group["params"]) != len(own_group["params"]):
            raise ValueError(
                f"{where}: optimizer param group {g} has {len(saved_group['params'])} "
                f"parameters in the checkpoint, {len(own_group['params'])} here"
            )
        params.update(zip(saved_group["params"], own_group["params"], strict=True))
    per_parameter = type(optimizer).__module__.startswith("torch.optim") and not isinstance(
        optimizer, LBFGS
    )
    for index, entry in state.items():
        if index not in params:
            raise ValueError(
                f"{where}: the optimizer state holds state for parameter {index!r}, which no "
                f"param group lists"
            )
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where}: the state of parameter {index!r} must be a mapping")
        param = params[index]
        live = optimizer.state.get(param)
        if live:
            _check_like_live(entry, live, index, where)
        elif per_parameter:
            for key, value in entry.items():
                if isinstance(value, Tensor) and not _fits_parameter(value, param):
                    raise ValueError(
                        f"{where}: optimizer state {key!r} of parameter {index} has shape "
                        f"{_shape(value)}, its parameter {_shape(param)}"
                    )


def _check_like_live(
    entry: Mapping[str, Any], live: Mapping[str, Any], index: object, where: str
) -> None:
    if set(entry) != set(live):
        raise ValueError(
            f"{where}: the state of parameter {index!r} holds {sorted(entry)}, this optimizer's "
            f"holds {sorted(live)}"
        )
    for key, value in entry.items():
        own = live[key]
        if (
            isinstance(own, Tensor)
            and own.numel() > 1
            and (not isinstance(value, Tensor) or value.shape != own.shape)
        ):
            got = _shape(value) if isinstance(value, Tensor) else type(value).__name__
            raise ValueError(
                f"{where}: optimizer state {key!r} of parameter {index!r} is {got}, this "
                f"optimizer's is {_shape(own)}"
            )
