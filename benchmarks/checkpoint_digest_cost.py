"""Benchmark: the cost of the checkpoint digest, next to the cost of writing the file.

One checkpoint of a few tens of MB (float32 tensors: 40 MiB in a full run, 4 MiB quick) is:

* **written**: ``save_checkpoint`` (``torch.save`` through the hashing stream, the digest
  record, flush, fsync, rename, folder fsync) against the same atomic write without the
  digest (``torch.save`` into a new file, flush, fsync, rename, folder fsync);
* **hashed**: SHA-256 of its bytes in memory (``hashlib``, the figure that bounds what the
  digest can cost) against the write;
* **loaded**: ``load_checkpoint`` (one read to verify, then ``torch.load`` of the same open
  file) against ``torch.load(path, weights_only=True)`` alone.

Figures are throughputs in MB/s (10^6 bytes per second) over the file's size, median and
min–max over interleaved rounds (wall time: the disk and the page cache work outside this
process). The digest's cost is the hashing itself: SHA-256 runs at a fixed speed per byte
(about 0.5 GB/s without SHA instructions, 1.5-2 GB/s with them). Goals: the save's extra time
over the same write without a digest is at most 1.25 times the SHA-256 time of its bytes, the
load's extra time at most 1.5 times (the verify pass also reads the file once more, from the
page cache).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import torch

from benchmarks.bench_config import BenchConfig
from benchmarks.formatting import ratio_range
from benchmarks.results import Row, Section
from benchmarks.timing import Samples, interleaved, paired, timed
from optimsche.checkpoint_files import load_checkpoint, save_checkpoint

NAME = "checkpoint_digest_cost"
SAVE_GOAL = 1.25
LOAD_GOAL = 1.5


def _state(mebibytes: int) -> dict[str, torch.Tensor]:
    """A checkpoint of ``mebibytes`` MiB of float32 tensors in 4 MiB pieces (seeded)."""
    generator = torch.Generator().manual_seed(0)
    pieces = max(1, mebibytes // 4)
    size = mebibytes * 2**20 // 4 // pieces
    return {f"w{i}": torch.randn(size, generator=generator) for i in range(pieces)}


def _plain_save(state: object, path: Path) -> None:
    """The same atomic write as ``save_checkpoint`` without the digest: ``torch.save`` into a
    new file in the folder, flush, fsync, rename over ``path``, folder fsync."""
    temp = path.with_name(f".{path.name}.plain.tmp")
    with temp.open("wb") as file:
        torch.save(state, file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _rate(samples: Samples, size: int) -> str:
    """Throughput in MB/s, median (min–max), from seconds per pass over ``size`` bytes."""
    rates = sorted(size / 1e6 / s for s in samples.values)
    median = size / 1e6 / samples.median
    return f"{median:.0f} MB/s ({rates[0]:.0f}–{rates[-1]:.0f})"


def run(config: BenchConfig) -> Section:
    """Measure the digest's cost on save and load (module doc)."""
    mebibytes = config.pick(40, 4)
    state = _state(mebibytes)
    with tempfile.TemporaryDirectory() as folder:
        sealed, plain = Path(folder, "sealed.pt"), Path(folder, "plain.pt")
        save_checkpoint(state, sealed)
        _plain_save(state, plain)
        data = sealed.read_bytes()
        size = len(data)
        samples = interleaved(
            {
                "save_checkpoint": timed(lambda: save_checkpoint(state, sealed)),
                "atomic torch.save": timed(lambda: _plain_save(state, plain)),
                "sha256": timed(lambda: hashlib.sha256(data).digest()),
                "load_checkpoint": timed(lambda: load_checkpoint(sealed)),
                "torch.load": timed(lambda: torch.load(plain, weights_only=True)),
            },
            rounds=config.rounds(7),
        )
    save = paired(samples["save_checkpoint"], samples["atomic torch.save"])
    load = paired(samples["load_checkpoint"], samples["torch.load"])
    save_extra = paired(
        paired(samples["save_checkpoint"], samples["atomic torch.save"], "difference"),
        samples["sha256"],
    )
    load_extra = paired(
        paired(samples["load_checkpoint"], samples["torch.load"], "difference"), samples["sha256"]
    )
    hashing = paired(samples["sha256"], samples["atomic torch.save"])
    case = f"{size / 1e6:.1f} MB checkpoint"
    rows = (
        Row(
            f"{case}: SHA-256 (hashlib) vs atomic torch.save",
            _rate(samples["sha256"], size),
            _rate(samples["atomic torch.save"], size),
            ratio_range(hashing),
            "reported",
        ),
        Row(
            f"{case}: save_checkpoint (with digest) vs atomic torch.save",
            _rate(samples["save_checkpoint"], size),
            _rate(samples["atomic torch.save"], size),
            ratio_range(save),
            f"extra ≤ {SAVE_GOAL} × SHA-256 time (got {save_extra.median:.2f})",
            save_extra.median <= SAVE_GOAL,
        ),
        Row(
            f"{case}: load_checkpoint (verified) vs torch.load",
            _rate(samples["load_checkpoint"], size),
            _rate(samples["torch.load"], size),
            ratio_range(load),
            f"extra ≤ {LOAD_GOAL} × SHA-256 time (got {load_extra.median:.2f})",
            load_extra.median <= LOAD_GOAL,
        ),
    )
    return Section(
        NAME,
        "Checkpoint digest: hashing and verifying next to writing and loading",
        "save_checkpoint hashes torch.save's bytes as they are written and appends the "
        "SHA-256 as the zip comment; load_checkpoint verifies it before torch.load.",
        rows,
        columns=("ours (MB/s)", "baseline (MB/s)", "time ours / baseline"),
        notes=(
            "The SHA-256 row is the digest alone (bytes in memory): the part of the save and "
            "the extra pass of the load that the digest costs.",
        ),
    )
