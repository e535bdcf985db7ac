"""The README's Python examples run as written: every ```python block that starts with an
import is executed in a fresh namespace (recipe fragments for Lightning/transformers, which
start with a comment, are only shown)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
RUNNABLE = [block for block in BLOCKS if block.startswith(("import ", "from "))]


def test_readme_has_runnable_examples() -> None:
    assert len(RUNNABLE) >= 4


@pytest.mark.parametrize("index", range(len(RUNNABLE)))
def test_readme_example_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = RUNNABLE[index].replace("/tmp/optim_sches.pt", str(tmp_path / "optim_sches.pt"))
    exec(compile(code, f"README.md[python block {index}]", "exec"), {"__name__": "readme"})
