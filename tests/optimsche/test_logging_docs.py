"""docs/logging.md runs as written: its TensorBoard block writes an event file whose scalars
are every update's ``as_dict()``, its Lightning block logs them through ``log_dict`` in a real
``Trainer`` (skipped, saying why, without pytorch-lightning)."""

from __future__ import annotations

import csv
import logging
import re
import warnings
from pathlib import Path
from typing import Any

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "logging.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def _block(marker: str) -> str:
    (block,) = [b for b in BLOCKS if marker in b]
    return block


def _run(block: str, name: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "logging_docs"}
    exec(compile(block, f"docs/logging.md[{name}]", "exec"), namespace)
    return namespace


def test_every_block_is_tested() -> None:
    assert len(BLOCKS) == 2


def test_tensorboard_recipe_writes_every_update(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    event_accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator",
        reason="tensorboard is not installed (pip install -e '.[dev]')",
    )
    monkeypatch.chdir(tmp_path)
    namespace = _run(_block("SummaryWriter"), "TensorBoard")
    shell = namespace["optim_sche"]
    assert shell.step_num == 40
    (run_dir,) = {path.parent for path in (tmp_path / "runs" / "tiny").glob("events.out.*")}
    events = event_accumulator.EventAccumulator(str(run_dir))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert tags >= {"lr", "grad_norm", "skipped", "updated", "step_num", "real_step"}
    lrs = events.Scalars("lr")
    assert [e.step for e in lrs] == list(range(1, 21))
    schedule = shell.schedule
    assert [e.value for e in lrs] == pytest.approx([schedule(k) for k in range(1, 21)], rel=1e-6)
    assert [e.value for e in events.Scalars("step_num")] == [2.0 * k for k in range(1, 21)]
    assert all(e.value == 1.0 for e in events.Scalars("updated"))
    norms = [e.value for e in events.Scalars("grad_norm")]
    assert len(norms) == 20 and all(n > 0 for n in norms)


def test_lightning_recipe_logs_every_update(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip(
        "pytorch_lightning", reason="pytorch-lightning is not installed (pip install -e '.[dev]')"
    )
    monkeypatch.chdir(tmp_path)
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        namespace = _run(_block("LightningModule"), "Lightning")
    (metrics,) = (tmp_path / "logs").glob("lightning_logs/version_*/metrics.csv")
    with metrics.open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows and {"train/lr", "train/grad_norm", "train/real_step"} <= set(rows[0])
    # 16 batches, accum_grad 2: updates 1..8, each logged with its lr
    logged = {int(float(row["train/real_step"])): float(row["train/lr"]) for row in rows}
    assert sorted(logged) == list(range(1, 9))
    schedule = namespace["trainer"].lightning_module.optim_sche.schedule
    for real_step, lr in logged.items():
        assert lr == pytest.approx(schedule(real_step), rel=1e-6, abs=1e-9)
