"""The shell under real 2-process FSDP2 (``fully_shard``, CPU, gloo, 127.0.0.1).

FSDP2 works on CPU with gloo in torch 2.13: sharded parameters are DTensors, gradients are
reduce-scattered, and ``set_requires_gradient_sync(False)`` defers the reduce-scatter of
non-final micro-steps. Checked here: accumulation with sync off on non-final micro-steps equals
the large batch (hand-written and through the shell), token-exact ``num_items``, clipping by the
norm of the *whole* (unsharded) gradient, and one reduce-scatter per parameter group per window.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from ddp_scenarios import ACCUM, WINDOWS, WORLD, Params, reference_large_batch
from fsdp_scenarios import GRAD_CLIP, fsdp_suite

from optimsche.testing.local_processes import run_local_processes


def _fsdp2_on_cpu() -> bool:
    if not (torch.distributed.is_available() and torch.distributed.is_gloo_available()):
        return False
    try:
        from torch.distributed.fsdp import fully_shard  # noqa: F401
    except ImportError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not _fsdp2_on_cpu(), reason="needs torch.distributed with gloo and FSDP2 (torch >= 2.6)"
)


@pytest.fixture(scope="module")
def ranks() -> list[dict[str, Any]]:
    """Per-rank results of every scenario (``fsdp_scenarios.fsdp_suite``)."""
    return run_local_processes(fsdp_suite, WORLD, timeout_s=120.0)


def scenario(ranks: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """One scenario's results on every rank; fails the test with a rank's traceback."""
    results = [r[name] for r in ranks]
    for rank, result in enumerate(results):
        if "error" in result:
            pytest.fail(f"scenario {name!r} raised on rank {rank}:\n{result['error']}")
    return results


def assert_close(got: list[Params], want: list[Params]) -> None:
    """Every parameter after every window allclose (rtol 1e-6), naming the first that is not."""
    assert len(got) == len(want)
    for window, (g, w) in enumerate(zip(got, want, strict=True)):
        for i, (a, b) in enumerate(zip(g, w, strict=True)):
            if not torch.allclose(a, b, rtol=1e-6, atol=1e-12):
                worst = (a - b).abs().max().item()
                raise AssertionError(f"window {window}, parameter {i}: max |diff| {worst:.3g}")


def assert_ranks_identical(results: list[dict[str, Any]]) -> None:
    first = results[0]["params"]
    for other in results[1:]:
        for g, o in zip(first, other["params"], strict=True):
            assert all(torch.equal(a, b) for a, b in zip(g, o, strict=True))


def groups_per_backward(ranks: list[dict[str, Any]]) -> int:
    """Reduce-scatters of one synced backward: the naive loop's count / its backwards."""
    naive = scenario(ranks, "naive")
    count = naive[0]["reduce_scatters"]
    assert count % (WINDOWS * ACCUM) == 0
    return int(count // (WINDOWS * ACCUM))


def test_handwritten_sync_off_accumulation_equals_large_batch(
    ranks: list[dict[str, Any]],
) -> None:
    results = scenario(ranks, "handwritten")
    want = reference_large_batch(token_exact=False)
    for result in results:
        assert_close(result["params"], want)
    assert_ranks_identical(results)
    groups = groups_per_backward(ranks)
    assert groups == 2  # one FSDP parameter group per sharded Linear
    assert [r["reduce_scatters"] for r in results] == [WINDOWS * groups] * WORLD


def test_naive_loop_equals_large_batch_too(ranks: list[dict[str, Any]]) -> None:
    assert_close(scenario(ranks, "naive")[0]["params"], reference_large_batch(token_exact=False))


def test_shell_accumulation_equals_large_batch(ranks: list[dict[str, Any]]) -> None:
    results = scenario(ranks, "shell")
    want = reference_large_batch(token_exact=False)
    for result in results:
        assert_close(result["params"], want)
    assert_ranks_identical(results)


def test_shell_one_reduce_scatter_per_group_per_window(ranks: list[dict[str, Any]]) -> None:
    groups = groups_per_backward(ranks)
    for name in ("shell", "num_items", "clipped"):
        counts = [r["reduce_scatters"] for r in scenario(ranks, name)]
        assert counts == [WINDOWS * groups] * WORLD, name


def test_shell_num_items_is_token_exact(ranks: list[dict[str, Any]]) -> None:
    results = scenario(ranks, "num_items")
    want = reference_large_batch(token_exact=True)
    for result in results:
        assert_close(result["params"], want)
    assert_ranks_identical(results)


def test_shell_clips_by_the_norm_of_the_whole_gradient(ranks: list[dict[str, Any]]) -> None:
    results = scenario(ranks, "clipped")
    want = reference_large_batch(token_exact=False, grad_clip=GRAD_CLIP)
    for result in results:
        assert_close(result["params"], want)
        # every window was really clipped, and each rank reports the same, global norm
        assert all(norm > GRAD_CLIP for norm in result["norms"])
    assert results[0]["norms"] == results[1]["norms"]
    assert_ranks_identical(results)


@pytest.mark.parametrize("name", ["fsdp1_handwritten", "fsdp1_shell"])
def test_fsdp1_accumulation_equals_large_batch(ranks: list[dict[str, Any]], name: str) -> None:
    """FSDP1 (``FullyShardedDataParallel``, deprecated) also runs on CPU/gloo: it is detected,
    looked through, and its ``no_sync`` keeps accumulation equal to the large batch."""
    results = scenario(ranks, name)
    want = reference_large_batch(token_exact=False)
    for result in results:
        assert result["detected"] and result["unwrapped"] == "Sequential"
        assert_close(result["params"], want)
    assert_ranks_identical(results)
