"""What a demo run records each micro-step: losses per token, learning rates, updates, skips."""

from __future__ import annotations

from collections.abc import Mapping

import attrs
from torch import Tensor

from optimsche.step_report import StepReport

__all__ = ["History"]


@attrs.define
class History:
    """The curves and counters of one training run.

    ``losses[name][i]`` is loss ``name`` of micro-step ``steps[i]`` divided by that micro-batch's
    token count (the mean loss per token). ``lrs[optimizer]`` lists ``(step_num, lr)`` at each of
    that optimizer's updates; ``updates``/``skips`` count its applied and skipped updates, and
    ``skip_reasons`` the ``StepReport.skipped`` reasons seen.
    """

    steps: list[int] = attrs.field(factory=list)
    losses: dict[str, list[float]] = attrs.field(factory=dict)
    lrs: dict[str, list[tuple[int, float]]] = attrs.field(factory=dict)
    updates: dict[str, int] = attrs.field(factory=dict)
    skips: dict[str, int] = attrs.field(factory=dict)
    skip_reasons: dict[str, list[str]] = attrs.field(factory=dict)

    def record(
        self,
        step_num: int,
        losses: Mapping[str, Tensor],
        num_items: int,
        reports: Mapping[str, StepReport],
    ) -> None:
        """Append micro-step ``step_num``: each loss / ``num_items``, and each optimizer's
        update (lr) or skip from its :class:`StepReport`."""
        self.steps.append(step_num)
        for name, loss in losses.items():
            self.losses.setdefault(name, []).append(float(loss.detach()) / num_items)
        for name, report in reports.items():
            self.updates.setdefault(name, 0)
            self.skips.setdefault(name, 0)
            self.lrs.setdefault(name, [])
            if report.updated:
                self.updates[name] += 1
                self.lrs[name].append((step_num, report.lr))
            elif report.skipped is not None:
                self.skips[name] += 1
                self.skip_reasons.setdefault(name, []).append(report.skipped)

    def latest(self, loss_names: tuple[str, ...]) -> dict[str, float]:
        """The last recorded value of each loss in ``loss_names`` and each optimizer's last lr
        (for the progress bar); missing ones are left out."""
        fields = {name: self.losses[name][-1] for name in loss_names if self.losses.get(name)}
        for name, points in self.lrs.items():
            if points:
                fields[f"lr[{name}]"] = points[-1][1]
        return fields
