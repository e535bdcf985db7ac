"""The digest of ``save_checkpoint``: every damaged file is refused naming it, a file without a
digest (``torch.save``'s) still loads, and a sealed file stays a plain torch checkpoint."""

from __future__ import annotations

import io
import random
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from shell_models import batches, tiny_mlp

from optimsche import OptimScheduler
from optimsche.checkpoint_digest import (
    END_RECORD_LENGTH,
    RECORD_LENGTH,
    RECORD_PREFIX,
    DamagedCheckpoint,
    DigestWriter,
    Verdict,
    seal,
    verify,
)
from optimsche.checkpoint_files import load_checkpoint, save_checkpoint

TRIALS = 300


def _shell_checkpoint() -> dict[str, Any]:
    """A real checkpoint: a model and an AdamW shell after a few updates, mid-window."""
    model = tiny_mlp(hidden=32)
    sche = OptimScheduler("AdamW", {"lr": 1e-2}, model, accum_grad=2)
    for x, y in batches(5):
        sche.step((model(x) - y).pow(2).mean())
    return {"model": model.state_dict(), "optim_sche": sche.state_dict()}


def _equal(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_equal, a, b))  # type: ignore[arg-type]
    return a == b


def _flip(data: bytes, rng: random.Random) -> bytes:
    offset, bit = rng.randrange(len(data)), rng.randrange(8)
    damaged = bytearray(data)
    damaged[offset] ^= 1 << bit
    return bytes(damaged)


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))]


def _overwrite(data: bytes, rng: random.Random) -> bytes:
    offset = rng.randrange(len(data) - 16)
    block = bytes(rng.randrange(256) for _ in range(16))
    if block == data[offset : offset + 16]:  # pragma: no cover - 2**-128
        block = bytes(b ^ 0xFF for b in block)
    return data[:offset] + block + data[offset + 16 :]


DAMAGES: list[Callable[[bytes, random.Random], bytes]] = [_flip, _truncate, _overwrite]


def test_every_damaged_variant_of_a_shell_checkpoint_is_refused_naming_the_file(
    tmp_path: Path,
) -> None:
    state = _shell_checkpoint()
    path = tmp_path / "ckpt.pt"
    save_checkpoint(state, path)
    whole = path.read_bytes()
    assert _equal(load_checkpoint(path), state)
    rng = random.Random(20)
    loaded: list[str] = []
    for trial in range(TRIALS):
        damage = DAMAGES[trial % len(DAMAGES)]
        damaged = damage(whole, rng)
        assert damaged != whole
        path.write_bytes(damaged)
        try:
            load_checkpoint(path)
        except ValueError as error:
            assert f"checkpoint file {path} " in str(error)
        else:
            loaded.append(f"trial {trial} ({damage.__name__})")
    assert loaded == []


@pytest.mark.parametrize("where", ["payload", "end record", "record prefix", "record digest"])
def test_a_flip_anywhere_says_damaged_and_why(tmp_path: Path, where: str) -> None:
    path = tmp_path / "ckpt.pt"
    save_checkpoint({"w": torch.arange(1000.0)}, path)
    whole = bytearray(path.read_bytes())
    record_at = len(whole) - RECORD_LENGTH
    offset = {
        "payload": 200,
        "end record": record_at - END_RECORD_LENGTH + 1,
        "record prefix": record_at + 2,
        "record digest": len(whole) - 1,
    }[where]
    whole[offset] ^= 0x04
    path.write_bytes(bytes(whole))
    with pytest.raises(DamagedCheckpoint, match=f"checkpoint file {path} is damaged: it"):
        load_checkpoint(path)


def test_a_truncated_sealed_file_is_reported_as_truncated(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.pt"
    save_checkpoint({"w": torch.arange(1000.0)}, path)
    whole = path.read_bytes()
    for keep in (len(whole) - 1, len(whole) - RECORD_LENGTH, len(whole) // 3):
        path.write_bytes(whole[:keep])
        with pytest.raises(ValueError, match=f"checkpoint file {path} is truncated"):
            load_checkpoint(path)


def test_a_sealed_file_is_a_plain_torch_checkpoint_with_the_digest_as_zip_comment(
    tmp_path: Path,
) -> None:
    import hashlib
    import zipfile

    state = _shell_checkpoint()
    path = tmp_path / "ckpt.pt"
    save_checkpoint(state, path)
    assert _equal(torch.load(path, weights_only=True), state)
    comment = zipfile.ZipFile(path).comment
    assert comment.startswith(RECORD_PREFIX) and len(comment) == RECORD_LENGTH
    # the digest is the SHA-256 of torch.save's bytes (comment length 0), recomputed here
    data = path.read_bytes()[:-RECORD_LENGTH]
    unsealed = data[:-2] + b"\x00\x00"
    assert comment[len(RECORD_PREFIX) :].decode() == hashlib.sha256(unsealed).hexdigest()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    assert len(buffer.getvalue()) == len(unsealed)


def test_files_without_a_digest_still_load(tmp_path: Path) -> None:
    state = _shell_checkpoint()
    zipped, legacy = tmp_path / "torch_save.pt", tmp_path / "legacy.pt"
    torch.save(state, zipped)  # what SpeeChain writes
    torch.save(state, legacy, _use_new_zipfile_serialization=False)
    for path in (zipped, legacy):
        assert _equal(load_checkpoint(path), state)
        with path.open("rb") as file:
            assert verify(file, path.stat().st_size) is Verdict.UNSEALED


def test_verify_leaves_the_file_at_its_start_and_reports_sealed(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.pt"
    save_checkpoint({"w": torch.ones(3)}, path)
    with path.open("rb") as file:
        assert verify(file, path.stat().st_size) is Verdict.SEALED
        assert file.tell() == 0


def test_seal_refuses_a_stream_that_does_not_end_like_torch_save(tmp_path: Path) -> None:
    with (tmp_path / "x").open("w+b") as file:
        writer = DigestWriter(file)
        writer.write(b"not a zip archive")
        with pytest.raises(ValueError, match="did not end the file with a zip end record"):
            seal(file, writer)


def test_the_digest_writer_passes_every_byte_through(tmp_path: Path) -> None:
    with (tmp_path / "x").open("w+b") as file:
        writer = DigestWriter(file)
        torch.save({"w": torch.arange(50_000.0)}, writer)
        file.seek(0)
        written = file.read()
    assert len(written) == writer.size
    assert written[-END_RECORD_LENGTH:-18] == b"PK\x05\x06"
    assert struct.unpack("<H", written[-2:]) == (0,)
