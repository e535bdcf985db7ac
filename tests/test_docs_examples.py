"""Every Python block of README.md and docs/*.md runs as written.

Each ```python block runs in a fresh namespace, in a fresh temporary working folder (a block
may write files), in this process. Its first line may say how it is run:

* ``# excerpt of <path>``: a shortened view of a file of this repository; it is not run, and
  the test checks instead that ``<path>`` exists and that a test names it (its path, its file
  name or its module name appears in a file under ``tests/``), so that the file itself runs.
* ``# needs: <module>[, <module>]``: run only where those modules import (skipped, naming
  them, elsewhere; the ``dev`` extra has them all).
* ``# slow: <why>``: run only with ``OPTIMSCHE_DOCS_SLOW=1`` in the environment (``.ci/run``
  sets it), so that a plain ``pytest`` stays fast; skipped, saying so, otherwise.

Any other block runs. Blocks in other languages (bash, yaml, text) are not run here; the
quick-start commands are checked by tests/test_readme_quick_start.py.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SLOW_VARIABLE = "OPTIMSCHE_DOCS_SLOW"
_BLOCK = re.compile(r"^```(python|py|python3)[ \t]*\n(.*?)^```", flags=re.M | re.S)
_EXCERPT = re.compile(r"# excerpt of (\S+)\s*$")
_NEEDS = re.compile(r"# needs: (.+?)\s*$")
_SLOW = re.compile(r"# slow: (.+?)\s*$")


class Block(NamedTuple):
    page: Path
    line: int  # 1-based line of the block's first code line in its page
    code: str

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def first_line(self) -> str:
        return self.code.split("\n", 1)[0]


def python_blocks(page: Path) -> list[Block]:
    """The ```python blocks of ``page``, with the line each starts on."""
    text = page.read_text(encoding="utf-8")
    return [
        Block(page, text.count("\n", 0, match.start(2)) + 1, match.group(2))
        for match in _BLOCK.finditer(text)
    ]


BLOCKS = [block for page in PAGES for block in python_blocks(page)]
RUN = [block for block in BLOCKS if not _EXCERPT.match(block.first_line)]
EXCERPTS = [block for block in BLOCKS if _EXCERPT.match(block.first_line)]


def _test_sources() -> str:
    return "\n".join(
        path.read_text(encoding="utf-8", errors="replace")
        for path in (ROOT / "tests").rglob("*.py")
        if path.resolve() != Path(__file__).resolve()
    )


def test_the_pages_have_blocks_to_run() -> None:
    pages = {block.page.name for block in RUN}
    assert "README.md" in pages
    assert len([block for block in RUN if block.page.name == "README.md"]) >= 3


@pytest.mark.parametrize("block", RUN, ids=[block.name for block in RUN])
def test_the_block_runs_as_written(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs = _NEEDS.match(block.first_line)
    if needs:
        for module in (name.strip() for name in needs.group(1).split(",")):
            if importlib.util.find_spec(module) is None:
                pytest.skip(f"{block.name} needs {module}, which is not installed")
    slow = _SLOW.match(block.first_line)
    if slow and os.environ.get(SLOW_VARIABLE) != "1":
        pytest.skip(f"{block.name} is slow ({slow.group(1)}): set {SLOW_VARIABLE}=1 to run it")
    monkeypatch.chdir(tmp_path)
    code = compile("\n" * (block.line - 1) + block.code, str(block.page), "exec")
    exec(code, {"__name__": "__docs_example__"})


@pytest.mark.parametrize("block", EXCERPTS, ids=[block.name for block in EXCERPTS])
def test_an_excerpt_names_a_file_that_a_test_runs(block: Block) -> None:
    match = _EXCERPT.match(block.first_line)
    assert match
    relative = match.group(1)
    path = ROOT / relative
    assert path.is_file(), f"{block.name}: the excerpt names {relative}, which does not exist"
    module = relative.removesuffix(".py").replace("/", ".")
    sources = _test_sources()
    if path.parent == ROOT / "tests" or ROOT / "tests" in path.parents:
        assert path.name.startswith("test_"), f"{block.name}: {relative} is not a test file"
        return
    assert relative in sources or path.name in sources or module in sources, (
        f"{block.name}: no test under tests/ names {relative}"
    )


def test_every_relative_link_of_the_pages_reaches_a_file() -> None:
    missing = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            file = target.split("#", 1)[0]
            if not (page.parent / file).exists():
                missing.append(f"{page.relative_to(ROOT)} -> {target}")
    assert missing == []


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+?)\s*$", page.read_text(encoding="utf-8"), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_anchor_link_names_a_heading() -> None:
    broken = []
    for page in PAGES:
        text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
        for target in re.findall(r"\]\(([^)\s]*#[^)\s]+)\)", text):
            file, anchor = target.split("#", 1)
            if re.match(r"[a-z]+:", file):
                continue
            linked = (page.parent / file) if file else page
            if linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []
