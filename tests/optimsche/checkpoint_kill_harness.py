"""Kill processes while they save checkpoints, then leave the folders for inspection.

Run as a script (the tests start it in a subprocess; run it by hand to measure)::

    python tests/optimsche/checkpoint_kill_harness.py FOLDER --trials 30 --modes atomic,inplace

For each mode and trial it forks a saver (this process imported torch once; a fork starts in
milliseconds) that writes ``FOLDER/<mode>-<trial>/ckpt.pt`` over and over, version 0, 1, 2,
...: with ``optimsche.save_checkpoint`` (mode ``atomic``) or a plain in-place
``torch.save(obj, path)`` (mode ``inplace``). Once version 0 is complete the saver says so
through a pipe; the harness waits a random 0..``--max-delay-ms`` milliseconds and SIGKILLs it.
Then ``--mid-write-trials`` more per mode (``FOLDER/<mode>-mid-<trial>``) are killed while
version 1 is half written, deterministically: the saver's ``torch.save`` writes half of the
bytes, flushes, says so, and waits to be killed.

Nothing here loads a checkpoint: the caller inspects the folders. Prints one JSON line: the
trials run per mode, the kill delays, the number of versions each saver had started (it says
so through the pipe before each save, so version ``started - 2`` was complete and ``started -
1`` possibly not), seconds taken.
Every version ``v`` is ``{"version": v, "data": a tensor filled with v, "layers": [tensors
filled with v]}``, about ``--kib`` KiB.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import select
import signal
import sys
import time
from pathlib import Path
from typing import Any

import torch

from optimsche.checkpoint_files import save_checkpoint

CHECKPOINT = "ckpt.pt"
STARTED, READY, MID_WRITE = b"s", b"r", b"m"


def version(v: int, kib: int) -> dict[str, Any]:
    """Checkpoint number ``v``: every tensor filled with ``v``."""
    floats = kib * 1024 // 4
    return {
        "version": v,
        "data": torch.full((floats // 2,), float(v)),
        "layers": [torch.full((floats // 8,), float(v)) for _ in range(4)],
    }


def _stall_mid_write(pipe: int) -> None:
    """Make every ``torch.save`` after the first write half its bytes, flush, signal, wait."""
    real_save = torch.save
    calls = [0]

    def save(obj: object, f: Any, *args: Any, **kwargs: Any) -> None:
        calls[0] += 1
        if calls[0] == 1:
            real_save(obj, f, *args, **kwargs)
            return
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        data = buffer.getvalue()
        file = open(f, "wb") if isinstance(f, str | os.PathLike) else f  # noqa: SIM115
        file.write(data[: len(data) // 2])
        file.flush()
        os.write(pipe, MID_WRITE)
        while True:
            time.sleep(1.0)

    torch.save = save  # type: ignore[assignment]


def saver(path: Path, mode: str, pipe: int, kib: int, mid_write: bool) -> None:
    """The child: save versions 0, 1, 2, ... to ``path`` until killed."""
    if mid_write:
        _stall_mid_write(pipe)
    v = 0
    while True:
        obj = version(v, kib)
        os.write(pipe, STARTED)
        if mode == "atomic":
            save_checkpoint(obj, path)
        else:
            torch.save(obj, os.fspath(path))
        if v == 0:
            os.write(pipe, READY)
        v += 1


def _wait_for(fd: int, what: bytes, timeout_s: float = 20.0) -> int:
    """Read the saver's bytes until ``what``; the number of versions it said it started."""
    started = 0
    deadline = time.monotonic() + timeout_s
    while True:
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0.0))
        got = os.read(fd, 1) if ready else b""
        if got == what:
            return started
        if got != STARTED:
            raise RuntimeError(f"saver sent {got!r} (or nothing in time), expected {what!r}")
        started += 1


def _drain(fd: int) -> int:
    """The versions the (dead) saver said it started after the last read."""
    data = b""
    while chunk := os.read(fd, 65536):
        data += chunk
    return data.count(STARTED)


def trial(folder: Path, mode: str, kib: int, delay_s: float, mid_write: bool) -> int:
    """One saver, killed after ``delay_s`` (or mid-write); the versions it started (the last
    one, ``started - 1``, possibly unfinished)."""
    folder.mkdir(parents=True)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            os.close(read_end)
            saver(folder / CHECKPOINT, mode, write_end, kib, mid_write)
        finally:
            os._exit(1)
    os.close(write_end)
    started = 0
    try:
        started += _wait_for(read_end, READY)
        if mid_write:
            started += _wait_for(read_end, MID_WRITE)
        else:
            time.sleep(delay_s)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        started += _drain(read_end)
        os.close(read_end)
    return started


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--modes", default="atomic,inplace")
    parser.add_argument("--max-delay-ms", type=float, default=40.0)
    parser.add_argument("--kib", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mid-write-trials", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rng = random.Random(args.seed)
    start = time.perf_counter()
    delays: dict[str, list[float]] = {}
    started: dict[str, list[int]] = {}
    for mode in args.modes.split(","):
        delays[mode], started[mode] = [], []
        for k in range(args.trials):
            delay = rng.uniform(0.0, args.max_delay_ms / 1000.0)
            count = trial(args.folder / f"{mode}-{k}", mode, args.kib, delay, False)
            delays[mode].append(delay)
            started[mode].append(count)
        for k in range(args.mid_write_trials):
            count = trial(args.folder / f"{mode}-mid-{k}", mode, args.kib, 0.0, True)
            started[f"{mode}-mid"] = [*started.get(f"{mode}-mid", []), count]
    print(
        json.dumps(
            {
                "trials": args.trials,
                "modes": list(delays),
                "delays_s": delays,
                "started": started,
                "seconds": time.perf_counter() - start,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
