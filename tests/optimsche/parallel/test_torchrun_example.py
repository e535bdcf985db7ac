"""``docs/examples/torchrun_ddp.py`` under ``python -m torch.distributed.run --nproc_per_node 2``
on 127.0.0.1: both ranks finish, DDP all-reduces once per window of ``accum_grad=4``, the ranks
end with identical parameters, and each rank's checkpoint files exist and load."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist

from optimsche import OptimScheduler, load_checkpoint
from optimsche.testing.local_processes import LOOPBACK, loopback_interface

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="needs torch.distributed with the gloo backend",
)

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "docs" / "examples" / "torchrun_ddp.py"
WINDOWS = 5
TIMEOUT_S = 120


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def _launch(out: Path) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """Run the example on two ranks (again on another port if the free one got taken)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "GLOO_SOCKET_IFNAME": loopback_interface(),
        "OMP_NUM_THREADS": "1",
    }
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    script = [str(EXAMPLE), "--out", str(out), "--windows", str(WINDOWS), "--timeout-s", "60"]
    for _attempt in range(3):
        port = ["--master_addr", LOOPBACK, "--master_port", str(_free_port())]
        done = subprocess.run(
            [*launcher, *port, *script],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            env=env,
            cwd=ROOT,
            check=False,
        )
        if "address already in use" not in (done.stdout + done.stderr).lower():
            break
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done, lines


def test_two_ranks_under_torchrun(tmp_path: Path) -> None:
    done, lines = _launch(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    ranks = {line["rank"]: line for line in lines}
    assert sorted(ranks) == [0, 1], done.stdout
    for rank, line in ranks.items():
        assert line["world_size"] == 2 and line["local_rank"] == rank
        assert line["allreduces_per_window"] == [1] * WINDOWS  # not one per micro-step
    assert ranks[0]["checksum"] == ranks[1]["checksum"]
    assert ranks[0]["checksum"] != ranks[0]["initial_checksum"]  # it trained
    assert ranks[0]["lr"] == pytest.approx(0.01)  # warmup_cosine's final value

    model_keys = {"0.weight", "0.bias", "2.weight", "2.bias"}
    for rank, line in ranks.items():
        mid, final = (Path(p) for p in line["checkpoints"])
        assert (mid.name, final.name) == (f"mid.rank{rank}.pt", f"final.rank{rank}.pt")
        state = load_checkpoint(mid)
        assert set(state["model"]) == model_keys
        optim = state["optim"]
        assert (optim["rank"], optim["world_size"]) == (rank, 2)
        assert optim["counters"]["step_num"] == 6 and optim["window"] is not None
        finished = load_checkpoint(final)["optim"]
        assert finished["counters"]["step_num"] == 4 * WINDOWS and finished["window"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{kind}.rank{r}.pt" for kind in ("mid", "final") for r in (0, 1)
    )  # nothing but the checkpoints: no temporary file left

    # rank 1's mid-window file holds rank 1's own partial gradients: refused anywhere else
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)
    ).double()
    fresh = OptimScheduler(optim_type="SGD", optim_conf={"lr": 0.1}, model=model, accum_grad=4)
    with pytest.raises(ValueError, match="by rank 1 of 2 process"):
        fresh.load_state_dict(load_checkpoint(tmp_path / "mid.rank1.pt")["optim"])
