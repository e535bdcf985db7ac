"""Plain ``pytest`` works without the optional test dependencies: their tests skip, with the
reason, instead of failing at collection."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_lightning_tests_skip_without_pytorch_lightning() -> None:
    hide_and_run = (
        "import sys; sys.modules['pytorch_lightning'] = None; import pytest; "
        "sys.exit(pytest.main(['-q', '-rs', '-p', 'no:cacheprovider', "
        "'tests/optimsche/test_lr_scheduler_adapter_lightning.py']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", hide_and_run],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=300,
    )
    # 5: "no tests collected" (the module skipped as a whole), not 2 (a collection error)
    assert done.returncode in (0, 5), done.stdout + done.stderr
    assert "error" not in done.stdout.lower()
    assert "SKIPPED" in done.stdout and "pytorch-lightning is not installed" in done.stdout
