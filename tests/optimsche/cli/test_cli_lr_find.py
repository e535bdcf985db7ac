"""``optimsche lr-find`` on the demo model: tiny settings, the suggestion printed, the plot
written, bad flags refused with exit status 2 or 1 and one line on stderr."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from optimsche.cli.commands import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_lr_find_prints_a_suggestion_and_saves_the_plot(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    out_file = tmp_path / "lr_find.png"
    code, out, err = _run(
        capsys,
        "lr-find",
        "--updates", "6",
        "--batch-size", "2",
        "--min-lr", "1e-5",
        "--max-lr", "1e2",
        "--out", str(out_file),
    )  # fmt: skip
    assert code == 0, err
    assert "encoder_optim, decoder_optim; accum_grad 2, 2 sequences per micro-batch" in out
    counted = re.search(r"(\d+) of 6 updates, lr 1e-05 \.\. (\S+), stopped: (\w[\w ]*)", out)
    assert counted is not None, out
    assert counted.group(3) in ("completed", "diverged", "nonfinite")
    suggested = re.search(r"suggested lr: (\S+) \(steepest descent", out)
    assert suggested is not None and 1e-5 <= float(suggested.group(1)) <= 1e2
    assert out_file.stat().st_size > 1000 and f"wrote {out_file}" in out


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--updates", "1"], 2, "--updates: expected an integer >= 2, got '1'"),
        (["--min-lr", "0"], 2, "--min-lr: expected a positive number, got '0'"),
        (["--mode", "cosine"], 2, "invalid choice: 'cosine'"),
        (["--min-lr", "1", "--max-lr", "0.5"], 1, "--max-lr must be > --min-lr (1.0), got 0.5"),
        (["--config", "/nonexistent.yaml"], 1, "/nonexistent.yaml: no such configuration file"),
    ],
)
def test_bad_flags(
    capsys: pytest.CaptureFixture[str], argv: list[str], code: int, message: str
) -> None:
    got, _, err = _run(capsys, "lr-find", *argv)
    assert got == code and message in err and len(err.strip().splitlines()) == 1, err
