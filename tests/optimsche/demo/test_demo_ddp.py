"""The demo under DDP: ``run_demo(ddp=2)`` (two gloo processes on 127.0.0.1, one data shard
each), and the demo's group on a DDP model (its encoder optimizer sitting out every other
window: the group's DDP rule, :mod:`optimsche.parallel.ddp_sync_rule`) giving the same update as one
process on both shards' micro-batches (token-exact ``num_items``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel

from optimsche.config.building import build_optim_sches
from optimsche.demo import run_demo
from optimsche.demo.config import load_demo_config
from optimsche.demo.task import Batch
from optimsche.demo.training import DemoSettings, build_model
from optimsche.testing.local_processes import run_local_processes

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="needs gloo"
)

# SGD with a constant lr: the parameters are then a linear image of the gradients, so a
# wrong sync or normalisation shows as a large difference (Adam would hide scale errors).
SGD_CONFIG = """\
experiment: {accum_grad: 2, grad_clip: null}
optim_sches:
  encoder_optim:
    type: constant
    conf: {optim_type: SGD, optim_conf: {lr: 0.5}, optim_losses: encoder_loss,
           updated_modules: encoder, step_per_update: 2, value: 0.5}
  decoder_optim:
    type: constant
    conf: {optim_type: SGD, optim_conf: {lr: 0.5}, optim_losses: decoder_loss,
           updated_modules: decoder, value: 0.5}
"""
STEPS = 8  # windows 1..4: the encoder sits out windows 1 and 3 (DDP sync off), joins 2 and 4


def _train_rank(rank: int, world_size: int, config_path: Path) -> dict[str, Tensor]:
    """Rank body: the demo's group on a DDP model, plain forwards, ``STEPS`` micro-steps of
    its shard."""
    settings, config = DemoSettings(), load_demo_config(config_path)
    model = DistributedDataParallel(build_model(settings))
    group = build_optim_sches(config.optim_sches, model, **config.experiment_kwargs())
    for n in range(1, STEPS + 1):
        batch = settings.task.train_batch(settings.batch_size, n, rank)
        group.step(model(batch), step_num=n, num_items=batch.num_items)
    return {name: p.detach().clone() for name, p in model.module.named_parameters()}


def test_demo_group_on_ddp_equals_one_process_on_both_shards(tmp_path: Path) -> None:
    path = tmp_path / "sgd.yaml"
    path.write_text(SGD_CONFIG)
    ranks = run_local_processes(_train_rank, 2, path, timeout_s=120.0)
    settings, config = DemoSettings(), load_demo_config(path)
    model = build_model(settings)
    initial = {name: p.detach().clone() for name, p in model.named_parameters()}
    group = build_optim_sches(config.optim_sches, model, **config.experiment_kwargs())
    for n in range(1, STEPS + 1):
        shards = [settings.task.train_batch(settings.batch_size, n, r) for r in (0, 1)]
        batch = Batch(
            src=torch.cat([s.src for s in shards]),
            tgt_in=torch.cat([s.tgt_in for s in shards]),
            tgt_out=torch.cat([s.tgt_out for s in shards]),
            num_items=sum(s.num_items for s in shards),
        )
        group.step(model(batch), step_num=n, num_items=batch.num_items)
    assert shards[0].num_items != shards[1].num_items  # uneven shards: token-exact matters
    for name, p in model.named_parameters():
        assert torch.equal(ranks[0][name], ranks[1][name]), name
        assert not torch.equal(p, initial[name]), name
        torch.testing.assert_close(ranks[0][name], p, rtol=1e-4, atol=1e-6, msg=name)


def test_two_ddp_processes(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert run_demo(steps=8, out=tmp_path, ddp=2) == 0
    printed = capfd.readouterr().out
    assert "2 gloo processes (DDP, one data shard each)" in printed
    assert "resume check: identical" in printed
    assert "2 ranks end with identical parameters" in printed
    assert (tmp_path / "curves.png").exists() and (tmp_path / "checkpoint-final.pt").exists()
    # mid-window (micro-step 5 of windows of 2) partial gradients are per rank: each rank
    # resumes from its own file; rank 0's own lines reach this test's capture too
    assert "resume check: identical (checkpoint at micro-step 5," in printed
    assert "checkpoint at micro-step 5, inside window 3" in printed
    assert "(and one per other rank: 2 files)" in printed
    assert (tmp_path / "checkpoint-half.pt").exists()
    assert (tmp_path / "checkpoint-half.rank1.pt").exists()
