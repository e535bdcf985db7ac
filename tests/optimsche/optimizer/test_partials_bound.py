"""The shell, ``as_lr_scheduler`` and the config builder turn a ``functools.partial`` of a
built-in leaf into its bound form (``schedules.bound_or_same``): the same lrs, the
hyperparameters checked once, at construction, with the key (and param group) named; a
user's own function or any other callable is used as given."""

from __future__ import annotations

import functools
import re

import pytest
import torch
from shell_models import batches, mse, tiny_mlp

import schedules
from optimsche import OptimScheduler, as_lr_scheduler, build_optim_sches, load_config
from optimsche.optimizer.scheduled_entries import schedule_sources
from schedules.bound_schedule import BoundSchedule

COSINE = functools.partial(schedules.warmup_cosine, peak=1e-2, warmup=3, steps=20)


def _shell(**kwargs: object) -> OptimScheduler:
    model = tiny_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-2, weight_decay=1e-4)
    return OptimScheduler(optimizer=optimizer, model=model, **kwargs)  # type: ignore[arg-type]


def test_schedule_sources_bind_partials_of_leaves_and_keep_everything_else() -> None:
    def mine(step: float) -> float:
        return 1e-3

    own = functools.partial(mine)
    (bound,), per_group = schedule_sources("lr", COSINE, 1, role="schedule")
    assert isinstance(bound, BoundSchedule) and not per_group
    assert bound == schedules.bind(schedules.warmup_cosine, peak=1e-2, warmup=3, steps=20)
    sources, per_group = schedule_sources("lr", [COSINE, mine, own], 3, role="schedule")
    assert per_group and isinstance(sources[0], BoundSchedule)
    assert sources[1] is mine and sources[2] is own
    combinator = schedules.scale(COSINE, 2.0)
    assert schedule_sources("lr", combinator, 1, role="schedule")[0] == (combinator,)


def test_a_partial_drives_the_shell_exactly_as_its_direct_calls() -> None:
    shell = _shell(schedule=COSINE)
    assert shell.schedule is COSINE  # what was given stays what the shell shows
    lrs = []
    for x, y in batches(8):
        lrs.append(shell.step(mse(shell.model, x, y)).lr)
    assert lrs == [COSINE(k) for k in range(1, 9)]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: _shell(
                schedule=functools.partial(schedules.cosine, peak=1e-2, step=10),
            ),
            "schedule: 'lr': cosine has no hyperparameter 'step'; did you mean 'steps'?",
        ),
        (
            lambda: _shell(schedule=functools.partial(schedules.cosine, peak=1e-2, steps=-4)),
            "schedule: 'lr': steps must be > 0, got -4",
        ),
        (
            lambda: _shell(
                schedule=COSINE,
                hyperparameters={
                    "weight_decay": functools.partial(schedules.constant, value=float("nan"))
                },
            ),
            "hyperparameters: 'weight_decay': value must be finite, got nan",
        ),
    ],
)
def test_a_bad_hyperparameter_of_a_partial_is_refused_at_construction(
    make: object, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        make()  # type: ignore[operator]


def test_a_bad_partial_in_a_list_names_its_param_group() -> None:
    model = tiny_mlp()
    optimizer = torch.optim.SGD(
        [{"params": [model[0].weight]}, {"params": [model[0].bias, *model[2].parameters()]}],
        lr=1e-2,
    )
    lr_before = [g["lr"] for g in optimizer.param_groups]
    bad = functools.partial(schedules.cosine, peak=1e-2, steps=0)
    with pytest.raises(ValueError, match=r"'lr': the schedule of param group 1: steps must be"):
        as_lr_scheduler(optimizer, [COSINE, bad])
    assert [g["lr"] for g in optimizer.param_groups] == lr_before  # nothing changed
    assert "initial_lr" not in optimizer.param_groups[0]


def test_as_lr_scheduler_gives_the_partials_values() -> None:
    model = tiny_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-2)
    scheduler = as_lr_scheduler(optimizer, COSINE)
    lrs = []
    for _ in range(6):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs == [COSINE(k) for k in range(1, 7)]


def test_the_config_builder_binds_its_leaf() -> None:
    text = (
        "optim_sches:\n  main:\n    type: cosine\n    conf:\n      optim_type: SGD\n"
        "      optim_conf: {lr: 0.01}\n      peak: 0.01\n      steps: 50\n"
    )
    shell = build_optim_sches(load_config(text), tiny_mlp())["main"]
    assert shell.schedule == schedules.bind(schedules.cosine, peak=0.01, steps=50)
    assert repr(shell.schedule) == "cosine(peak=0.01, steps=50)"
