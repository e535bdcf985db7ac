"""Packaging: the LICENSE, ``__version__`` of both packages, ``optimsche --version`` without
torch, and an editable install whose packages a type checker sees from outside the checkout."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import optimsche
import schedules
from optimsche.package_version import UNKNOWN
from optimsche.package_version import package_version as optimsche_version
from schedules.package_version import package_version as schedules_version

ROOT = Path(__file__).resolve().parent.parent
EDITABLE_OPTION = "--config-settings editable_mode=compat"


def _installed_version() -> str | None:
    try:
        return importlib.metadata.version("optimsche")
    except importlib.metadata.PackageNotFoundError:
        return None


def test_the_license_file_is_the_apache_license_pyproject_names() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert text.lstrip().startswith("Apache License\n")
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_both_packages_report_the_distribution_version() -> None:
    expected = _installed_version() or UNKNOWN
    assert optimsche.__version__ == schedules.__version__ == expected
    assert optimsche_version() == schedules_version() == expected


@pytest.mark.parametrize("read", [optimsche_version, schedules_version])
def test_the_version_falls_back_when_the_distribution_is_not_installed(
    read: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = sys.modules[read.__module__]

    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(module, "version", missing)
    assert read() == UNKNOWN
    assert re.fullmatch(r"0\+unknown", UNKNOWN)  # a valid PEP 440 version


def _run_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_version_does_not_import_torch(tmp_path: Path) -> None:
    result = _run_python(
        "import sys\n"
        "from optimsche.cli import main\n"
        "status = main(['--version'])\n"
        "import optimsche\n"
        "print(status, optimsche.__version__, sorted(m for m in sys.modules if m == 'torch'"
        " or m.startswith('torch.')))\n",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    version_line, report = result.stdout.splitlines()
    assert version_line == f"optimsche {optimsche_version()}"
    assert report == f"0 {optimsche_version()} []"


def test_python_dash_m_optimsche_version_does_not_import_torch(tmp_path: Path) -> None:
    result = _run_python(
        "import runpy, sys\n"
        "sys.argv = ['optimsche', '--version']\n"
        "try:\n"
        "    runpy.run_module('optimsche', run_name='__main__')\n"
        "except SystemExit as exit_:\n"
        "    print('exit', exit_.code, 'torch' in sys.modules)\n",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"optimsche {optimsche_version()}", "exit 0 False"]


def test_the_public_names_import_lazily_and_completely() -> None:
    for name in optimsche.__all__:
        assert getattr(optimsche, name) is not None, name
    assert set(optimsche.__all__) <= set(dir(optimsche))
    with pytest.raises(AttributeError, match="'OptimSchedular'"):
        _ = optimsche.OptimSchedular  # type: ignore[attr-defined]


def test_the_install_commands_make_editable_installs_type_checkers_see() -> None:
    """setuptools' default editable mode installs an import hook that mypy and IDEs cannot
    follow ("Cannot find implementation or library stub for module named 'schedules'");
    ``editable_mode=compat`` puts the checkout on a ``.pth`` path instead."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = "\n".join(re.findall(r"```bash\n(.*?)```", readme, flags=re.S))
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for where, text in (("README.md", commands), (".ci/run", ci)):
        installs = re.findall(r"pip install[^\n&]* -e [^\n&]*", text)
        assert installs, f"{where} has no editable install"
        for command in installs:
            assert EDITABLE_OPTION in command, f"{where}: {command!r} lacks {EDITABLE_OPTION}"


def _editable_hook() -> Path | None:
    """The setuptools import-hook file of an editable install of optimsche, if any."""
    for distribution in importlib.metadata.distributions(name="optimsche"):
        for file in distribution.files or []:
            if file.name.startswith("__editable___") and file.name.endswith("_finder.py"):
                return Path(str(file.locate()))
    return None


def test_mypy_outside_the_checkout_finds_the_installed_packages(tmp_path: Path) -> None:
    if _installed_version() is None:
        pytest.skip("optimsche is not installed in this environment")
    hook = _editable_hook()
    if hook is not None:
        pytest.skip(
            f"this environment's editable install uses setuptools' import hook ({hook.name}), "
            f"which mypy cannot follow: reinstall with pip install -e . {EDITABLE_OPTION}"
        )
    pytest.importorskip("mypy", reason="mypy is in the dev extra")
    (tmp_path / "use.py").write_text("import optimsche\nimport schedules\n", encoding="utf-8")
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MYPYPATH")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--python-executable",
            sys.executable,
            "--follow-imports=skip",
            "--no-incremental",
            "use.py",
        ],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
