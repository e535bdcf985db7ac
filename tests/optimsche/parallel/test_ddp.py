"""The shell under real 2-process DDP (gloo, 127.0.0.1): accumulation equals the large batch,
ranks stay identical, one all-reduce per window, token-exact ``num_items``, agreed skips.

All scenarios run once in one 2-process group (spawning costs seconds); each test reads its
scenario's per-rank results. See ``ddp_scenarios.py`` for the data, models and rank bodies.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from ddp_scenarios import (
    ACCUM,
    NAN_WINDOW,
    WINDOWS,
    WORLD,
    Params,
    ddp_suite,
    reference_group_large_batch,
    reference_group_mixed_accum,
    reference_large_batch,
)

from optimsche.testing.local_processes import run_local_processes

pytestmark = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="needs torch.distributed with the gloo backend",
)


@pytest.fixture(scope="module")
def ranks() -> list[dict[str, Any]]:
    """Per-rank results of every scenario (``ddp_scenarios.ddp_suite``)."""
    return run_local_processes(ddp_suite, WORLD, timeout_s=120.0)


def scenario(ranks: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """One scenario's results on every rank; fails the test with a rank's traceback."""
    results = [r[name] for r in ranks]
    for rank, result in enumerate(results):
        if "error" in result:
            pytest.fail(f"scenario {name!r} raised on rank {rank}:\n{result['error']}")
    return results


def assert_close(
    got: list[Params], want: list[Params], rtol: float = 1e-6, atol: float = 1e-12
) -> None:
    """Every parameter after every window allclose, naming the first that is not."""
    assert len(got) == len(want)
    for window, (g, w) in enumerate(zip(got, want, strict=True)):
        for i, (a, b) in enumerate(zip(g, w, strict=True)):
            if not torch.allclose(a, b, rtol=rtol, atol=atol):
                worst = (a - b).abs().max().item()
                raise AssertionError(f"window {window}, parameter {i}: max |diff| {worst:.3g}")


def assert_ranks_identical(results: list[dict[str, Any]]) -> None:
    first = results[0]["params"]
    for other in results[1:]:
        for g, o in zip(first, other["params"], strict=True):
            assert all(torch.equal(a, b) for a, b in zip(g, o, strict=True))


# --- the harness itself: hand-written loops behave as DDP documents ----------------------------


def test_handwritten_no_sync_loop_equals_large_batch(ranks: list[dict[str, Any]]) -> None:
    results = scenario(ranks, "handwritten")
    want = reference_large_batch(token_exact=False)
    for result in results:
        assert_close(result["params"], want)
    assert_ranks_identical(results)
    # this small model fits one DDP bucket: one all-reduce per window
    assert [r["allreduces"] for r in results] == [WINDOWS] * WORLD


def test_naive_loop_all_reduces_every_micro_step(ranks: list[dict[str, Any]]) -> None:
    results = scenario(ranks, "naive")
    assert [r["allreduces"] for r in results] == [WINDOWS * ACCUM] * WORLD
    assert_close(results[0]["params"], reference_large_batch(token_exact=False))


# --- the shell -----------------------------------------------------------------------------------


def test_shell_accumulation_across_ranks_equals_large_batch(ranks: list[dict[str, Any]]) -> None:
    results = scenario(ranks, "shell")
    want = reference_large_batch(token_exact=False)
    for result in results:
        assert_close(result["params"], want)


def test_shell_ranks_stay_identical(ranks: list[dict[str, Any]]) -> None:
    assert_ranks_identical(scenario(ranks, "shell"))


def test_shell_one_allreduce_per_window(ranks: list[dict[str, Any]]) -> None:
    shell = scenario(ranks, "shell")
    handwritten = scenario(ranks, "handwritten")
    buckets = handwritten[0]["allreduces"] // WINDOWS
    assert [r["allreduces"] for r in shell] == [WINDOWS * buckets] * WORLD


def test_shell_updates_on_the_last_micro_step_of_each_window(
    ranks: list[dict[str, Any]],
) -> None:
    want = [
        (w * ACCUM + k + 1, w + 1, k == ACCUM - 1, None)
        for w in range(WINDOWS)
        for k in range(ACCUM)
    ]
    for result in scenario(ranks, "shell"):
        assert result["reports"] == want


def test_shell_num_items_is_token_exact_with_uneven_items(ranks: list[dict[str, Any]]) -> None:
    results = scenario(ranks, "num_items")
    want = reference_large_batch(token_exact=True)
    for result in results:
        # float64 throughout: the item count and the division must not pass through float32
        # (which left errors of ~1e-8); what remains is float64 summation order, ~1e-16
        assert_close(result["params"], want, rtol=1e-13, atol=1e-15)
    assert_ranks_identical(results)
    assert [r["allreduces"] for r in results] == [WINDOWS] * WORLD


def test_shell_nonfinite_loss_on_one_rank_skips_on_every_rank(
    ranks: list[dict[str, Any]],
) -> None:
    results = scenario(ranks, "nonfinite")
    last = NAN_WINDOW * ACCUM + ACCUM - 1  # index of the window's final micro-step report
    for result in results:
        step_num, real_step, updated, skipped = result["reports"][last]
        assert (step_num, real_step, updated, skipped) == (
            last + 1,
            NAN_WINDOW + 1,
            False,
            "nonfinite",
        )
        # no update at the skipped window: parameters equal the previous window's, bit for bit
        before, after = result["params"][NAN_WINDOW - 1], result["params"][NAN_WINDOW]
        assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
        # the other windows update normally and the skipped window leaves no gradient behind
        others = [r for i, r in enumerate(result["reports"]) if i != last]
        assert all(report[3] is None for report in others)
        assert_close(
            result["params"], reference_large_batch(token_exact=False, skip_windows=[NAN_WINDOW])
        )
    assert_ranks_identical(results)


def test_shell_group_with_shared_encoder_equals_large_batch(ranks: list[dict[str, Any]]) -> None:
    results = scenario(ranks, "group")
    want = reference_group_large_batch()
    for result in results:
        assert_close(result["params"], want)
    assert_ranks_identical(results)
    # both members' backwards of a window's last micro-step fill DDP's one bucket together
    assert [r["allreduces"] for r in results] == [WINDOWS] * WORLD


# --- a group on a whole-model DDP whose members do not all take part, or do not cover it -------


@pytest.mark.parametrize("name", ["group_every_other", "group_every_other_find_unused"])
def test_group_member_with_step_per_update_on_a_whole_model_ddp(
    ranks: list[dict[str, Any]], name: str
) -> None:
    """Member a (encoder + head_a) takes part every 2nd window only: in windows 1 and 3 the
    forward runs unsynced and b all-reduces its own gradients; in window 2 both take part and
    DDP's own bucketed all-reduce runs (once: one bucket). No "Expected to have finished
    reduction" at the next forward, with or without find_unused_parameters."""
    results = scenario(ranks, name)
    want = reference_group_large_batch(a_every=2)
    for result in results:
        assert_close(result["params"], want)
        assert result["updates"] == [["b"], ["a", "b"], ["b"]]
    assert_ranks_identical(results)
    assert [r["allreduces"] for r in results] == [1] * WORLD


def test_group_not_covering_the_ddp_model_syncs_its_own_gradients(
    ranks: list[dict[str, Any]],
) -> None:
    """head_b requires grad but no optimizer owns it: DDP's sync would wait for its gradient
    forever, so every window runs unsynced and a all-reduces its own gradients."""
    results = scenario(ranks, "uncovered")
    want = reference_group_large_batch(with_b=False)
    for result in results:
        assert_close(result["params"], want)
        assert result["updates"] == [["a"]] * WINDOWS
    assert_ranks_identical(results)
    assert [r["allreduces"] for r in results] == [0] * WORLD


def test_group_with_mixed_accum_grad_syncs_at_every_window_end(
    ranks: list[dict[str, Any]],
) -> None:
    """a (accum_grad 2) and b (accum_grad 4): DDP's sync runs wherever a's window ends, which
    also averages b's partial gradients mid-window (harmless: the mean is linear)."""
    results = scenario(ranks, "group_mixed_accum")
    want = reference_group_mixed_accum(ACCUM // 2)
    for result in results:
        assert_close(result["params"], want)
    assert_ranks_identical(results)
    assert [r["allreduces"] for r in results] == [WINDOWS * ACCUM // 2] * WORLD


# --- checkpoints under DDP ------------------------------------------------------------------------


def test_mid_window_checkpoint_loads_only_on_the_rank_that_saved_it(
    ranks: list[dict[str, Any]],
) -> None:
    results = scenario(ranks, "checkpoints")
    for rank, result in enumerate(results):
        assert result["saved"] == [(rank, WORLD), (rank, WORLD)]
        loads = result["loads"]
        assert loads["own mid-window"] is None
        assert loads["own boundary"] is None and loads["other boundary"] is None
        error = loads["other mid-window"]
        assert error is not None
        assert f"taken mid-window (micro-step 1) by rank {1 - rank} of {WORLD}" in error
        assert f"cannot resume rank {rank} of {WORLD}" in error
        assert "one file per rank" in error and "window boundary" in error
