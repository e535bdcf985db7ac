"""Tensor arithmetic between step-shaped buffers and value hyperparameters.

A value hyperparameter (``peak``, ``final``, ...) is a Python ``float`` or a ``torch.Tensor``
of any shape that broadcasts with the step. With floats, these helpers work in place on a
buffer the formula owns (one pass, no new buffer where the formula allows it); with a Tensor
they compute out of place, in the promoted dtype and on the Tensor's device, and the result
takes the broadcast shape. Everything is differentiable with respect to the Tensors and safe
under ``torch.func.vmap`` and ``torch.compile``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from schedules.validation import Checked

Value = float | Tensor
"""A value hyperparameter: a float, or a Tensor that broadcasts with the step."""

__all__ = [
    "Checked",
    "Value",
    "cosine_interpolate",
    "formula_in_pieces",
    "in_pieces",
    "interpolate",
    "plus",
    "promoted",
    "select",
    "times",
]


def promoted(buffer: Tensor, *values: Value) -> tuple[Tensor, list[Tensor]]:
    """``buffer`` and ``values`` as Tensors of one floating dtype (torch's promotion of the
    Tensors among them; floats take that dtype) on one device (the values' device when
    ``buffer`` is a 0-d CPU tensor, as a Python step becomes)."""
    dtype, device = buffer.dtype, buffer.device
    for value in values:
        if isinstance(value, Tensor):
            dtype = torch.promote_types(dtype, value.dtype)
            if value.device != device and buffer.dim() == 0:
                device = value.device
    if buffer.dtype != dtype or buffer.device != device:
        buffer = buffer.to(dtype=dtype, device=device)
    tensors = [
        value.to(dtype=dtype, device=device)
        if isinstance(value, Tensor)
        else torch.full((), value, dtype=dtype, device=device)
        for value in values
    ]
    return buffer, tensors


def interpolate(start: Value, end: Value, weight: Tensor) -> Tensor:
    """``start + (end - start) · weight``, exactly ``start`` at ``weight = 0`` and exactly
    ``end`` at ``weight = 1`` (``torch.lerp``, or ``weight · end`` when ``start`` is 0).
    ``weight`` is owned by the caller and may be overwritten."""
    if start.__class__ is float and end.__class__ is float:
        if start == 0.0:
            return weight.mul_(end)
        return _lerp_numbers(start, end, weight)
    weight, (low, high) = promoted(weight, start, end)
    return torch.lerp(low, high, weight)


PIECE = 1 << 18
"""Elements per piece of :func:`in_pieces` (1 MiB of float32): small enough that a piece's
own buffers are heap blocks glibc keeps (not mappings faulted in afresh at every call),
large enough that the dispatch per piece is a few percent of its passes (measured on
:func:`interpolate`: pieces of 2^16 cost 30% more per curve, 2^19 no less)."""


LERP_VECTORIZED = 1 << 12
"""Weights of more elements than this take :func:`_lerp_numbers`' vectorized lerp (below, the
plain one costs less than filling ``end``)."""


def in_pieces(buffer: Tensor, step: Tensor, update: Callable[[Tensor, Tensor], object]) -> Tensor:
    """``update(buffer, step)`` (which changes ``buffer`` in place, elementwise), run on
    matching pieces of :data:`PIECE` elements of the two when they are large contiguous
    CPU tensors of one shape: what ``update`` makes of its own is then a piece, not a second
    step-sized buffer (whose page faults cost more than its passes). The same values: the
    update is elementwise. Returns ``buffer``."""
    if (
        buffer.device.type == "cpu"
        and buffer.shape == step.shape
        and buffer.numel() > PIECE
        and buffer.is_contiguous()
        and step.is_contiguous()
        and not torch.compiler.is_compiling()
    ):
        flat, steps = buffer.view(-1), step.view(-1)
        for begin in range(0, flat.numel(), PIECE):
            update(flat[begin : begin + PIECE], steps[begin : begin + PIECE])
        return buffer
    update(buffer, step)
    return buffer


def formula_in_pieces(
    formula: Callable[[Tensor], Tensor], step: Tensor, dtype: torch.dtype
) -> Tensor:
    """``formula(step)``, for an elementwise formula whose result has the step's shape and
    ``dtype``, written piece by piece (:func:`in_pieces`) into one buffer when the step is a
    large contiguous CPU tensor: a formula of many out-of-place operators then makes its
    temporaries a piece at a time, not as step-sized buffers. The same values (the formula is
    elementwise); elsewhere (small, another device, ``vmap``, autograd, ``torch.compile``)
    ``formula(step)`` itself."""
    if (
        step.device.type == "cpu"
        and step.numel() > PIECE
        and step.is_contiguous()
        and not step.requires_grad
        and not torch.compiler.is_compiling()
    ):
        out = torch.empty(step.shape, dtype=dtype)

        def write(part: Tensor, piece: Tensor) -> None:
            value = formula(piece)
            if value.dtype != dtype or value.shape != piece.shape:
                raise RuntimeError("not a formula of the step's shape and dtype")
            part.copy_(value)

        try:
            return in_pieces(out, step, write)
        except RuntimeError:  # vmap refuses to copy a batched piece into a plain buffer
            pass
    return formula(step)


def _lerp_numbers(start: float, end: float, weight: Tensor) -> Tensor:
    """``torch.lerp(start, end, weight)`` for two numbers, in place on ``weight``.

    torch's CPU lerp runs its vectorized loop only when at most one operand is a broadcast
    0-d tensor; with both ends 0-d it falls back to an element-by-element loop, 5-30x slower.
    A second step-sized buffer filled with ``end`` would keep it vectorized, but a second
    fresh buffer costs page faults on every call (glibc returns the freed pair to the system).
    So on the CPU ``end`` is filled into one piece of :data:`PIECE` elements, reused for
    every piece of the (contiguous) weight (:func:`in_pieces`): the same kernel, the same
    formula, the same values bit for bit. Elsewhere (a weight of :data:`LERP_VECTORIZED`
    elements or fewer, another device, ``vmap``, autograd, ``torch.compile``, which fuses it
    anyway) one lerp of the two 0-d ends."""
    low = weight.new_full((), start)
    if (
        weight.device.type == "cpu"
        and weight.numel() > LERP_VECTORIZED
        and not torch.compiler.is_compiling()
    ):
        filled = weight.new_full((min(weight.numel(), PIECE),), end)

        def lerp_piece(part: Tensor, _: Tensor) -> None:
            flat = part.view(-1)
            torch.lerp(low, filled[: flat.numel()], flat, out=flat)

        try:
            return in_pieces(weight, weight, lerp_piece)
        except RuntimeError:  # at the first piece, before anything is written: vmap and
            pass  # autograd refuse out=, a non-contiguous weight has no flat view
    high = weight.new_full((), end)
    try:  # in place: no fresh buffer (page faults cost more than the pass itself)
        return torch.lerp(low, high, weight, out=weight)
    except RuntimeError:  # vmap has no rule for out=, autograd refuses it: a new buffer
        return torch.lerp(low, high, weight)


def cosine_interpolate(start: Value, end: Value, cosine: Tensor) -> Tensor:
    """``start + (end - start) · ½(1 + cosine)``, exactly ``end`` where ``cosine = 1`` and
    ``start`` where ``cosine = -1``. ``cosine`` is owned by the caller and may be
    overwritten: with ``start = 0`` and a float ``end`` it is 2 passes in place
    (``end/2 · cosine + end/2``), otherwise 3 (the weight, then :func:`interpolate`)."""
    if start.__class__ is float and start == 0.0 and end.__class__ is float:
        half = 0.5 * end  # exact: end/2 + end/2 == end, -end/2 + end/2 == 0
        return cosine.mul_(half).add_(half)
    return interpolate(start, end, cosine.mul_(0.5).add_(0.5))


def times(factor: Value, buffer: Tensor) -> Tensor:
    """``factor · buffer``; in place when ``factor`` is a float (``buffer`` is owned)."""
    if factor.__class__ is float:
        return buffer.mul_(factor)
    buffer, (tensor,) = promoted(buffer, factor)
    return tensor * buffer


def plus(offset: Value, buffer: Tensor) -> Tensor:
    """``offset + buffer``; in place when ``offset`` is a float (``buffer`` is owned)."""
    if offset.__class__ is float:
        return buffer.add_(offset)
    buffer, (tensor,) = promoted(buffer, offset)
    return tensor + buffer


def select(condition: Tensor, if_true: Value | Tensor, if_false: Value | Tensor) -> Tensor:
    """``torch.where(condition, if_true, if_false)`` with the branches promoted to one
    dtype (both evaluated: each must be finite wherever it is computed)."""
    if (
        isinstance(if_true, Tensor)
        and isinstance(if_false, Tensor)
        and if_true.dtype != if_false.dtype
    ):
        dtype = torch.promote_types(if_true.dtype, if_false.dtype)
        if_true, if_false = if_true.to(dtype), if_false.to(dtype)
    return torch.where(condition, if_true, if_false)
