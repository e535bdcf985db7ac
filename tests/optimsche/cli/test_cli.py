"""The optimsche command: show, plot, demo; exit codes and one-line errors."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import schedules
from optimsche.cli.commands import main

ROOT = Path(__file__).resolve().parents[3]
TWO = ROOT / "docs" / "examples" / "speechain_two_optimizers.yaml"
COSINE = ROOT / "docs" / "examples" / "warmup_cosine.yaml"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _table(out: str, name: str) -> list[list[str]]:
    """The rows of the key-step table of optimizer ``name`` in ``show`` output."""
    lines = out.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{name}: "))
    header = next(i for i in range(start, len(lines)) if lines[i].split()[:2] == ["step", "real"])
    rows = []
    for line in lines[header + 1 :]:
        if not line.strip():
            break
        rows.append(line.split(maxsplit=3))
    return rows


def test_show_the_speechain_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "show", str(TWO), "--steps", "10000")
    assert code == 0 and err == ""
    peak = schedules.noam(4000, 256, 4000)
    assert _table(out, "encoder_optim") == [
        ["2", "2", f"{schedules.noam(2, 256, 4000):.3e}", "first"],
        ["4000", "4000", f"{peak:.3e}", "peak"],
        ["10000", "10000", f"{schedules.noam(10000, 256, 4000):.3e}", "last"],
    ]
    assert _table(out, "decoder_optim")[0] == [
        "1",
        "1",
        f"{schedules.noam(1, 256, 4000):.3e}",
        "first",
    ]
    summary = "noam.NoamLr · Adam over encoder · loss 'encoder_loss' · updates every 2 windows"
    assert f"encoder_optim: {summary}\n" in out
    assert "5000 updates, the last at step 10000" in out
    assert "10000 updates, the last at step 10000" in out
    assert out.count("┤") >= 2 * 3 and out.count("└") == 2


def test_show_with_accumulation_and_fine_tuning_factor(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys, "show", str(COSINE), "--steps", "8000", "--accum-grad", "4", "--ft-factor", "0.1"
    )
    assert code == 0
    rows = _table(out, "main")
    assert rows[0] == [
        "4",
        "1",
        f"{0.1 * schedules.warmup_cosine(1, 3e-4, 2000, 100000, final=3e-5):.3e}",
        "first",
    ]
    assert rows[-1][:2] == ["8000", "2000"]
    assert "updates every window of 4 micro-steps · ft_factor 0.1" in out


def test_show_reads_accum_grad_from_an_experiment_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("experiment: {accum_grad: 2}\n" + COSINE.read_text())
    code, out, _ = _run(capsys, "show", str(config), "--steps", "10")
    assert code == 0 and _table(out, "main")[0][:2] == ["2", "1"]
    code, out, _ = _run(capsys, "show", str(config), "--steps", "10", "--accum-grad", "1")
    assert code == 0 and _table(out, "main")[0][:2] == ["1", "1"]


def test_show_default_steps_cover_the_schedule(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "show", str(COSINE))
    assert code == 0
    assert _table(out, "main")[-1][0] == "100000"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "optimsche: error: the following arguments are required: COMMAND"),
        (["bogus"], "optimsche: error: argument COMMAND: invalid choice: 'bogus'"),
        (["show"], "optimsche show: error: give CONFIG or --schedule EXPR (exactly one)"),
        (
            ["show", "x.yaml", "--steps", "0"],
            "argument --steps: expected a positive integer, got '0'",
        ),
        (
            ["show", "x.yaml", "--accum-grad", "two"],
            "argument --accum-grad: expected a positive integer",
        ),
        (
            ["show", "x.yaml", "--ft-factor", "-1"],
            "argument --ft-factor: expected a positive number",
        ),
        (["show", "x.yaml", "--stpes", "3"], "unrecognized arguments: --stpes 3"),
        (["plot", "-o", "x.png"], "give CONFIG or --schedule EXPR (exactly one)"),
        (["plot", "c.yaml", "--schedule", "cosine(peak=1, steps=2)", "-o", "x.png"], "exactly one"),
        (
            ["plot", "--schedule", "cosine(peak=1, steps=2)", "--accum-grad", "2", "-o", "x.png"],
            "--accum-grad and --ft-factor apply to a CONFIG only",
        ),
        (["plot", str(COSINE)], "the following arguments are required: -o/--output"),
        (["demo", "--ddp", "-1"], "argument --ddp: expected an integer >= 0, got '-1'"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert expected in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("optim_sches:\n  main:\n    type: cosine\n   conf: {}\n", "c.yaml:4:4: invalid YAML"),
        (
            "type: cosin\nconf: {optim_type: SGD}\n",
            "c.yaml: optim_sches.main.type: unknown type 'cosin'; did you mean 'cosine'?",
        ),
        (
            "type: noam.NoamLr\nconf: {optim_type: Adam, warmup_steps: -3}\n",
            "c.yaml: optim_sches.main: NoamLr: warmup_steps must be > 0, got -3",
        ),
        (
            "type: cosine\nconf: {optim_type: SGD, optim_conf: {lr: fast}, peak: 1, steps: 9}\n",
            "optim_conf.lr: must be a number or a Tensor for SGD, got 'fast'",
        ),
        (
            "experiment: {accum_grad: 0}\n"
            "optim_sches: {type: cosine, conf: {optim_type: SGD, peak: 1, steps: 9}}\n",
            "c.yaml: accum_grad: must be a positive integer, got 0",
        ),
    ],
)
def test_config_errors_exit_1_with_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(text)
    for command in (["show", str(config)], ["plot", str(config), "-o", str(tmp_path / "x.png")]):
        code, out, err = _run(capsys, *command)
        assert code == 1 and out == ""
        assert err.startswith("optimsche: error: ") and expected in err, err
        assert err.count("\n") == 1


def test_missing_config_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, "show", str(tmp_path / "none.yaml"))
    assert (
        code == 1
        and err == f"optimsche: error: {tmp_path / 'none.yaml'}: no such configuration file\n"
    )


def test_plot_config_and_schedule_write_pngs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_png = tmp_path / "out" / "two.png"
    code, out, _ = _run(capsys, "plot", str(TWO), "--steps", "2000", "-o", str(config_png))
    assert code == 0 and out == f"wrote {config_png}\n"
    assert config_png.read_bytes()[:8] == PNG_MAGIC
    schedule_png = tmp_path / "cos.png"
    code, _, _ = _run(
        capsys,
        "plot",
        "--schedule",
        "warmup_cosine(peak=3e-4, warmup=20, steps=200)",
        "-o",
        str(schedule_png),
    )
    assert code == 0 and schedule_png.read_bytes()[:8] == PNG_MAGIC


def test_plot_refuses_unsafe_expressions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "pwned"
    code, _, err = _run(
        capsys,
        "plot",
        "--schedule",
        f"__import__('os').system('touch {marker}')",
        "-o",
        str(tmp_path / "x.png"),
    )
    assert code == 1 and not marker.exists()
    assert "expected one call of a schedule function by name" in err


def test_plot_without_matplotlib_says_how_to_install_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    code, _, err = _run(capsys, "plot", str(COSINE), "-o", str(tmp_path / "x.png"))
    assert code == 1
    assert (
        err == "optimsche: error: optimsche plot needs matplotlib: pip install 'optimsche[plot]'\n"
    )


def test_plot_to_an_unwritable_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = _run(capsys, "plot", str(COSINE), "--steps", "10", "-o", str(blocker / "x.png"))
    assert code == 1 and err.startswith("optimsche: error: ") and err.count("\n") == 1


def test_demo_passes_its_arguments_to_run_demo(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[dict[str, Any]] = []

    def run_demo(**kwargs: Any) -> int:
        calls.append(kwargs)
        return 3

    fake = types.ModuleType("optimsche.demo")
    fake.run_demo = run_demo  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "optimsche.demo", fake)
    assert main(["demo"]) == 3
    assert calls[-1] == {"steps": None, "out": None, "config": None, "ddp": 0}
    assert (
        main(["demo", "--steps", "50", "--out", str(tmp_path), "--config", "my.yaml", "--ddp", "2"])
        == 3
    )
    assert calls[-1] == {"steps": 50, "out": tmp_path, "config": Path("my.yaml"), "ddp": 2}


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--help")
    assert code == 0 and "show" in out and "plot" in out and "demo" in out
    code, out, _ = _run(capsys, "plot", "--help")
    assert code == 0 and "--schedule EXPR" in out


def test_ascii_output_when_stdout_cannot_encode_unicode(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("optimsche.cli.commands._stdout_takes_unicode", lambda: False)
    code, out, _ = _run(capsys, "show", str(COSINE), "--steps", "3000")
    assert code == 0
    plot_lines = [line for line in out.split("\n") if "|" in line or "+" in line]
    assert plot_lines and all(line.isascii() for line in plot_lines)


def test_python_dash_m_optimsche_show_in_a_subprocess() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "optimsche", "show", str(TWO), "--steps", "400"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "encoder_optim: noam.NoamLr" in result.stdout and "decoder_optim" in result.stdout
