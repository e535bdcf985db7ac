"""What an lr range test puts back: the training state before it, copied, and restored.

:meth:`SavedTraining.capture` deep-copies, before the sweep:

* the shell's (or group's) :meth:`~optimsche.OptimScheduler.state_dict`: the optimizer's state
  and param groups, the GradScaler, the counters (micro-step, items seen, epoch), the lr, the
  plateau state, the per-group factors and, mid-window, the open window's partial gradients;
* the value and the ``.grad`` of every parameter of the models and of the optimizers;
* each model's ``state_dict`` (its buffers: batch-norm statistics, ...) and each submodule's
  ``training`` flag;
* the random number generators' states (CPU, and CUDA's when it is initialised), so that the
  run after the test draws the same dropout masks and shuffles as it would have without it.

:meth:`SavedTraining.restore` loads them back, through the shell's own ``load_state_dict``
and the model's; parameters are copied into in place (the optimizer keeps referring to the
same tensors). Afterwards everything listed is bit-identical to before. The copies live on
the tensors' own devices (one more copy of the model and the optimizer state), where fastai
and Lightning write a file.
"""

from __future__ import annotations

import copy
from typing import Any

import attrs
import torch
from torch import Tensor, nn

from optimsche.group import OptimSchedulerGroup
from optimsche.optim_scheduler import OptimScheduler


def _parameters(
    owner: OptimScheduler | OptimSchedulerGroup, models: tuple[nn.Module, ...]
) -> tuple[Tensor, ...]:
    """Every parameter of the models and of the optimizers, each once, in a fixed order."""
    shells = [owner] if isinstance(owner, OptimScheduler) else list(owner.values())
    found: dict[int, Tensor] = {}
    for model in models:
        found.update((id(p), p) for p in model.parameters())
    for shell in shells:
        found.update((id(p), p) for p in shell.parameters)
    return tuple(found.values())


def _cuda_in_use() -> bool:
    """Whether CUDA's generators exist (reading them otherwise would initialise CUDA)."""
    return bool(torch.cuda.is_initialized())  # type: ignore[no-untyped-call]


@attrs.frozen
class SavedTraining:
    """A deep copy of the training state (module doc), made by :meth:`capture`."""

    owner: OptimScheduler | OptimSchedulerGroup
    owner_state: dict[str, Any]
    models: tuple[nn.Module, ...]
    model_states: tuple[dict[str, Any], ...]
    training_flags: tuple[tuple[bool, ...], ...]
    parameters: tuple[Tensor, ...]
    values: tuple[Tensor, ...]
    grads: tuple[Tensor | None, ...]
    cpu_rng: Tensor
    cuda_rng: tuple[Tensor, ...] | None

    @classmethod
    def capture(
        cls, owner: OptimScheduler | OptimSchedulerGroup, models: tuple[nn.Module, ...]
    ) -> SavedTraining:
        """Copy the state of ``owner`` and ``models`` now."""
        parameters = _parameters(owner, models)
        return cls(
            owner=owner,
            owner_state=copy.deepcopy(owner.state_dict()),
            models=models,
            model_states=tuple(copy.deepcopy(model.state_dict()) for model in models),
            training_flags=tuple(tuple(m.training for m in model.modules()) for model in models),
            parameters=parameters,
            values=tuple(p.detach().clone() for p in parameters),
            grads=tuple(None if p.grad is None else p.grad.detach().clone() for p in parameters),
            cpu_rng=torch.get_rng_state(),
            cuda_rng=tuple(torch.cuda.get_rng_state_all()) if _cuda_in_use() else None,
        )

    def restore(self) -> None:
        """Put everything :meth:`capture` copied back."""
        for model, state, flags in zip(
            self.models, self.model_states, self.training_flags, strict=True
        ):
            model.load_state_dict(state)
            for module, flag in zip(model.modules(), flags, strict=True):
                module.training = flag
        with torch.no_grad():
            for p, value in zip(self.parameters, self.values, strict=True):
                p.copy_(value)
        self.owner.load_state_dict(self.owner_state)
        for p, grad in zip(self.parameters, self.grads, strict=True):
            p.grad = grad
        torch.set_rng_state(self.cpu_rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(list(self.cuda_rng))
