"""The loss a shell backpropagates on a micro-step: picked from ``losses`` and checked."""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

Losses = Tensor | Mapping[str, Tensor]
"""What ``step()`` takes: one loss tensor, or a dict of named losses."""


def pick_loss(losses: Losses, key: str, optim_loss: str | None) -> Tensor:
    """``losses`` itself (a Tensor) or ``losses[key]`` (``key``: the shell's ``optim_loss``,
    ``"loss"`` when that is ``None``), which must be a 0-dim Tensor that requires grad; a
    ``ValueError`` naming the key, the keys present or the shape otherwise."""
    if isinstance(losses, Tensor):
        loss = losses
    else:
        try:
            loss = losses[key]
        except KeyError:
            present = ", ".join(repr(k) for k in losses) or "(none)"
            raise ValueError(
                f"losses has no {key!r} (optim_loss={optim_loss!r}); keys present: {present}"
            ) from None
        except TypeError:
            raise ValueError(
                f"losses must be a Tensor or a dict of Tensors, got {type(losses).__name__}"
            ) from None
        if not isinstance(loss, Tensor):
            raise ValueError(f"losses[{key!r}] must be a Tensor, got {type(loss).__name__}")
    if not loss.requires_grad:
        raise ValueError(
            f"the loss {key!r} does not require grad (computed under no_grad, or detached?): "
            f"there is nothing to backpropagate"
        )
    if loss.ndim != 0:
        raise ValueError(
            f"the loss {key!r} must be a scalar (0-dim), got shape {tuple(loss.shape)}"
        )
    return loss
