"""What a demo run records each micro-step: losses per token, learning rates, updates, skips.

Everything about an optimizer's micro-step is read from its
:meth:`StepReport.as_dict() <optimsche.step_report.StepReport.as_dict>`, the flat dict of
floats any logger takes (one host sync at an update, none between): the demo logs the way
``docs/logging.md`` tells a user to.
"""

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
    ``skip_reasons`` the ``StepReport.skipped`` reasons seen. ``logged`` holds, per update
    (applied or skipped), the optimizer's ``as_dict(prefix="<optimizer>/")`` (lr, grad norm,
    the window's loss, skipped, counters): the rows a logger such as TensorBoard would get.
    """

    steps: list[int] = attrs.field(factory=list)
    losses: dict[str, list[float]] = attrs.field(factory=dict)
    lrs: dict[str, list[tuple[int, float]]] = attrs.field(factory=dict)
    updates: dict[str, int] = attrs.field(factory=dict)
    skips: dict[str, int] = attrs.field(factory=dict)
    skip_reasons: dict[str, list[str]] = attrs.field(factory=dict)
    logged: list[dict[str, float]] = attrs.field(factory=list)

    def record(
        self,
        step_num: int,
        losses: Mapping[str, Tensor],
        num_items: int,
        reports: Mapping[str, StepReport],
    ) -> None:
        """Append micro-step ``step_num``: each loss / ``num_items``, and each optimizer's
        update (lr) or skip from its :class:`StepReport`'s ``as_dict``."""
        self.steps.append(step_num)
        for name, loss in losses.items():
            self.losses.setdefault(name, []).append(float(loss.detach()) / num_items)
        for name, report in reports.items():
            self.updates.setdefault(name, 0)
            self.skips.setdefault(name, 0)
            self.lrs.setdefault(name, [])
            values = report.as_dict(prefix=f"{name}/")
            updated, skipped = values[f"{name}/updated"], values[f"{name}/skipped"]
            if updated:
                self.updates[name] += 1
                self.lrs[name].append((step_num, values[f"{name}/lr"]))
            elif skipped:
                self.skips[name] += 1
                self.skip_reasons.setdefault(name, []).append(str(report.skipped))
            if updated or skipped:
                self.logged.append(values)

    def latest(self, loss_names: tuple[str, ...]) -> dict[str, float]:
        """The last recorded value of each loss in ``loss_names`` and each optimizer's last lr
        (for the progress bar); missing ones are left out."""
        fields = {name: self.losses[name][-1] for name in loss_names if self.losses.get(name)}
        for name, points in self.lrs.items():
            if points:
                fields[f"lr[{name}]"] = points[-1][1]
        return fields
