"""lr_range_test on the shell: the sweep stops where plain SGD provably diverges, suggests an
lr below it, honours accumulation, AMP and param-group ratios, and leaves the model, the
optimizer and the shell bit-identical, also when the loss function raises."""

from __future__ import annotations

import copy
import itertools
import math
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from shell_models import EncoderTwoHeads, batches, tiny_mlp
from shell_snapshot import assert_unchanged, snapshot
from torch import Tensor, nn

from optimsche import OptimScheduler, OptimSchedulerGroup
from optimsche.lr_range import LrRangeResult, lr_range_test
from schedules import bind as bind_schedule
from schedules import reduce_on_plateau, warmup_cosine

# ---------------------------------------------------------------- linear regression, analytic
#
# Full-batch plain gradient descent on the mean squared error of a linear model: the error
# along each eigenvector of the Hessian H = 2 XᵀX / n is multiplied by (1 - lr·λ_i) per
# update, so below lr = 2 / λ_max every update shrinks the loss and the test cannot stop, and
# above it the top direction grows geometrically. Whether the *steepest descent* lies below
# 2 / λ_max is a theorem only when every λ_i is the same (an isotropic design, XᵀX = c·I):
# with unequal curvatures, slow directions may keep the loss falling past 2 / λ_max while the
# fast one, nearly solved, grows from almost nothing.


def _regression(seed: int, scales: list[float], isotropic: bool) -> tuple[Tensor, Tensor, float]:
    """Inputs (column scales ``scales``, or orthogonal columns of norm ``scales[0]·√n`` when
    ``isotropic``), exact targets, and the critical lr ``2 / λ_max``."""
    generator = torch.Generator().manual_seed(seed)
    n, d = 128, len(scales)
    x = torch.randn(n, d, generator=generator, dtype=torch.float64)
    if isotropic:
        x = torch.linalg.qr(x).Q * (scales[0] * n**0.5)
    else:
        x = x * torch.tensor(scales, dtype=torch.float64)
    y = x @ torch.randn(d, 1, generator=generator, dtype=torch.float64)
    hessian = 2 * x.T @ x / n
    return x, y, 2.0 / float(torch.linalg.eigvalsh(hessian).max())


def _sweep_regression(
    seed: int, scales: list[float], accum_grad: int, mode: str, isotropic: bool
) -> tuple[LrRangeResult, float]:
    x, y, critical = _regression(seed, scales, isotropic)
    torch.manual_seed(seed)
    model = nn.Linear(len(scales), 1, bias=False).double()
    shell = OptimScheduler("SGD", {"lr": 0.1}, model=model, accum_grad=accum_grad)
    low, high = critical * 1e-4, critical * 1e3
    if mode == "linear":
        low, high = critical * 1e-3, critical * 20
    result = lr_range_test(
        shell,
        [x] * accum_grad,  # full batch every micro-step: plain gradient descent
        lambda xb: ((model(xb) - y) ** 2).mean(),
        min_lr=low,
        max_lr=high,
        num_updates=200,
        mode=mode,
    )
    return result, critical


regressions = {
    "seed": st.integers(0, 2**16),
    "scales": st.lists(st.floats(0.2, 5.0), min_size=1, max_size=5),
    "accum_grad": st.integers(1, 3),
    "mode": st.sampled_from(["exponential", "linear"]),
}


@settings(max_examples=12, deadline=None)
@given(**regressions)
def test_stops_only_after_the_divergent_lr(
    seed: int, scales: list[float], accum_grad: int, mode: str
) -> None:
    result, critical = _sweep_regression(seed, scales, accum_grad, mode, isotropic=False)
    assert result.stop_reason in ("diverged", "nonfinite")
    assert len(result.lrs) < 200
    assert result.lrs[-1] > critical
    below = [loss for lr, loss in zip(result.lrs, result.losses, strict=True) if lr < critical]
    assert all(b <= a * (1 + 1e-12) for a, b in itertools.pairwise(below))


@settings(max_examples=12, deadline=None)
@given(**regressions)
def test_suggests_below_the_divergent_lr(
    seed: int, scales: list[float], accum_grad: int, mode: str
) -> None:
    result, critical = _sweep_regression(seed, scales, accum_grad, mode, isotropic=True)
    assert result.stop_reason in ("diverged", "nonfinite") and result.lrs[-1] > critical
    suggested = result.suggested_lr
    assert suggested is not None and suggested < critical


def test_completes_without_a_divergence_rule() -> None:
    x, y, critical = _regression(0, [1.0, 2.0], isotropic=False)
    model = nn.Linear(2, 1, bias=False).double()
    shell = OptimScheduler("SGD", {"lr": 0.1}, model=model)
    result = lr_range_test(
        shell,
        [x],
        lambda xb: ((model(xb) - y) ** 2).mean(),
        min_lr=1e-4,
        max_lr=critical / 2,
        num_updates=30,
        diverge=None,
    )
    assert result.stop_reason == "completed" and len(result.lrs) == 30
    assert result.lrs[0] == pytest.approx(1e-4) and result.lrs[-1] == pytest.approx(critical / 2)


# ---------------------------------------------------------------- what the shell honours


def _mse(model: nn.Module) -> Any:
    def loss_fn(batch: tuple[Tensor, Tensor]) -> Tensor:
        x, y = batch
        return ((model(x) - y) ** 2).mean()

    return loss_fn


def test_each_update_is_one_window_at_the_sweep_lr_with_group_ratios() -> None:
    model = tiny_mlp()
    optimizer = torch.optim.SGD(
        [
            {"params": model[0].parameters(), "lr": 0.01},
            {"params": model[2].parameters(), "lr": 0.1},
        ]
    )
    shell = OptimScheduler(optimizer=optimizer, model=model, accum_grad=3)
    seen: list[tuple[float, float]] = []

    def loss_fn(batch: tuple[Tensor, Tensor]) -> Tensor:
        seen.append((optimizer.param_groups[0]["lr"], optimizer.param_groups[1]["lr"]))
        return _mse(model)(batch)

    result = lr_range_test(
        shell, batches(5), loss_fn, min_lr=1e-5, max_lr=1e-2, num_updates=4, diverge=None
    )
    assert result.stop_reason == "completed"
    assert len(seen) == 12  # 4 updates of 3 micro-steps
    # micro-steps of window k+1 run at the lr update k set; the second group keeps its 10x
    for k, lr in enumerate(result.lrs[:-1]):
        for first, second in seen[3 * (k + 1) : 3 * (k + 2)]:
            assert first == pytest.approx(lr) and second == pytest.approx(10 * lr)
    assert optimizer.param_groups[0]["lr"] == 0.01 and optimizer.param_groups[1]["lr"] == 0.1


def test_forward_runs_under_the_shells_autocast() -> None:
    model = tiny_mlp()
    shell = OptimScheduler("SGD", {"lr": 0.1}, model=model, use_amp="bf16")
    enabled: list[bool] = []

    def loss_fn(batch: tuple[Tensor, Tensor]) -> Tensor:
        enabled.append(torch.is_autocast_enabled("cpu"))
        return _mse(model)(batch).float()

    lr_range_test(shell, batches(3), loss_fn, num_updates=3, diverge=None)
    assert enabled == [True, True, True]


def test_fp16_scaler_starts_from_the_shells_and_is_put_back() -> None:
    model = tiny_mlp()
    shell = OptimScheduler("SGD", {"lr": 0.1}, model=model, use_amp="fp16", accum_grad=2)
    data = batches(6)
    for batch in data[:3]:  # the scaler has run; a window is open
        with shell.autocast():
            shell.step(_mse(model)(batch))
    before = snapshot(shell)
    scale = shell.scaler.get_scale() if shell.scaler is not None else None
    result = lr_range_test(shell, data, _mse(model), num_updates=5, diverge=None)
    assert len(result.lrs) == 5
    assert_unchanged(shell, before)
    assert shell.scaler is not None and shell.scaler.get_scale() == scale


@pytest.mark.parametrize("as_tensor", [False, True])
def test_num_items_weights_the_recorded_loss(as_tensor: bool) -> None:
    model = tiny_mlp()
    shell = OptimScheduler("SGD", {"lr": 0.1}, model=model, accum_grad=2)
    data = [(x, y, n) for (x, y), n in zip(batches(2), (1, 3), strict=True)]
    losses: dict[int, float] = {}

    def loss_fn(batch: tuple[Tensor, Tensor, int]) -> Tensor:
        x, y, n = batch
        loss = ((model(x) - y) ** 2).mean() * n  # a sum over n items
        losses[n] = float(loss.detach())
        return loss

    result = lr_range_test(
        shell,
        data,
        loss_fn,
        num_items=lambda batch: torch.tensor(batch[2]) if as_tensor else batch[2],
        min_lr=1e-9,
        max_lr=1e-8,
        num_updates=2,
        diverge=None,
    )
    assert result.losses[0] == pytest.approx((losses[1] + losses[3]) / 4, rel=1e-6)


def test_a_dict_of_items_is_for_a_group_only() -> None:
    model = tiny_mlp()
    shell = OptimScheduler("SGD", {"lr": 0.1}, model=model)
    before = snapshot(shell)
    with pytest.raises(ValueError, match="not a dict"):
        lr_range_test(shell, batches(2), _mse(model), num_items=lambda batch: {"a": 1})
    assert_unchanged(shell, before)


def test_group_sweeps_every_member_and_sums_their_losses() -> None:
    model = EncoderTwoHeads()
    group = OptimSchedulerGroup(
        {
            "a": OptimScheduler(
                "Adam",
                {"lr": 1e-3},
                model,
                optim_loss="loss_a",
                updated_modules=["encoder", "head_a"],
            ),
            "b": OptimScheduler(
                "SGD",
                {"lr": 0.1},
                model,
                optim_loss="loss_b",
                updated_modules="head_b",
                step_per_update=2,
            ),
        }
    )

    def loss_fn(batch: tuple[Tensor, Tensor]) -> dict[str, Tensor]:
        x, y = batch
        a, b = model(x)
        return {"loss_a": ((a - y) ** 2).mean(), "loss_b": ((b - y) ** 2).mean()}

    data = batches(4)
    group.step(loss_fn(data[0]))
    before = {name: snapshot(member) for name, member in group.items()}
    params = copy.deepcopy(model.state_dict())
    first = loss_fn(data[0])
    result = lr_range_test(group, data, loss_fn, num_updates=6, diverge=None)
    assert len(result.lrs) == 6 and result.stop_reason == "completed"
    assert result.losses[0] == pytest.approx(
        float((first["loss_a"] + first["loss_b"]).detach()), rel=1e-6
    )
    for name, member in group.items():
        assert_unchanged(member, before[name])
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in params.items())
    assert group.step_num == 1


# ---------------------------------------------------------------- exactly as before


class _Boom(RuntimeError):
    pass


def _trained_shell(**options: Any) -> tuple[nn.Module, OptimScheduler, list[Any]]:
    """A model with a batch-norm buffer and an Adam shell after 3 micro-steps (a window of 2
    open with accum_grad=2), a plateau rule observed once."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 1))
    shell = OptimScheduler(
        "AdamW",
        {"lr": 1e-3, "weight_decay": 0.1},
        model=model,
        accum_grad=2,
        grad_clip=1.0,
        schedule=bind_schedule(warmup_cosine, peak=1e-3, warmup=2, steps=50),
        plateau=reduce_on_plateau(factor=0.5, patience=0),
        **options,
    )
    data = batches(8, size=8)
    for batch in data[:3]:
        with shell.autocast():
            shell.step(_mse(model)(batch))
    shell.observe(1.0)
    shell.observe(2.0)
    return model, shell, data


def _model_state(model: nn.Module) -> dict[str, Any]:
    return copy.deepcopy(
        {
            "state": model.state_dict(),
            "grads": [None if p.grad is None else p.grad.clone() for p in model.parameters()],
            "training": [m.training for m in model.modules()],
            "rng": torch.get_rng_state(),
        }
    )


def _assert_model_unchanged(model: nn.Module, before: dict[str, Any]) -> None:
    after = _model_state(model)
    assert before["state"].keys() == after["state"].keys()
    for key, value in before["state"].items():
        assert torch.equal(value, after["state"][key]), key
    for a, b in zip(before["grads"], after["grads"], strict=True):
        assert (a is None) == (b is None) and (a is None or torch.equal(a, b))
    assert before["training"] == after["training"]
    assert torch.equal(before["rng"], after["rng"])


@pytest.mark.parametrize("use_amp", [False, "fp16"])
def test_everything_is_bit_identical_afterwards(use_amp: bool | str) -> None:
    model, shell, data = _trained_shell(use_amp=use_amp)
    before, model_before = snapshot(shell), _model_state(model)
    result = lr_range_test(
        shell, data, lambda b: _mse(model)(b) + 0 * torch.rand(()), max_lr=1e3, num_updates=40
    )
    assert isinstance(result, LrRangeResult) and len(result.lrs) >= 2
    assert_unchanged(shell, before)
    _assert_model_unchanged(model, model_before)
    # and the run goes on as if no test had happened
    twin_model, twin, _ = _trained_shell(use_amp=use_amp)
    for batch in data[3:]:
        with shell.autocast():
            shell.step(_mse(model)(batch))
        with twin.autocast():
            twin.step(_mse(twin_model)(batch))
    for p, q in zip(model.parameters(), twin_model.parameters(), strict=True):
        assert torch.equal(p, q)


@pytest.mark.parametrize("fail_at", [1, 2, 5])
def test_bit_identical_when_the_loss_function_raises(fail_at: int) -> None:
    model, shell, data = _trained_shell()
    before, model_before = snapshot(shell), _model_state(model)
    calls = 0

    def loss_fn(batch: tuple[Tensor, Tensor]) -> Tensor:
        nonlocal calls
        calls += 1
        if calls == fail_at:
            raise _Boom("mid-sweep")
        return _mse(model)(batch)

    with pytest.raises(_Boom):
        lr_range_test(shell, data, loss_fn, num_updates=10)
    assert_unchanged(shell, before)
    _assert_model_unchanged(model, model_before)


def test_model_in_eval_mode_and_params_outside_the_optimizer_are_put_back() -> None:
    model = tiny_mlp()
    model.eval()
    model[0].weight.grad = torch.ones_like(model[0].weight)  # not this shell's parameter
    shell = OptimScheduler("SGD", {"lr": 0.1}, model=model, updated_modules="2")
    before = _model_state(model)

    def loss_fn(batch: tuple[Tensor, Tensor]) -> Tensor:
        model.train()  # a loss function that changes the mode
        return _mse(model)(batch)

    lr_range_test(shell, batches(3), loss_fn, num_updates=3)
    _assert_model_unchanged(model, before)


# ---------------------------------------------------------------- stops and refusals


def test_nonfinite_loss_stops_the_sweep() -> None:
    model = tiny_mlp()
    shell = OptimScheduler("SGD", {"lr": 0.1}, model=model)
    calls = 0

    def loss_fn(batch: tuple[Tensor, Tensor]) -> Tensor:
        nonlocal calls
        calls += 1
        loss = _mse(model)(batch)
        return loss * math.nan if calls == 4 else loss

    result = lr_range_test(shell, batches(8), loss_fn, num_updates=8)
    assert result.stop_reason == "nonfinite" and len(result.lrs) == 4
    assert result.skipped[-1] == "nonfinite" and math.isnan(result.losses[-1])
    assert result.suggested_lr is not None  # the NaN point is left out


def test_a_one_pass_iterator_may_run_out_and_a_list_is_restarted() -> None:
    model = tiny_mlp()
    shell = OptimScheduler("SGD", {"lr": 0.1}, model=model, accum_grad=2)
    data = batches(5)

    def once() -> Iterator[tuple[Tensor, Tensor]]:
        yield from data

    out = lr_range_test(shell, once(), _mse(model), num_updates=10, diverge=None)
    assert out.stop_reason == "out of batches" and len(out.lrs) == 2
    again = lr_range_test(shell, data, _mse(model), num_updates=10, diverge=None)
    assert again.stop_reason == "completed" and len(again.lrs) == 10
    with pytest.raises(ValueError, match="no batch"):
        lr_range_test(shell, [], _mse(model), num_updates=10)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"min_lr": 0.0}, "min_lr must be > 0"),
        ({"max_lr": math.inf}, "max_lr must be finite"),
        ({"min_lr": 1.0, "max_lr": 0.5}, r"max_lr must be > min_lr \(1.0\), got 0.5"),
        ({"num_updates": 1}, "num_updates must be an int >= 2, got 1"),
        ({"num_updates": 10.0}, "num_updates must be an int"),
        ({"mode": "exponental"}, "mode must be one of 'exponential', 'linear'.*did you mean"),
        ({"smoothing": 1.0}, r"smoothing must lie in \[0, 1\)"),
        ({"diverge": 1.0}, "diverge must be > 1"),
        ({"model": "net"}, "model must be a torch.nn.Module"),
        ({"num_items": 3}, "num_items must be a callable"),
        ({"loss_fn": None}, "loss_fn must be a callable"),
        ({"batches": 3}, "batches must be an iterable"),
        ({"owner": torch.optim.SGD([nn.Parameter(torch.ones(1))])}, "needs an OptimScheduler"),
    ],
)
def test_bad_arguments_are_refused_before_anything_changes(
    arguments: dict[str, Any], message: str
) -> None:
    model, shell, data = _trained_shell()
    before, model_before = snapshot(shell), _model_state(model)
    call: dict[str, Any] = {"owner": shell, "batches": data, "loss_fn": _mse(model)}
    call.update(arguments)
    owner, batches_, loss_fn = call.pop("owner"), call.pop("batches"), call.pop("loss_fn")
    with pytest.raises(ValueError, match=message):
        lr_range_test(owner, batches_, loss_fn, **call)
    assert_unchanged(shell, before)
    _assert_model_unchanged(model, model_before)


def test_a_group_with_two_accum_grads_is_refused() -> None:
    model = EncoderTwoHeads()
    group = OptimSchedulerGroup(
        {
            "a": OptimScheduler("SGD", {"lr": 0.1}, model, updated_modules="head_a", accum_grad=2),
            "b": OptimScheduler("SGD", {"lr": 0.1}, model, updated_modules="head_b"),
        }
    )
    with pytest.raises(ValueError, match=r"share one accum_grad .*, got \{'a': 2, 'b': 1\}"):
        lr_range_test(group, batches(2), lambda b: {"loss": model(b[0])[0].sum()})


# ---------------------------------------------------------------- the plot


def test_plot_writes_an_image(tmp_path: Any) -> None:
    pytest.importorskip("matplotlib")
    model = tiny_mlp()
    shell = OptimScheduler("SGD", {"lr": 0.1}, model=model)
    result = lr_range_test(shell, batches(4), _mse(model), num_updates=12, max_lr=100.0)
    figure = result.plot(tmp_path / "sub" / "lr_find.png")
    assert (tmp_path / "sub" / "lr_find.png").stat().st_size > 1000
    assert figure.axes[0].get_xscale() == "log"


def test_plot_without_matplotlib_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from optimsche.cli.plot import PlotUnavailable

    result = LrRangeResult(
        lrs=(1e-3, 1e-2),
        losses=(1.0, 0.5),
        smoothed=(1.0, 0.7),
        skipped=(None, None),
        stop_reason="completed",
        mode="exponential",
        min_lr=1e-3,
        max_lr=1e-2,
        num_updates=2,
    )
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(PlotUnavailable, match=r"pip install 'optimsche\[plot\]'"):
        result.plot()
