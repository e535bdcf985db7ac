"""The README's quick start installs what its examples import, and a CPU build of torch."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
QUICK_START = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
FIRST_COMMAND = re.findall(r"```bash\n(.*?)```", QUICK_START, flags=re.S)[0]
OWN = {"schedules", "optimsche", "torch"}
PROVIDES = {"hypothesis": "hypothesis", "matplotlib": "matplotlib", "numpy": "numpy"}


def _installed_extras() -> set[str]:
    found = re.findall(r'pip install -e "\.\[([a-z,]+)\]"', FIRST_COMMAND)
    assert found, "the quick start installs no extras"
    return {extra for group in found for extra in group.split(",")}


def _example_imports() -> set[str]:
    modules: set[str] = set()
    for block in re.findall(r"```python\n(.*?)```", README, flags=re.S):
        if not block.startswith(("import ", "from ")):
            continue  # a recipe fragment, not run
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in OWN and m not in sys.stdlib_module_names}


def test_the_quick_start_installs_every_package_the_examples_import() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    installed = {
        re.split(r"[<>=!~ ]", requirement)[0]
        for extra in _installed_extras()
        for requirement in extras[extra]
    }
    needed = {PROVIDES.get(module, module) for module in _example_imports()}
    assert needed <= installed, f"the quick start misses {sorted(needed - installed)}"


def test_the_quick_start_installs_the_cpu_build_of_torch_and_falls_back_fast() -> None:
    """The CPU build from PyTorch's index, tried once (no ~90 s of retries where the index
    cannot be reached), then torch from PyPI."""
    cpu = re.search(
        r"pip install (?P<options>[^|&]*?)torch==2\.13\.0 "
        r"--index-url https://download\.pytorch\.org/whl/cpu \|\| pip install torch==2\.13\.0",
        FIRST_COMMAND,
    )
    assert cpu, FIRST_COMMAND
    assert "--retries 0" in cpu["options"]
    assert re.search(r"--timeout \d+", cpu["options"])
