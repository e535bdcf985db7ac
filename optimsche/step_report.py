"""What one call of :meth:`OptimScheduler.step` did, as a small frozen record.

Some of its values may still live on the device when the record is made: the gradient norm,
the window's mean loss and, with an optimizer that takes the skip decision on the device
(:mod:`optimsche.update.device_skip`), whether the update was applied (a *skip code* tensor:
0 applied, 1 non-finite, 2 fp16 overflow). Making the record never reads the device; **the
first read syncs**: reading ``updated`` or ``skipped`` reads the skip code once (then it is
cached), and :meth:`StepReport.as_dict` reads every device value of the record in one sync.
"""

from __future__ import annotations

import math
import numbers
from functools import reduce

import attrs
import torch
from torch import Tensor

from schedules.close_matches import did_you_mean
from schedules.validation import require_number

SKIP_NONFINITE = "nonfinite"
"""``StepReport.skipped`` when the window's loss or gradient norm was not finite."""

SKIP_AMP_OVERFLOW = "amp_overflow"
"""``StepReport.skipped`` when the fp16 ``GradScaler`` found inf/NaN gradients."""

SKIP_CODES: tuple[str | None, ...] = (None, SKIP_NONFINITE, SKIP_AMP_OVERFLOW)
"""The meaning of each device skip code: ``SKIP_CODES[code]`` is ``StepReport.skipped``
(code 0: applied; 1: ``"nonfinite"``; 2: ``"amp_overflow"``)."""

_SKIP_REASONS = (SKIP_NONFINITE, SKIP_AMP_OVERFLOW)

_PUT = object.__setattr__
"""How :meth:`StepReport.idle` fills the slots of a frozen report."""


def _one_value(name: str, value: object) -> None:
    """``value`` must be a one-element Tensor (a 0-dim device value)."""
    if not isinstance(value, Tensor) or value.numel() != 1:
        shown = f"a Tensor of shape {tuple(value.shape)}" if isinstance(value, Tensor) else value
        raise ValueError(f"{name} must be a one-element Tensor, got {shown!r}")


def _check_skip_code(name: str, code: Tensor) -> None:
    _one_value(name, code)
    if code.is_floating_point() or code.is_complex() or code.dtype == torch.bool:
        raise ValueError(
            f"{name} given as a Tensor is a skip code and must have an integer dtype "
            f"(0 applied, 1 nonfinite, 2 amp_overflow), got dtype {code.dtype}"
        )


def _lr_tuple(lrs: object) -> tuple[float, ...]:
    """``lrs`` as a tuple of floats (a list is accepted); each must be a finite number."""
    if isinstance(lrs, str | bytes | Tensor) or not isinstance(lrs, tuple | list):
        raise ValueError(f"lrs must be a tuple of numbers (one per param group), got {lrs!r}")
    return tuple(require_number(f"lrs[{i}]", lr) for i, lr in enumerate(lrs))


@attrs.frozen(kw_only=True, repr=False)
class StepReport:
    """The outcome of one micro-step of one optimizer.

    * ``step_num``: the 1-based micro-step (one ``backward``) this report is about.
    * ``real_step``: the 1-based accumulation window it belongs to,
      ``(step_num - 1) // accum_grad + 1``.
    * ``updated``: whether the parameters were changed by the optimizer at this micro-step.
    * ``skipped``: ``None``, or why an update that was due (last micro-step of a window this
      optimizer takes part in) was not applied: ``"amp_overflow"`` (the fp16 ``GradScaler``
      found inf/NaN gradients and lowers its scale) or ``"nonfinite"`` (a loss of the window or
      the gradient norm was inf/NaN). The gradients are zeroed either way.

      Both may be given as one device *skip code* tensor (an integer one-element Tensor:
      0 applied, 1 ``"nonfinite"``, 2 ``"amp_overflow"``; :data:`SKIP_CODES`), as ``updated``
      or ``skipped`` or both (the same tensor; the other left out). Making the report does not
      read it; **the first read of** ``updated`` **or** ``skipped`` **syncs** (one host read,
      cached). :attr:`skip_code` gives the tensor itself, for code that stays on the device.
    * ``lr``: the base learning rate in effect after this micro-step,
      ``ft_factor · update_lr(real_step)`` when it was just applied (before any param group's
      ``lr_scale``); a Python float, read without touching the device.
    * ``lrs``: the lr of every param group after this micro-step, in order (``lr_scale``
      included); ``()`` when not known (then :meth:`as_dict` reports ``lr`` alone).
    * ``grad_norm``: at an update (applied or skipped) the total gradient norm of this
      optimizer's parameters before clipping, as a 0-dim Tensor on the device (reading it is
      the caller's host sync, not the shell's); ``None`` on other micro-steps.
    * ``loss``: the mean loss of the window an update closed (a 0-dim device Tensor or a
      float), ``None`` when not known. A Tensor is held without its autograd graph.
    * ``flushed``: when this micro-step's ``step_num`` jumped out of a window that still held
      gradients, the report of that window's update, applied first as by
      :meth:`~OptimScheduler.flush` (see "Partial windows"); ``None`` otherwise.
    """

    step_num: int
    real_step: int
    _updated: bool | Tensor | None = attrs.field(default=None, alias="updated")
    _skipped: str | Tensor | None = attrs.field(default=None, alias="skipped")
    lr: float
    grad_norm: Tensor | None = None
    lrs: tuple[float, ...] = ()
    loss: Tensor | float | None = None
    flushed: StepReport | None = None
    # the values read back from the device so far (skip code, grad_norm, loss), by name
    _read: dict[str, float] | None = attrs.field(init=False, default=None, eq=False, repr=False)

    @classmethod
    def idle(cls, step_num: int, real_step: int, lr: float) -> StepReport:
        """The report of a micro-step that did not update: equal to ``StepReport(step_num=...,
        real_step=..., updated=False, lr=lr)``, made without the constructor's checks (every
        field here is one the shell already holds checked; this is its hot path)."""
        report = object.__new__(cls)
        put = _PUT
        put(report, "step_num", step_num)
        put(report, "real_step", real_step)
        put(report, "_updated", False)
        put(report, "_skipped", None)
        put(report, "lr", lr)
        put(report, "grad_norm", None)
        put(report, "lrs", ())
        put(report, "loss", None)
        put(report, "flushed", None)
        put(report, "_read", None)
        return report

    def __attrs_post_init__(self) -> None:
        if (
            self._updated.__class__ is bool
            and self._skipped is None
            and self.grad_norm is None
            and self.loss is None
            and self.lrs == ()
            and self.flushed is None
        ):
            return  # the report of a micro-step that did not update: nothing else to check
        self._check_fields()

    def _check_fields(self) -> None:
        """Every field checked (module doc); a Tensor norm or loss held without its graph,
        ``lrs`` as a tuple of floats."""
        updated, skipped = self._updated, self._skipped
        if updated.__class__ is bool and (skipped is None or skipped.__class__ is str):
            if skipped is not None and skipped not in _SKIP_REASONS:
                choices = ", ".join(repr(r) for r in (None, *_SKIP_REASONS))
                raise ValueError(
                    f"skipped must be one of {choices} or a skip-code Tensor, got "
                    f"{skipped!r}{did_you_mean(skipped, _SKIP_REASONS)}"
                )
            if updated and skipped is not None:
                raise ValueError(
                    f"updated=True contradicts skipped={skipped!r}: a skipped update is not applied"
                )
        else:
            self._check_device_skip(updated, skipped)
        norm, loss, lrs = self.grad_norm, self.loss, self.lrs
        if norm is not None:
            _one_value("grad_norm", norm)
            if norm.requires_grad:  # held without its autograd graph
                object.__setattr__(self, "grad_norm", norm.detach())
        if isinstance(loss, Tensor):
            _one_value("loss", loss)
            if loss.requires_grad:  # holding a loss must not keep its graph alive
                object.__setattr__(self, "loss", loss.detach())
        elif loss is not None and (isinstance(loss, bool) or not isinstance(loss, numbers.Real)):
            raise ValueError(
                f"loss must be a one-element Tensor, a number or None, got "
                f"{type(loss).__name__}: {loss!r}"
            )
        if lrs != () and not (
            lrs.__class__ is tuple
            and all(lr.__class__ is float and -math.inf < lr < math.inf for lr in lrs)
        ):
            object.__setattr__(self, "lrs", _lr_tuple(lrs))
        if self.flushed is not None and not isinstance(self.flushed, StepReport):
            raise ValueError(f"flushed must be a StepReport or None, got {self.flushed!r}")

    @staticmethod
    def _check_device_skip(updated: object, skipped: object) -> None:
        """The skip code must come as a Tensor in ``updated`` and/or ``skipped`` (the same
        one), the other left out; without a Tensor, ``updated`` is a required bool."""
        if isinstance(updated, Tensor):
            _check_skip_code("updated", updated)
            if skipped is not None and skipped is not updated:
                raise ValueError(
                    f"updated is a skip-code Tensor, so skipped must be left out (or be the "
                    f"same Tensor): the code says both; got skipped={skipped!r}"
                )
        elif isinstance(skipped, Tensor):
            _check_skip_code("skipped", skipped)
            if updated is not None:
                raise ValueError(
                    f"skipped is a skip-code Tensor, so updated must be left out (or be the "
                    f"same Tensor): the code says both; got updated={updated!r}"
                )
        elif updated is None:
            raise ValueError(
                "updated is required (a bool), unless updated or skipped is a skip-code Tensor"
            )
        elif updated.__class__ is not bool:
            raise ValueError(
                f"updated must be a bool or a skip-code Tensor, got "
                f"{type(updated).__name__}: {updated!r}"
            )
        else:
            raise ValueError(
                f"skipped must be None, {SKIP_NONFINITE!r}, {SKIP_AMP_OVERFLOW!r} or a "
                f"skip-code Tensor, got {type(skipped).__name__}: {skipped!r}"
            )

    def __repr__(self) -> str:
        """The fields as given, ``updated`` and ``skipped`` as read (a device skip code is
        read here: printing is a read)."""
        fields = [
            f"step_num={self.step_num!r}",
            f"real_step={self.real_step!r}",
            f"updated={self.updated!r}",
            f"skipped={self.skipped!r}",
            f"lr={self.lr!r}",
            f"grad_norm={self.grad_norm!r}",
        ]
        fields += [f"lrs={self.lrs!r}"] if self.lrs else []
        fields += [f"loss={self.loss!r}"] if self.loss is not None else []
        fields += [f"flushed={self.flushed!r}"] if self.flushed is not None else []
        return f"StepReport({', '.join(fields)})"

    @property
    def skip_code(self) -> Tensor | None:
        """The device skip code this report was given (0 applied, 1 ``"nonfinite"``,
        2 ``"amp_overflow"``), or ``None`` when ``updated``/``skipped`` were host values.
        Reading it does not sync."""
        if isinstance(self._updated, Tensor):
            return self._updated
        return self._skipped if isinstance(self._skipped, Tensor) else None

    @property
    def updated(self) -> bool:
        """Whether the optimizer changed the parameters (the first read of a device skip code
        syncs once)."""
        code = self._host_code()
        if code is None:
            return bool(self._updated)
        return code == 0

    @property
    def skipped(self) -> str | None:
        """Why a due update was not applied, or ``None`` (the first read of a device skip code
        syncs once)."""
        code = self._host_code()
        if code is None:
            skipped = self._skipped
            return skipped if isinstance(skipped, str) else None
        return SKIP_CODES[code]

    def _host_code(self) -> int | None:
        """The skip code as an int, read (and cached) on first use; ``None`` for host values."""
        if self.skip_code is None:
            return None
        return _code_from(self._device_values()["skip_code"])

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        """This report as flat ``{prefix + key: float}``, for any logger.

        Keys: ``lr``; ``lr/group{i}`` for each param group when ``lrs`` holds several;
        ``grad_norm`` and ``loss`` when known; ``skipped`` and ``updated`` (1.0 or 0.0);
        ``step_num`` and ``real_step``. Every device value (norm, loss, skip code) is read in
        one host sync (stacked, then ``tolist()``), none when all are already read or on the
        host. A flushed window's report (``flushed``) has its own ``as_dict``.
        """
        if not isinstance(prefix, str):
            raise ValueError(f"prefix must be a str, got {type(prefix).__name__}: {prefix!r}")
        read = self._device_values()
        values: dict[str, float] = {f"{prefix}lr": float(self.lr)}
        if len(self.lrs) > 1:
            for i, lr in enumerate(self.lrs):
                values[f"{prefix}lr/group{i}"] = lr
        if self.grad_norm is not None:
            values[f"{prefix}grad_norm"] = read["grad_norm"]
        if self.loss is not None:
            loss = self.loss
            values[f"{prefix}loss"] = read["loss"] if isinstance(loss, Tensor) else float(loss)
        values[f"{prefix}skipped"] = 0.0 if self.skipped is None else 1.0
        values[f"{prefix}updated"] = 1.0 if self.updated else 0.0
        values[f"{prefix}step_num"] = float(self.step_num)
        values[f"{prefix}real_step"] = float(self.real_step)
        return values

    def _device_values(self) -> dict[str, float]:
        """Every device value of the report by name, those not read yet read in one host
        sync (cast to their promoted dtype, moved to one device, an accelerator's if any, and
        stacked), then kept."""
        read = self._read
        if read is None:
            read = {}
            object.__setattr__(self, "_read", read)
        pending = [
            (name, tensor)
            for name, tensor in (
                ("skip_code", self.skip_code),
                ("grad_norm", self.grad_norm),
                ("loss", self.loss if isinstance(self.loss, Tensor) else None),
            )
            if tensor is not None and name not in read
        ]
        if not pending:
            return read
        tensors = [tensor for _, tensor in pending]
        device = next((t.device for t in tensors if t.device.type != "cpu"), tensors[0].device)
        dtype = reduce(torch.promote_types, (t.dtype for t in tensors))
        stacked = torch.stack(
            [
                t.detach().reshape(()).to(device=device, dtype=dtype, non_blocking=True)
                for t in tensors
            ]
        )
        for (name, _), value in zip(pending, stacked.tolist(), strict=True):
            read[name] = float(value)
        return read


def _code_from(value: float) -> int:
    """The skip code ``value`` read back, checked to be one of :data:`SKIP_CODES`' indices."""
    code = int(value)
    if code != value or not 0 <= code < len(SKIP_CODES):
        raise ValueError(
            f"a skip code must be 0 (applied), 1 (nonfinite) or 2 (amp_overflow), read {value!r}"
        )
    return code
