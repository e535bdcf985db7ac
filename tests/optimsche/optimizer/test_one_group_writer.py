"""Only optimsche/optimizer/param_group_values.py assigns to a param group's entries.

Found by reading the source (``ast``): an assignment ``group[key] = ...`` (or ``+=``) to a
subscript of anything named like a param group, or of ``param_groups[...]``, anywhere else in
``optimsche`` fails this test. Writes go through ``write_group_value`` (values while
training) or ``replace_group_entry`` (setting up and restoring entry objects).
"""

from __future__ import annotations

import ast
from pathlib import Path

import optimsche

PACKAGE = Path(optimsche.__file__).resolve().parent
WRITER = PACKAGE / "optimizer" / "param_group_values.py"


def _names_a_group(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return "group" in node.id.lower()
    if isinstance(node, ast.Attribute):
        return "group" in node.attr.lower()
    if isinstance(node, ast.Subscript):
        return _names_a_group(node.value)
    return False


def _group_writes(path: Path, base: Path = PACKAGE) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Subscript) and _names_a_group(target.value):
                found.append(f"{path.relative_to(base)}:{node.lineno}")
    return found


def test_param_group_entries_are_written_in_one_module_only() -> None:
    writes = [
        where
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != WRITER
        for where in _group_writes(path)
    ]
    assert writes == []


def test_the_scan_finds_direct_writes(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def f(optimizer, group):\n"
        "    optimizer.param_groups[0]['lr'] = 0.1\n"
        "    group['weight_decay'] *= 2\n"
        "    lrs = {}\n"
        "    lrs['a'] = 1\n"
    )
    assert _group_writes(sample, tmp_path) == ["sample.py:2", "sample.py:3"]
