"""The demo logs through ``StepReport.as_dict``: one flat row of floats per update of each
optimizer, the values the reports hold, and the counters and lr curves read from them."""

from __future__ import annotations

import attrs
import pytest
import torch

from optimsche.demo import training
from optimsche.demo.config import load_demo_config
from optimsche.demo.history import History
from optimsche.demo.training import DemoSettings


def test_history_rows_are_the_reports_as_dict() -> None:
    settings = DemoSettings(batch_size=2, steps=8)
    config = load_demo_config()
    model, group = training._build(settings, config, distributed=False)
    history = History()
    reports_seen = []
    original = group.step

    def spy(*args: object, **kwargs: object) -> object:
        reports = original(*args, **kwargs)  # type: ignore[arg-type]
        reports_seen.append(reports)
        return reports

    object.__setattr__(group, "step", spy)
    training._train(model, group, settings, range(1, 9), 0, history, None)
    # accum_grad 2: decoder_optim updates at micro-steps 2, 4, 6, 8; encoder_optim
    # (step_per_update 2) at 4 and 8
    assert history.updates == {"encoder_optim": 2, "decoder_optim": 4}
    assert len(history.logged) == 6
    due = [
        (name, report)
        for reports in reports_seen
        for name, report in reports.items()
        if report.updated or report.skipped is not None
    ]
    for row, (name, report) in zip(history.logged, due, strict=True):
        assert row == report.as_dict(prefix=f"{name}/")
        assert {
            f"{name}/{key}"
            for key in ("lr", "grad_norm", "skipped", "updated", "step_num", "real_step")
        } <= set(row)
        assert all(type(value) is float for value in row.values())
        assert row[f"{name}/lr"] == report.lr
        assert report.grad_norm is not None
        assert row[f"{name}/grad_norm"] == pytest.approx(float(report.grad_norm))
        assert row[f"{name}/step_num"] == report.step_num
        assert row[f"{name}/updated"] == 1.0 and row[f"{name}/skipped"] == 0.0
    assert history.lrs["decoder_optim"] == [
        (int(row["decoder_optim/step_num"]), row["decoder_optim/lr"])
        for row in history.logged
        if "decoder_optim/lr" in row
    ]
    assert attrs.asdict(history)["logged"] == history.logged
    assert torch.isfinite(torch.tensor([v for row in history.logged for v in row.values()])).all()
