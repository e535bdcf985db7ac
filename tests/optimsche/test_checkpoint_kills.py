"""Savers SIGKILLed at random moments (``checkpoint_kill_harness.py``): after every kill a
``save_checkpoint`` path loads and holds one of the saved versions, and at most the one
temporary file being written at the kill is left (the next save removes it); a plain in-place
``torch.save`` over the previous file can leave it unloadable (the rate is measured and printed,
not asserted: it depends on the machine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from optimsche.checkpoint_files import load_checkpoint, save_checkpoint, temp_file_pattern

pytestmark = pytest.mark.skipif(
    not hasattr(os, "fork") or sys.platform == "win32", reason="needs fork and SIGKILL"
)

HARNESS = Path(__file__).with_name("checkpoint_kill_harness.py")
ROOT = Path(__file__).resolve().parents[2]
TRIALS = 30
KIB = 512


def _run_harness(folder: Path, *args: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, str(HARNESS), str(folder), "--kib", str(KIB), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _check_version(state: Any, started: int) -> int:
    """``state`` is one whole saved version, and one the saver could have finished."""
    v = state["version"]
    assert started - 2 <= v <= started - 1, (v, started)
    assert torch.equal(state["data"], torch.full_like(state["data"], float(v)))
    assert len(state["layers"]) == 4
    assert all(torch.equal(t, torch.full_like(t, float(v))) for t in state["layers"])
    assert state["data"].numel() * 4 + sum(t.numel() * 4 for t in state["layers"]) > KIB * 900
    return int(v)


def _temp_files(folder: Path) -> list[str]:
    pattern = temp_file_pattern("ckpt.pt")
    return [name for name in os.listdir(folder) if pattern.fullmatch(name)]


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("kills")
    result = _run_harness(folder, "--trials", str(TRIALS), "--mid-write-trials", "2")
    return folder, result


def test_every_killed_atomic_save_leaves_a_loadable_version(
    killed: tuple[Path, dict[str, Any]],
) -> None:
    folder, result = killed
    assert result["trials"] == TRIALS >= 20
    leftovers = 0
    for k, started in enumerate(result["started"]["atomic"]):
        trial = folder / f"atomic-{k}"
        temps = _temp_files(trial)
        assert sorted(os.listdir(trial)) == sorted(["ckpt.pt", *temps]), os.listdir(trial)
        assert len(temps) <= 1  # only the save the kill interrupted
        leftovers += len(temps)
        _check_version(load_checkpoint(trial / "ckpt.pt"), started)
        save_checkpoint({"after": True}, trial / "ckpt.pt")  # the next save cleans up
        assert os.listdir(trial) == ["ckpt.pt"]
    print(f"\natomic: {TRIALS}/{TRIALS} loadable after SIGKILL, {leftovers} temporary file(s) left")


def test_a_save_killed_mid_write_keeps_the_previous_version(
    killed: tuple[Path, dict[str, Any]],
) -> None:
    folder, result = killed
    for k, started in enumerate(result["started"]["atomic-mid"]):
        trial = folder / f"atomic-mid-{k}"
        (temp,) = _temp_files(trial)  # the half-written version 1
        assert started == 2
        assert load_checkpoint(trial / "ckpt.pt")["version"] == 0
        with pytest.raises(ValueError, match="is truncated"):
            load_checkpoint(trial / temp)
        save_checkpoint({"after": True}, trial / "ckpt.pt")
        assert os.listdir(trial) == ["ckpt.pt"]


def test_an_in_place_torch_save_killed_mid_write_is_unloadable(
    killed: tuple[Path, dict[str, Any]],
) -> None:
    folder, result = killed
    for k in range(len(result["started"]["inplace-mid"])):
        path = folder / f"inplace-mid-{k}" / "ckpt.pt"
        with pytest.raises(ValueError, match=f"checkpoint file {path} is truncated"):
            load_checkpoint(path)


def test_in_place_saves_killed_at_random_moments_are_counted(
    killed: tuple[Path, dict[str, Any]],
) -> None:
    folder, result = killed
    unloadable = 0
    for k, started in enumerate(result["started"]["inplace"]):
        trial = folder / f"inplace-{k}"
        assert os.listdir(trial) == ["ckpt.pt"]
        try:
            state = load_checkpoint(trial / "ckpt.pt")
        except ValueError:
            unloadable += 1
        else:
            _check_version(state, started)  # what does load is one whole version
    print(
        f"\nin-place torch.save: {unloadable}/{TRIALS} unloadable after SIGKILL at random "
        f"moments ({result['seconds']:.1f} s for {2 * TRIALS + 4} kills)"
    )
