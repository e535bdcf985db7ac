"""optimsche.parallel.ddp_sync_rule: when DDP's own all-reduce may run, in one process (a
1-rank gloo group: DDP's reducer waits for every parameter's gradient there as on N ranks). The
2-process equivalence with the large batch is in test_ddp.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
import torch.distributed as dist
from shell_models import EncoderTwoHeads, batches
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel

from optimsche import OptimScheduler, OptimSchedulerGroup
from optimsche.parallel.ddp_sync_rule import DdpSyncRule
from optimsche.parallel.distributed import arm_gradient_sync
from optimsche.testing.local_processes import loopback_interface

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="needs gloo"
)


@pytest.fixture(autouse=True)
def one_rank_group(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A gloo default group of one rank on the loopback interface, destroyed afterwards."""
    from torch._C._distributed_c10d import HashStore

    monkeypatch.setenv("GLOO_SOCKET_IFNAME", loopback_interface())
    dist.init_process_group("gloo", store=HashStore(), rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def member(
    ddp: DistributedDataParallel, modules: list[str], loss: str, accum: int = 2, every: int = 1
) -> OptimScheduler:
    return OptimScheduler(
        "SGD",
        {"lr": 0.1},
        ddp,
        updated_modules=modules,
        optim_loss=loss,
        accum_grad=accum,
        step_per_update=every,
    )


def encoder_every_other(ddp: DistributedDataParallel) -> OptimSchedulerGroup:
    """SpeeChain's example: the encoder's optimizer takes part in every 2nd window only."""
    return OptimSchedulerGroup(
        {
            "enc": member(ddp, ["encoder", "head_a"], "a", every=2),
            "dec": member(ddp, ["head_b"], "b"),
        }
    )


def losses(ddp: DistributedDataParallel, x: Tensor, y: Tensor) -> dict[str, Tensor]:
    out_a, out_b = ddp(x)
    return {"a": (out_a - y).pow(2).mean(), "b": (out_b + y).pow(2).mean()}


def test_sync_only_where_every_member_takes_part_and_a_window_ends() -> None:
    ddp = DistributedDataParallel(EncoderTwoHeads())
    rule = encoder_every_other(ddp)["enc"]._sync_rule
    assert rule is not None and rule.covers and rule.names == ("enc", "dec")
    # accum_grad 2: windows (1,2) (3,4) (5,6) (7,8); enc sits out windows 1 and 3
    assert [rule.syncs(n) for n in range(1, 9)] == [False, False, False, True] * 2
    assert [rule.absent(n) for n in (1, 2, 3, 4, 5)] == [["enc"], ["enc"], [], [], ["enc"]]


def test_the_group_shares_one_rule_and_arms_the_next_forward() -> None:
    ddp = DistributedDataParallel(EncoderTwoHeads())
    group = encoder_every_other(ddp)
    rule = group["enc"]._sync_rule
    assert rule is not None and group["dec"]._sync_rule is rule
    assert ddp.require_backward_grad_sync is False  # micro-step 1: enc sits out
    armed = []
    for x, y in batches(8):
        group.step(losses(ddp, x, y))
        armed.append(ddp.require_backward_grad_sync)
    assert armed == [rule.syncs(n) for n in range(2, 10)] == [False, False, True, False] * 2


def test_group_on_a_whole_model_ddp_with_step_per_update_trains() -> None:
    """The regression: before the rule, micro-step 2's forward was armed from accum_grad alone,
    enc's parameters got no gradient, and micro-step 3's forward raised DDP's "Expected to
    have finished reduction in the prior iteration"."""
    ddp = DistributedDataParallel(EncoderTwoHeads())
    group = encoder_every_other(ddp)
    before = [p.detach().clone() for p in ddp.parameters()]
    updates = {"enc": 0, "dec": 0}
    for x, y in batches(8):
        for name, report in group.step(losses(ddp, x, y)).items():
            updates[name] += report.updated
    assert updates == {"enc": 2, "dec": 4}
    assert all(not torch.equal(p, q) for p, q in zip(ddp.parameters(), before, strict=True))


def test_parameters_no_optimizer_owns_keep_ddp_sync_off() -> None:
    ddp = DistributedDataParallel(EncoderTwoHeads())
    alone = member(ddp, ["encoder", "head_a"], "a", accum=1)
    rule = alone._sync_rule
    assert rule is not None and not rule.covers  # head_b requires grad, nobody owns it
    assert not any(rule.syncs(n) for n in range(1, 5))
    for x, y in batches(3):
        alone.step(losses(ddp, x, y))  # without the rule: DDP error at the second forward
        assert ddp.require_backward_grad_sync is False


def test_frozen_and_ignored_parameters_need_no_owner() -> None:
    frozen = EncoderTwoHeads()
    frozen.head_b.requires_grad_(False)
    ddp = DistributedDataParallel(frozen)
    rule = member(ddp, ["encoder", "head_a"], "a")._sync_rule
    assert rule is not None and rule.covers
    ignoring = EncoderTwoHeads()
    DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(
        ignoring, ["head_b.weight", "head_b.bias"]
    )
    ddp = DistributedDataParallel(ignoring)
    rule = member(ddp, ["encoder", "head_a"], "a")._sync_rule
    assert rule is not None and rule.covers


def test_a_lone_shell_with_step_per_update_syncs_only_in_its_windows() -> None:
    ddp = DistributedDataParallel(EncoderTwoHeads())
    shell = member(ddp, ["encoder", "head_a", "head_b"], "a", every=2)
    rule = shell._sync_rule
    assert rule is not None and rule.names == ("OptimScheduler",)
    # windows 1 and 3 sit out: nothing to sync at their ends
    assert [rule.syncs(n) for n in range(1, 9)] == [False, False, False, True] * 2


def test_mixed_accum_grad_syncs_where_any_window_ends() -> None:
    ddp = DistributedDataParallel(EncoderTwoHeads())
    group = OptimSchedulerGroup(
        {
            "enc": member(ddp, ["encoder", "head_a"], "a", accum=1),
            "dec": member(ddp, ["head_b"], "b", accum=3),
        }
    )
    rule = group["enc"]._sync_rule
    assert rule is not None
    assert all(rule.syncs(n) for n in range(1, 7))  # enc's window ends at every micro-step


def test_a_forward_armed_for_a_micro_step_some_member_sits_out_is_refused() -> None:
    ddp = DistributedDataParallel(EncoderTwoHeads())
    group = OptimSchedulerGroup(
        {
            "enc": member(ddp, ["encoder", "head_a"], "a", accum=1, every=2),
            "dec": member(ddp, ["head_b"], "b", accum=1),
        }
    )
    data = batches(2)
    group.step(losses(ddp, *data[0]))
    assert ddp.require_backward_grad_sync is True  # micro-step 2: both take part
    # jumping to micro-step 3, which enc sits out, with the forward armed for micro-step 2
    with pytest.raises(ValueError, match=r"micro-step 3: .*'enc' take\(s\) no part in it"):
        group.step(losses(ddp, *data[1]), step_num=3)


def test_rule_arms_the_model() -> None:
    ddp = DistributedDataParallel(EncoderTwoHeads())
    rule = DdpSyncRule(ddp, [(2, 1)], ["all"], list(ddp.parameters()))
    arm_gradient_sync(ddp, True)
    rule.arm(1)
    assert ddp.require_backward_grad_sync is False
    rule.arm(2)
    assert ddp.require_backward_grad_sync is True
    with pytest.raises(ValueError, match="1 clocks but 2 names"):
        DdpSyncRule(ddp, [(2, 1)], ["a", "b"], [])
