"""``optimsche show`` / ``plot`` draw every scheduled hyperparameter of a config: a labelled
table and plot (a labelled panel) each, after the lr's."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import schedules
from optimsche.cli.commands import main
from optimsche.cli.lr_curves import lr_curves
from optimsche.config.loading import load_config
from optimsche.config.parsing import parse_optim_sches
from optimsche.config.records import ExperimentSettings

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "docs" / "examples" / "cosine_weight_decay.yaml"
TWO = ROOT / "docs" / "examples" / "speechain_two_optimizers.yaml"

TWO_KEYS = """
optim_sches:
  type: cosine
  conf:
    optim_type: Adam
    optim_conf: {lr: 1.0e-3}
    peak: 1.0e-3
    steps: 40
    hyperparameters:
      weight_decay: {type: linear, start: 0.0, end: 0.1, steps: 20}
      betas[0]: ["one_cycle(peak=0.85, steps=40, div=0.8947368421052632, final_div=1.0)"]
"""


def _png_height(path: Path) -> int:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    _width, height = struct.unpack(">II", data[16:24])
    return int(height)


def test_show_prints_a_labelled_table_and_plot_per_hyperparameter(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["show", str(EXAMPLE), "--steps", "100"]) == 0
    out = capsys.readouterr().out
    title = "main · weight_decay: cosine(peak=0.01, steps=10000, final=0.1)"
    assert title in out
    after = out.split(title, 1)[1].split("\n")
    header = next(line for line in after if line.split()[:2] == ["step", "real"])
    assert header.split() == ["step", "real", "step", "weight_decay", "at"]
    rows = [line.split() for line in after[after.index(header) + 1 :][:2]]
    expected = schedules.cosine(100, peak=0.01, steps=10000, final=0.1)
    assert rows[0][:3] == ["1", "1", f"{schedules.cosine(1, 0.01, 10000, 0.1):.3e}"]
    assert rows[1][:3] == ["100", "100", f"{expected:.3e}"]


def test_curves_hold_each_hyperparameter_at_the_lr_updates() -> None:
    records = parse_optim_sches(load_config(TWO_KEYS))
    (curve,) = lr_curves(records, ExperimentSettings(accum_grad=2), 80)
    assert curve.real_steps == tuple(range(1, 41))
    keys = [extra.key for extra in curve.hyperparameters]
    assert keys == ["weight_decay", "betas[0] (group 0)"]
    wd, beta1 = curve.hyperparameters
    assert wd.label == "linear(start=0.0, end=0.1, steps=20)"
    linear = [schedules.linear(r, 0.0, 0.1, 20) for r in range(1, 41)]
    assert wd.values == pytest.approx(linear, rel=1e-12)  # a Tensor curve: to an ulp or two
    inverse_cycle = [
        schedules.one_cycle(r, 0.85, 40, div=0.85 / 0.95, final_div=1.0) for r in range(1, 41)
    ]
    assert beta1.values == pytest.approx(inverse_cycle, rel=1e-12)
    assert min(beta1.values) == pytest.approx(0.85)  # max 0.95 -> base 0.85 -> max


def test_plot_draws_one_panel_per_curve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The figure grows by one panel for each hyperparameter (the lr-only config of two
    optimizers has two panels, the example with a weight decay too)."""
    heights = {}
    for name, config in (("two", TWO), ("example", EXAMPLE)):
        png = tmp_path / f"{name}.png"
        assert main(["plot", str(config), "--steps", "200", "-o", str(png)]) == 0
        heights[name] = _png_height(png)
    three = tmp_path / "three.yaml"
    three.write_text(TWO_KEYS)
    assert main(["plot", str(three), "-o", str(tmp_path / "three.png")]) == 0
    heights["three"] = _png_height(tmp_path / "three.png")
    capsys.readouterr()
    assert heights["two"] == heights["example"] < heights["three"]


def test_a_hyperparameter_schedule_that_goes_negative_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(TWO_KEYS.replace("start: 0.0, end: 0.1", "start: 0.1, end: -0.1"))
    assert main(["show", str(config)]) == 1
    err = capsys.readouterr().err
    assert "optim_sches.main.conf.hyperparameters.weight_decay: weight_decay: the schedule" in err
    assert "gave -0.010000000000000009 at step 11" in err
