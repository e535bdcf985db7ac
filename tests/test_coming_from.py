"""docs/coming_from.md: every expression of its table builds; the rows checked against torch
run torch's own scheduler, those checked against SpeechBrain replay its numbers
(coming_from_vectors/speechbrain.json, made by SpeechBrain 1.1.2)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.optim import lr_scheduler as torch_lr

from optimsche.config.schedule_expression import parse_schedule_expression

ROOT = Path(__file__).resolve().parent.parent
TABLE = (ROOT / "docs" / "coming_from.md").read_text(encoding="utf-8")
SPEECHBRAIN = json.loads(
    (Path(__file__).parent / "coming_from_vectors" / "speechbrain.json").read_text()
)


def _rows() -> list[dict[str, str]]:
    rows = []
    for line in TABLE.splitlines():
        if not line.startswith("| ") or line.startswith("| from ") or line.startswith("|---"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        assert len(cells) == 5, line
        rows.append(
            dict(zip(("library", "anchor", "clock", "optimsche", "checked"), cells, strict=True))
        )
    return rows


ROWS = _rows()
CALL = re.compile(r"`([a-z_0-9]+\(.*?\))`")


def _expressions(row: dict[str, str]) -> list[str]:
    return CALL.findall(row["optimsche"])


def _anchor(row: dict[str, str]) -> str:
    return re.findall(r"`([^`]*)`", row["anchor"])[0]


def test_the_table_covers_every_library_the_issue_names() -> None:
    libraries = {row["library"] for row in ROWS}
    assert libraries == {
        "torch",
        "transformers",
        "timm",
        "SpeechBrain",
        "icefall",
        "NeMo",
        "ESPnet",
        "torchtitan",
        "Megatron",
    }
    assert len(ROWS) >= 40
    assert all(_expressions(row) for row in ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['library']}-{_anchor(r)[:40]}" for r in ROWS])
def test_every_expression_builds(row: dict[str, str]) -> None:
    for text in _expressions(row):
        parsed = parse_schedule_expression(text)
        built = parsed.schedule
        if row["clock"] == "metric" and text == _expressions(row)[0]:
            assert hasattr(built, "init") and hasattr(built, "update")
            built.update(built.init(), 1.0)
        else:
            assert float(built(5)) >= 0.0 if not _needs_time(built) else True


def _needs_time(schedule: Any) -> bool:
    from schedules import clocks_of

    return bool(clocks_of(schedule) - {None})


TORCH: dict[str, Callable[[torch.optim.Optimizer], Any]] = {
    "StepLR(step_size=3, gamma=0.5)": lambda o: torch_lr.StepLR(o, step_size=3, gamma=0.5),
    "MultiStepLR(milestones=[3, 7], gamma=0.1)": lambda o: torch_lr.MultiStepLR(o, [3, 7], 0.1),
    "ExponentialLR(gamma=0.9)": lambda o: torch_lr.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR(T_max=10, eta_min=0.001)": lambda o: torch_lr.CosineAnnealingLR(
        o, T_max=10, eta_min=0.001
    ),
    "CosineAnnealingWarmRestarts(T_0=5, T_mult=2, eta_min=0.001)": (
        lambda o: torch_lr.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=0.001)
    ),
    "PolynomialLR(total_iters=8, power=2.0)": lambda o: torch_lr.PolynomialLR(o, 8, 2.0),
    "LinearLR(start_factor=0.25, total_iters=4)": lambda o: torch_lr.LinearLR(
        o, start_factor=0.25, total_iters=4
    ),
    "ConstantLR(factor=0.5, total_iters=3)": lambda o: torch_lr.ConstantLR(o, 0.5, 3),
    "OneCycleLR(max_lr=0.1, total_steps=20)": lambda o: torch_lr.OneCycleLR(
        o, max_lr=0.1, total_steps=20
    ),
    "CyclicLR(base_lr=0.01, max_lr=0.1, step_size_up=4)": lambda o: torch_lr.CyclicLR(
        o, base_lr=0.01, max_lr=0.1, step_size_up=4, cycle_momentum=False
    ),
}
TORCH_ROWS = [row for row in ROWS if row["checked"] == "torch"]


@pytest.mark.parametrize("row", TORCH_ROWS, ids=[_anchor(r) for r in TORCH_ROWS])
def test_torch_rows_are_torch_on_a_0_based_clock(row: dict[str, str]) -> None:
    schedule = parse_schedule_expression(_expressions(row)[0]).schedule
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = TORCH[_anchor(row)](optimizer)
    steps = 19 if "OneCycle" in row["anchor"] else 40
    for s in range(steps):
        assert schedule(s) == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-9), s
        optimizer.step()
        scheduler.step()
    assert set(TORCH) == {_anchor(r) for r in TORCH_ROWS}


SB_ROWS = [row for row in ROWS if row["library"] == "SpeechBrain" and row["clock"] != "metric"]


@pytest.mark.parametrize("row", SB_ROWS, ids=[_anchor(r)[:40] for r in SB_ROWS])
def test_speechbrain_rows_replay_speechbrain(row: dict[str, str]) -> None:
    schedule = parse_schedule_expression(_expressions(row)[0]).schedule
    values = SPEECHBRAIN["rows"][_anchor(row)]
    offset = 1 if row["clock"] == "k − 1" else 0
    for n, expected in enumerate(values, start=1):
        assert schedule(n - offset) == pytest.approx(expected, rel=1e-12, abs=1e-15), n


BLOCKS = re.findall(r"```python\n(.*?)```", TABLE, flags=re.DOTALL)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_the_python_blocks_run(index: int) -> None:
    assert BLOCKS
    exec(
        compile(BLOCKS[index], f"coming_from.md[python block {index}]", "exec"), {"__name__": "doc"}
    )
