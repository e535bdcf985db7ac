"""``save_checkpoint`` / ``load_checkpoint``: atomic writes that leave nothing behind, cleanup
of what killed saves left, and errors that name the file. (Killing real savers:
``test_checkpoint_kills.py``.)"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import torch

import optimsche
from optimsche import checkpoint_files
from optimsche.checkpoint_files import load_checkpoint, save_checkpoint, temp_file_pattern

fcntl = pytest.importorskip("fcntl")

STATE = {"weights": torch.arange(6.0).reshape(2, 3), "step": 7, "name": "run", "lr": 1e-3}


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(
        torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k] for k in a
    )


def test_saves_and_loads_with_nothing_left_behind(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.pt"
    save_checkpoint(STATE, path)
    assert os.listdir(tmp_path) == ["ckpt.pt"]
    assert _same(load_checkpoint(path), STATE)
    assert _same(torch.load(path, weights_only=True), STATE)  # a plain torch checkpoint
    save_checkpoint({**STATE, "step": 8}, str(path))  # over the old one, str paths too
    assert os.listdir(tmp_path) == ["ckpt.pt"]
    assert load_checkpoint(str(path), map_location="cpu")["step"] == 8
    assert optimsche.save_checkpoint is save_checkpoint
    assert optimsche.load_checkpoint is load_checkpoint


def test_the_file_gets_the_permissions_open_would_give(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    save_checkpoint(STATE, tmp_path / "ckpt.pt")
    with open(tmp_path / "plain", "wb"):
        pass
    mode = stat.S_IMODE(os.stat(tmp_path / "ckpt.pt").st_mode)
    assert mode == stat.S_IMODE(os.stat(tmp_path / "plain").st_mode) == 0o666 & ~umask


def test_the_data_is_fsynced_before_the_rename_and_the_folder_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        kind = "folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        events.append(("fsync", kind))
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        events.append(("replace", Path(dst).name))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    save_checkpoint(STATE, tmp_path / "ckpt.pt")
    assert events == [("fsync", "file"), ("replace", "ckpt.pt"), ("fsync", "folder")]


class Unpicklable:
    def __reduce__(self) -> Any:
        raise RuntimeError("cannot pickle this")


@pytest.mark.parametrize("step", ["torch.save", "fsync", "replace"])
def test_a_failed_save_removes_its_temporary_file_and_keeps_the_old_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    path = tmp_path / "ckpt.pt"
    save_checkpoint(STATE, path)
    before = path.read_bytes()
    new: object = {**STATE, "step": 9}
    if step == "torch.save":
        new = {"bad": Unpicklable()}
    else:

        def fail(*args: Any) -> None:
            raise OSError(errno.EIO, f"{step} failed")

        monkeypatch.setattr(os, step, fail)
    with pytest.raises((RuntimeError, OSError), match=r"cannot pickle this|failed"):
        save_checkpoint(new, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ckpt.pt"]
    assert path.read_bytes() == before


def test_a_failed_first_save_leaves_no_file_at_all(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="cannot pickle this"):
        save_checkpoint({"bad": Unpicklable()}, tmp_path / "ckpt.pt")
    assert os.listdir(tmp_path) == []


def test_the_temporary_file_pattern() -> None:
    pattern = temp_file_pattern("ckpt.pt")
    assert pattern.fullmatch(".ckpt.pt.0123456789ab.tmp")
    for other in (".ckpt.pt.tmp", ".ckptXpt.0123456789ab.tmp", ".ckpt.pt.0123456789ab.tmp.x"):
        assert not pattern.fullmatch(other)
    assert checkpoint_files.TEMP_FILE_PATTERN == ".{name}.<12 hex digits>.tmp"


def test_the_next_save_removes_leftovers_of_killed_saves_but_not_live_ones(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ckpt.pt"
    dead = tmp_path / ".ckpt.pt.0123456789ab.tmp"
    live = tmp_path / ".ckpt.pt.ba9876543210.tmp"
    unrelated = [tmp_path / ".other.pt.0123456789ab.tmp", tmp_path / ".ckpt.pt.tmp"]
    for leftover in [dead, live, *unrelated]:
        leftover.write_bytes(b"PK\x03\x04 half a checkpoint")
    with open(live, "r+b") as writer:  # a save in progress holds its lock
        fcntl.flock(writer.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        save_checkpoint(STATE, path)
        assert sorted(os.listdir(tmp_path)) == sorted(
            ["ckpt.pt", live.name, *(p.name for p in unrelated)]
        )
    save_checkpoint(STATE, path)  # the writer is gone (its lock with it): now removed
    assert sorted(os.listdir(tmp_path)) == sorted(["ckpt.pt", *(p.name for p in unrelated)])


def test_a_save_whose_temporary_file_is_taken_by_a_cleanup_starts_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race between creating the temporary file and locking it: another save's cleanup
    removes the file in between; the save notices and uses a new name."""
    real_lock = checkpoint_files._try_lock
    stolen: list[str] = []

    def lock_after_a_theft(fd: int) -> bool | None:
        if not stolen:
            (name,) = [n for n in os.listdir(tmp_path) if temp_file_pattern("c.pt").fullmatch(n)]
            os.unlink(tmp_path / name)
            stolen.append(name)
        return real_lock(fd)

    monkeypatch.setattr(checkpoint_files, "_try_lock", lock_after_a_theft)
    save_checkpoint(STATE, tmp_path / "c.pt")
    assert stolen and os.listdir(tmp_path) == ["c.pt"]
    assert _same(load_checkpoint(tmp_path / "c.pt"), STATE)


def test_a_path_without_a_file_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="path must name a file, got '/'"):
        save_checkpoint(STATE, "/")


# --- load errors ------------------------------------------------------------------------------


def test_a_missing_file_is_file_not_found_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "missing.pt"
    with pytest.raises(FileNotFoundError, match=f"no checkpoint file {path}") as caught:
        load_checkpoint(path)
    assert caught.value.filename == str(path)


def test_a_folder_is_reported_as_such(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match=str(tmp_path)):
        load_checkpoint(tmp_path)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _complete(tmp_path: Path) -> bytes:
    save_checkpoint(STATE, tmp_path / "whole.pt")
    return (tmp_path / "whole.pt").read_bytes()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda whole: b"", r"is empty \(0 bytes\), not a checkpoint"),
        (lambda whole: whole[: len(whole) // 2], "is truncated .* without its end"),
        (lambda whole: whole[:-10], "is truncated .* without its end"),
        (lambda whole: whole[:100], "is truncated .* without its end"),
        (lambda whole: b"hello, world\n", r"cannot be loaded as a checkpoint with torch.load"),
    ],
    ids=["empty", "half", "all-but-10-bytes", "100-bytes", "text"],
)
def test_an_unreadable_file_is_a_value_error_naming_it(
    tmp_path: Path, make: Any, message: str
) -> None:
    path = _write(tmp_path / "bad.pt", make(_complete(tmp_path)))
    with pytest.raises(ValueError, match=f"checkpoint file {path} {message}"):
        load_checkpoint(path)


class Custom:
    pass


def test_objects_weights_only_refuses_are_a_value_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "custom.pt"
    save_checkpoint({"custom": Custom()}, path)  # torch.save writes any picklable object
    with pytest.raises(ValueError, match=f"checkpoint file {path} cannot be loaded .*Weights only"):
        load_checkpoint(path)
