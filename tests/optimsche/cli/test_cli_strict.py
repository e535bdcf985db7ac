"""The command never shows a traceback, bounds its memory, imports only what it may, and
reports its version; ``show``/``plot --schedule`` take nested expressions."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

import schedules
from optimsche.cli import lr_curves
from optimsche.cli.commands import main
from optimsche.config.schedule_expression import parse_schedule_expression

ROOT = Path(__file__).resolve().parents[3]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version_prints_the_installed_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "--version")
    assert code == 0 and err == ""
    assert out == f"optimsche {importlib.metadata.version('optimsche')}\n"


def test_show_a_nested_schedule_expression(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(
        capsys, "show", "--schedule", "warmup(cosine(peak=1e-3, steps=10000), steps=500)"
    )
    assert code == 0 and err == ""
    assert out.startswith("schedule: warmup(cosine(peak=1e-3, steps=10000), steps=500)\n")
    assert "10500 updates, the last at step 10500" in out  # the horizon: 500 + 10000
    assert f"  500        500  {1e-3:.3e}  peak" in out
    code, out, _ = _run(
        capsys,
        "show",
        "--schedule",
        "join([constant(value=1e-3), cosine(peak=1e-3, steps=9000)], boundaries=[1000])",
        "--steps",
        "20",
    )
    assert code == 0 and "20 updates, the last at step 20" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["plot", "--schedule", "noam(d_model=1, warmup=1e-300)", "-o", "x.png"],
            "optimsche: error: schedule 'noam(d_model=1, warmup=1e-300)': noam:",
        ),
        (
            ["show", "--schedule", "warmup(cosine(peak=1, steps=2), warmup_steps=5)"],
            "unknown key 'warmup_steps' for combinator 'warmup'; did you mean 'steps'?",
        ),
        (
            ["show", "--schedule", "warmup(0.1, steps=5)"],
            "warmup: schedule must be a schedule (a callable step -> lr), got float: 0.1",
        ),
        (["show", "--schedule", "warmup(x, steps=5)"], "argument 'x' is not a literal"),
        (["show", "--schedule", "cosine(peak=1, steps=9)", "--steps", str(2**60)], "at most"),
    ],
)
def test_bad_schedules_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str, tmp_path: Path
) -> None:
    code, out, err = _run(capsys, *[str(tmp_path / a) if a == "x.png" else a for a in argv])
    assert code == 1 and out == ""
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err


def test_arithmetic_errors_of_a_config_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "userpkg_divides.py").write_text(
        "from optimsche import OptimScheduler\n"
        "class Divides(OptimScheduler):\n"
        "    def update_lr(self, real_step):\n"
        "        return 1.0 / (real_step - real_step)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    config = tmp_path / "c.yaml"
    config.write_text("type: userpkg_divides.Divides\nconf: {optim_type: SGD}\n")
    code, out, err = _run(capsys, "show", str(config), "--steps", "5", "--allow-imports")
    assert code == 1 and out == ""
    assert err.startswith("optimsche: error: ZeroDivisionError: float division by zero")
    assert err.count("\n") == 1


def test_plot_of_a_huge_horizon_is_sampled_in_bounded_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """200 million steps: at most MAX_POINTS of them are evaluated (a list of every step
    would need gigabytes)."""
    output = tmp_path / "lr.png"
    code, _, err = _run(
        capsys, "plot", "--schedule", "cosine(peak=1, steps=200000000)", "-o", str(output)
    )
    assert (code, err) == (0, "") and output.stat().st_size > 0
    curve = lr_curves.expression_curve(
        parse_schedule_expression("cosine(peak=1, steps=200000000)"), 200_000_000
    )
    assert len(curve.steps) == lr_curves.MAX_POINTS and curve.sampled
    assert curve.steps[0] == 1 and curve.steps[-1] == 200_000_000
    assert curve.lrs[-1] == schedules.cosine(200_000_000, peak=1, steps=200_000_000)
    code, _, err = _run(
        capsys, "plot", "--schedule", "cosine(peak=1, steps=1e308)", "-o", str(output)
    )
    assert code == 0 and err == ""


def _module(tmp_path: Path) -> Path:
    package = tmp_path / "userpkg_strict"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from pathlib import Path\n"
        "Path(__file__).with_name('IMPORTED').write_text('yes')\n"
        "from torch.optim import SGD as MySGD\n"
    )
    return package


def test_show_refuses_a_config_that_imports_other_modules_unless_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _module(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    config = tmp_path / "c.yaml"
    config.write_text(
        "type: cosine\nconf: {optim_type: userpkg_strict.MySGD, peak: 1.0, steps: 10}\n"
    )
    code, out, err = _run(capsys, "show", str(config))
    assert code == 1 and out == ""
    assert "optim_type 'userpkg_strict.MySGD': importing module 'userpkg_strict' would run" in err
    assert "pass --allow-imports" in err and err.count("\n") == 1
    assert not (package / "IMPORTED").exists()  # refused before importing
    typed = tmp_path / "t.yaml"
    typed.write_text("type: userpkg_strict.Shell\nconf: {optim_type: SGD}\n")
    code, _, err = _run(capsys, "plot", str(typed), "-o", str(tmp_path / "x.png"))
    assert code == 1 and "optim_sches.main.type: 'userpkg_strict.Shell': importing module" in err
    assert not (package / "IMPORTED").exists()
    code, out, err = _run(capsys, "show", str(config), "--allow-imports")
    assert code == 0 and err == "" and (package / "IMPORTED").exists()


def test_configs_of_schedules_optimsche_and_torch_need_no_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "optim_sches:\n"
        "  a: {type: noam.NoamLr, conf: {optim_type: torch.optim.Adam, updated_modules: x}}\n"
        "  b: {type: optimsche.speechain.ExponentDecayLr, conf: {optim_type: SGD, "
        "updated_modules: y}}\n"
    )
    code, _, err = _run(capsys, "show", str(config), "--steps", "5")
    assert code == 0 and err == ""


def test_the_command_line_never_prints_a_traceback(tmp_path: Path) -> None:
    """The three commands the issue names, as a user runs them."""
    for expression in (
        "cosine(peak=1, steps=1e308)",
        "noam(d_model=1, warmup=1e-300)",
        "warmup(cosine(peak=1, steps=2), warmup_steps=5)",
    ):
        command = ["plot", "--schedule", expression, "-o", str(tmp_path / "lr.png")]
        done = subprocess.run(
            [sys.executable, "-m", "optimsche", *command],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        assert "Traceback" not in done.stderr and done.stderr.count("\n") <= 1


def test_show_a_config_whose_schedule_is_an_expression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "optim_sches:\n  main:\n    conf:\n      optim_type: AdamW\n"
        '      schedule: "warmup(cosine(peak=1.0e-3, steps=10000), steps=500)"\n'
    )
    code, out, err = _run(capsys, "show", str(config))
    assert code == 0 and err == ""
    assert out.startswith("main: warmup(cosine(peak=1.0e-3, steps=10000), steps=500) · AdamW")
    assert "10500 updates, the last at step 10500" in out
    assert f"  500        500  {1e-3:.3e}  peak" in out
