"""docs/clocks_and_units.md: every Python block runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parent.parent / "docs" / "clocks_and_units.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)


def test_the_page_has_its_examples() -> None:
    assert len(BLOCKS) >= 7


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_block_runs(index: int) -> None:
    code = compile(BLOCKS[index], f"{PAGE.name}[python block {index}]", "exec")
    exec(code, {"__name__": "docs"})
