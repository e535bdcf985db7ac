"""docs/lr_range_test.md runs as written: its first block sweeps, stops, suggests, leaves the
shell as it was and writes the plot; its group block sweeps both members."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import torch

DOC = Path(__file__).resolve().parents[2] / "docs" / "lr_range_test.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def _run(index: int) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "lr_range_docs"}
    exec(compile(BLOCKS[index], f"docs/lr_range_test.md[{index}]", "exec"), namespace)
    return namespace


def test_every_block_is_tested() -> None:
    assert len(BLOCKS) == 2


def test_the_first_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    namespace = _run(0)
    result = namespace["result"]
    assert result.stop_reason == "diverged" and 2 <= len(result.lrs) < 80
    assert 1e-6 < result.suggested_lr < result.lrs[-1]
    shell, model = namespace["optim_sche"], namespace["model"]
    assert shell.step_num == 0 and not shell.optimizer.state
    torch.manual_seed(0)  # the block's model, rebuilt: the parameters were put back
    torch.randn(256, 8), torch.randn(8, 1), torch.randn(256, 1)
    fresh = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
    for p, q in zip(model.parameters(), fresh.parameters(), strict=True):
        assert torch.equal(p, q)
    assert (tmp_path / "lr_range_test.png").stat().st_size > 1000


def test_the_group_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace = _run(1)
    result = namespace["result"]
    assert result.stop_reason in ("diverged", "nonfinite", "completed")
    assert len(result.lrs) >= 2 and result.suggested_lr is not None
    assert namespace["group"].step_num == 0
