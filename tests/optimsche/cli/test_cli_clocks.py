"""optimsche show/plot of schedules of several clocks, drawn against updates given
--updates-per-epoch; the clocks a preview cannot know are one-line errors naming them."""

from __future__ import annotations

from pathlib import Path

import pytest

import schedules
from optimsche.cli.commands import main
from optimsche.cli.lr_curves import expression_curve, schedule_values, update_times
from optimsche.config.error import ConfigError
from optimsche.config.schedule_expression import parse_schedule_expression
from schedules import Time, at_time

TWO_CLOCKS = (
    "multiply(on('update', cosine(peak=1.0, steps=100)), "
    "on('epoch', exponential(start=1.0, rate=0.5, steps=1)))"
)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("per_epoch", [1, 7, 30, 1000])
def test_each_update_is_evaluated_in_its_epoch(per_epoch: int) -> None:
    expression = parse_schedule_expression(TWO_CLOCKS)
    curve = expression_curve(expression, 90, updates_per_epoch=per_epoch)
    cos = schedules.bind(schedules.cosine, peak=1.0, steps=100)
    for update, lr in zip(curve.steps, curve.lrs, strict=True):
        epoch = (update - 1) // per_epoch + 1
        assert lr == pytest.approx(cos(update) * 0.5**epoch, rel=1e-12)


def test_tensor_and_step_by_step_evaluation_agree() -> None:
    eden = schedules.eden(100, 2.0)
    steps = tuple(range(1, 400, 3))
    batched = schedule_values(eden, steps, 37)
    one_by_one = [at_time(eden, t) for t in update_times(eden, steps, 37, "eden")]
    assert batched == pytest.approx(one_by_one, rel=1e-12)
    assert update_times(eden, (1, 37, 38), 37, "eden") == [
        Time(update=1, epoch=1),
        Time(update=37, epoch=1),
        Time(update=38, epoch=2),
    ]


def test_show_draws_eden_against_updates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(
        capsys,
        "show",
        "--schedule",
        "scale(eden(lr_batches=100, lr_epochs=2.0, warmup_batches=10), 0.5)",
        "--steps",
        "600",
        "--updates-per-epoch",
        "200",
    )
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[1] == "600 updates, the last at step 600"
    last = next(line for line in lines if line.strip().endswith("last")).split()
    eden = schedules.eden(100, 2.0, warmup_batches=10)
    assert float(last[2]) == pytest.approx(0.5 * eden(Time(update=600, epoch=3)), rel=1e-3)


def test_plot_draws_several_clocks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "eden.png"
    code, _, err = _run(
        capsys, "plot", "--schedule", TWO_CLOCKS, "--updates-per-epoch", "25", "-o", str(png)
    )
    assert code == 0 and err == "" and png.read_bytes()[:4] == b"\x89PNG"


def test_an_epoch_schedule_without_updates_per_epoch_is_an_error_naming_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _run(capsys, "show", "--schedule", TWO_CLOCKS)
    assert code == 1 and out == ""
    assert err == (
        f"optimsche: error: schedule {TWO_CLOCKS!r} reads the 'epoch' clock: give "
        "--updates-per-epoch N (the updates in one epoch) to draw it against updates\n"
    )


def test_a_config_entry_names_its_schedule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "eden.yaml"
    config.write_text(
        "optim_sches:\n  main:\n    type: OptimScheduler\n    conf:\n      optim_type: Adam\n"
        "      schedule: 'scale(eden(lr_batches=100, lr_epochs=2.0), 0.04)'\n"
    )
    code, _, err = _run(capsys, "show", str(config), "--steps", "300")
    assert code == 1 and "optim_sches.main.conf.schedule reads the 'epoch' clock" in err
    code, out, _ = _run(capsys, "show", str(config), "--steps", "300", "--updates-per-epoch", "50")
    assert code == 0 and "300 updates" in out


def test_the_items_clock_cannot_be_previewed() -> None:
    expression = parse_schedule_expression("on('items', cosine(peak=1.0, steps=100))")
    with pytest.raises(ConfigError, match="reads the 'items' clock"):
        expression_curve(expression, 10, updates_per_epoch=5)


@pytest.mark.parametrize("bad", ["0", "-3", "1.5", "x"])
def test_updates_per_epoch_must_be_a_positive_integer(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "show", "--schedule", TWO_CLOCKS, "--updates-per-epoch", bad)
    assert code == 2 and "expected a positive integer" in err


def test_plain_schedules_ignore_updates_per_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    plain = ["show", "--schedule", "cosine(peak=1.0, steps=100)"]
    assert _run(capsys, *plain)[1] == _run(capsys, *plain, "--updates-per-epoch", "3")[1]


def test_show_resolves_units_with_horizon_and_updates_per_epoch(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = "warmup(cosine(peak=1.0, steps='95%'), steps='1ep')"
    code, out, err = _run(
        capsys, "show", "--schedule", text, "--horizon", "2000", "--updates-per-epoch", "100"
    )
    assert code == 0 and err == ""
    assert out.splitlines()[1] == "2000 updates, the last at step 2000"
    peak = next(line for line in out.splitlines() if line.strip().endswith("peak")).split()
    assert peak[0] == "100"  # the warmup of one epoch of 100 updates
    code, _, err = _run(capsys, "show", "--schedule", text, "--updates-per-epoch", "100")
    assert code == 1 and "'95%' on the 'update' clock is a fraction of the run's horizon" in err
    assert "--horizon N" in err


def test_an_epoch_clock_config_reads_the_epoch_of_each_update(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "epochs.yaml"
    config.write_text(
        "optim_sches:\n  main:\n    type: cosine\n    conf:\n      optim_type: SGD\n"
        "      clock: epoch\n      peak: 0.1\n      steps: 10\n"
    )
    from optimsche.cli.lr_curves import lr_curves
    from optimsche.config.parsing import parse_optim_sches
    from optimsche.config.records import ExperimentSettings
    from schedules import bind, cosine

    records = parse_optim_sches({"optim_sches": _load(config)})
    curve = lr_curves(records, ExperimentSettings(), 300, updates_per_epoch=30)[0]
    cos = bind(cosine, peak=0.1, steps=10)
    expected = [cos((r - 1) // 30 + 1) for r in range(1, 301)]
    assert curve.lrs == pytest.approx(expected, rel=1e-12)  # a Tensor curve: last-ulp rounding
    one_per_update = lr_curves(records, ExperimentSettings(), 30)[0]
    assert one_per_update.lrs == pytest.approx([cos(r) for r in range(1, 31)], rel=1e-12)


def _load(path: Path) -> object:
    from optimsche.config.loading import load_config

    return load_config(path)["optim_sches"]
