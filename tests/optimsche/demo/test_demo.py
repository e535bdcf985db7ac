"""``run_demo`` end to end in one process: files, the resume check (which must be able to
fail), user configs, and errors before any work. (Two DDP processes: test_demo_ddp.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from optimsche.cli.commands import main
from optimsche.config.building import build_optim_sches
from optimsche.config.error import ConfigError
from optimsche.demo import curves, run_demo, training
from optimsche.demo import run as demo_run
from optimsche.demo.checkpoint import FORMAT, load_checkpoint
from optimsche.demo.config import load_demo_config
from optimsche.demo.training import DemoSettings, build_model
from optimsche.group import OptimSchedulerGroup

REPO = Path(__file__).resolve().parents[3]
BAD_CONFIG = """\
optim_sches:
  asr_optim:
    type: noam.NoamLr
    conf:
      optim_type: Adam
      optim_loss: asr_loss
      updated_modules: [asr_encoder]
"""


def test_demo_runs_resumes_identically_and_writes_its_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert run_demo(steps=24, out=out) == 0
    printed = capsys.readouterr()
    assert "resume check: identical" in printed.out
    assert "checkpoint at micro-step 13, inside window 7 (its partial gradients" in printed.out
    assert re.search(r"chance \(uniform guess\): +token +7\.7 %", printed.out)
    assert "encoder_optim: 6 updates, 0 skipped" in printed.out  # windows 2, 4, .., 12
    assert "decoder_optim: 12 updates, 0 skipped" in printed.out
    assert "train [" in printed.err and "24/24" in printed.err
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name, step in (("checkpoint-half.pt", 13), ("checkpoint-final.pt", 24)):
        state = torch.load(out / name, weights_only=True)
        assert state["format"] == FORMAT and state["step_num"] == step
        config = load_demo_config()
        model = build_model(DemoSettings(seed=5))
        group = build_optim_sches(config.optim_sches, model, **config.experiment_kwargs())
        assert load_checkpoint(out / name, model, group) == step
        assert group.step_num == step


def test_the_resume_check_reports_a_checkpoint_that_does_not_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def forgetful_load(path: Path, model: torch.nn.Module, group: OptimSchedulerGroup) -> int:
        state = torch.load(path, weights_only=True)
        model.load_state_dict(state["model"])  # the optimizers' state is lost
        return int(state["step_num"])

    monkeypatch.setattr(training, "load_checkpoint", forgetful_load)
    assert run_demo(steps=16, out=tmp_path) == 1
    printed = capsys.readouterr().out
    assert "resume check: DIFFERENT (encoder." in printed


def test_a_user_config_runs_and_a_missing_matplotlib_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(curves, "matplotlib_available", lambda: False)
    example = REPO / "docs" / "examples" / "speechain_two_optimizers.yaml"
    assert run_demo(steps=8, out=tmp_path, config=example) == 0
    printed = capsys.readouterr().out
    assert f"config: {example}" in printed
    assert "matplotlib is not installed: no curves.png" in printed
    assert not (tmp_path / "curves.png").exists()
    assert (tmp_path / "checkpoint-final.pt").exists()


def test_a_config_for_another_model_fails_before_any_work(tmp_path: Path) -> None:
    path = tmp_path / "asr.yaml"
    path.write_text(BAD_CONFIG)
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="first-level modules 'encoder', 'decoder' and losses"):
        run_demo(steps=4, out=out, config=path)
    assert not out.exists()


def test_the_command_line_gives_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "asr.yaml"
    path.write_text(BAD_CONFIG)
    assert main(["demo", "--config", str(path), "--out", str(tmp_path / "out")]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "updated_modules: 'asr_encoder' is not a module of the demo model" in error
    assert main(["demo", "--config", str(tmp_path / "missing.yaml")]) == 1
    assert "no such configuration file" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["demo", "--steps", "2", "--out", str(blocker)]) == 1
    assert "exists and is not a folder" in capsys.readouterr().err


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ConfigError, match="--steps must be a positive integer"):
        run_demo(steps=0)
    with pytest.raises(ConfigError, match="--ddp must be 0"):
        run_demo(ddp=-1)
    with pytest.raises(ConfigError, match="collective_timeout_s must be a number of seconds > 0"):
        run_demo(ddp=2, collective_timeout_s=0)


def test_ddp_processes_get_the_bounded_collective_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--ddp`` hands the process group a 60 s timeout by default (torch's is 30 minutes)."""
    seen: list[float] = []

    class Stop(Exception):
        pass

    def launcher(*args: object, collective_timeout_s: float, **kwargs: object) -> None:
        seen.append(collective_timeout_s)
        raise Stop

    monkeypatch.setattr(demo_run, "run_local_processes", launcher)
    with pytest.raises(Stop):
        run_demo(steps=4, out=tmp_path, ddp=2)
    with pytest.raises(Stop):
        run_demo(steps=4, out=tmp_path, ddp=2, collective_timeout_s=5.0)
    assert seen == [60.0, 5.0]
