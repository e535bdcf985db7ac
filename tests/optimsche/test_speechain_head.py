"""SpeeChain HEAD's calling convention: ``step(losses, time_func, optim_name, step_num,
epoch_num, logger)``, ``update_lr(real_step, epoch_num)`` overrides, one warning per skip."""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
from collections.abc import Iterator
from typing import Any

import pytest
from shell_models import batches, mse, tiny_mlp

from optimsche import OptimScheduler, OptimSchedulerGroup
from optimsche.update import clock


class EpochAware(OptimScheduler):
    """A SpeeChain-HEAD-style subclass: the lr is a function of the real step and the epoch."""

    def update_lr(self, real_step: int, epoch_num: float) -> float:  # type: ignore[override]
        return 0.1 * real_step + epoch_num


class StepOnly(OptimScheduler):
    """A SpeeChain-2022-style subclass: ``update_lr(real_step)``."""

    def update_lr(self, real_step: int) -> float:
        return 0.5 / real_step


class EpochOptional(OptimScheduler):
    def update_lr(self, real_step: int, epoch_num: float | None = None) -> float:  # type: ignore[override]
        return 1.0 if epoch_num is None else 2.0 * epoch_num


class Timer:
    def __init__(self) -> None:
        self.entered: list[list[str]] = []

    @contextlib.contextmanager
    def __call__(self, names: list[str]) -> Iterator[None]:
        self.entered.append(names)
        yield


def test_the_runners_positional_call() -> None:
    """SpeeChain's runner: ``optim_sche.step(losses, time_func, optim_name, step_num,
    epoch_num, logger)``, positionally."""
    model = tiny_mlp()
    sche = EpochAware("SGD", {"lr": 1.0}, model, accum_grad=2)
    timer, logger = Timer(), logging.getLogger("speechain-runner")
    lrs = []
    for step_num, (x, y) in enumerate(batches(4), start=1):
        epoch_num = 1 + (step_num - 1) // 2
        report = sche.step({"loss": mse(model, x, y)}, timer, "asr", step_num, epoch_num, logger)
        if report.updated:
            lrs.append(report.lr)
    assert lrs == [0.1 * 1 + 1, 0.1 * 2 + 2]
    assert timer.entered[:3] == [["loss_backward_time", "asr"]] * 2 + [["optim_time", "asr"]]


def test_update_lr_overrides_with_and_without_the_epoch() -> None:
    model = tiny_mlp()
    step_only = StepOnly("SGD", {"lr": 1.0}, model)
    optional = EpochOptional("SGD", {"lr": 1.0}, tiny_mlp())
    data = batches(2)
    assert step_only.step(mse(model, *data[0]), epoch_num=3).lr == 0.5
    assert step_only.step(mse(model, *data[1])).lr == 0.25  # no epoch needed
    assert not step_only.requires_epoch_num and not optional.requires_epoch_num
    assert EpochAware("SGD", {"lr": 1.0}, tiny_mlp()).requires_epoch_num
    net = optional.model
    assert net is not None
    assert optional.step(mse(net, *data[0])).lr == 1.0
    assert optional.step(mse(net, *data[1]), epoch_num=4).lr == 8.0


def test_a_needed_epoch_is_required_on_every_step() -> None:
    model = tiny_mlp()
    sche = EpochAware("SGD", {"lr": 1.0}, model, accum_grad=2)
    with pytest.raises(ValueError, match=r"epoch_num is required: EpochAware\.update_lr\("):
        sche.step(mse(model, *batches(1)[0]))
    assert sche.step_num == 0


def test_the_override_signature_is_read_once_at_construction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = tiny_mlp()
    calls: list[Any] = []
    original = inspect.signature

    def counting(obj: Any, *args: Any, **kwargs: Any) -> inspect.Signature:
        if getattr(obj, "__name__", None) == "update_lr":
            calls.append(obj)
        return original(obj, *args, **kwargs)

    monkeypatch.setattr(clock.inspect, "signature", counting)
    sche = EpochAware("SGD", {"lr": 1.0}, model)
    assert len(calls) == 1
    for n, (x, y) in enumerate(batches(5), start=1):
        sche.step(mse(model, x, y), epoch_num=n)
    assert len(calls) == 1


class Recorder:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str, *args: object) -> None:
        self.warnings.append(message % args if args else message)


def test_the_logger_gets_one_warning_per_skipped_update() -> None:
    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 0.1}, model, accum_grad=2)
    logger = Recorder()
    for n, (x, y) in enumerate(batches(8), start=1):
        loss = mse(model, x, y)
        if n in (1, 6):  # windows 1 and 3 skip
            loss = loss * math.nan
        sche.step(loss, None, "asr", n, 1, logger)
    assert len(logger.warnings) == 2
    assert logger.warnings[0].startswith(
        "optimizer 'asr': update skipped at step 2 (real step 1): nonfinite"
    )
    assert "step 6 (real step 3): nonfinite" in logger.warnings[1]


def test_the_logger_hears_of_a_skipped_flush_and_of_a_skipped_jump_flush() -> None:
    model = tiny_mlp()
    sche = OptimScheduler("SGD", {"lr": 0.1}, model, accum_grad=4)
    logger = Recorder()
    data = batches(4)
    sche.step(mse(model, *data[0]) * math.inf, logger=logger)
    sche.flush(logger=logger)
    sche.step(mse(model, *data[1]) * math.nan, logger=logger)
    sche.step(mse(model, *data[2]), step_num=10, logger=logger)  # jumps out of window 2
    assert [w.split(":")[1] for w in logger.warnings] == [
        " update skipped at step 1 (real step 1)",
        " update skipped at step 5 (real step 2)",
    ]


def test_a_python_logging_logger_receives_the_warning(caplog: pytest.LogCaptureFixture) -> None:
    model = tiny_mlp()
    group = OptimSchedulerGroup({"main": OptimScheduler("SGD", {"lr": 0.1}, model)})
    with caplog.at_level(logging.WARNING, logger="runner"):
        group.step(mse(model, *batches(1)[0]) * math.nan, 1, 1, logging.getLogger("runner"))
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "optimizer 'main': update skipped at step 1 (real step 1): nonfinite" in caplog.text
