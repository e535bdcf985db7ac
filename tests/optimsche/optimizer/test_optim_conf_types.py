"""optim_conf values are checked against the optimizer's signature, in Python and in YAML."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
import torch
from shell_models import tiny_mlp

from optimsche import OptimScheduler, build_optim_sches, load_config
from optimsche.config.error import ConfigError

REFUSED = [
    ("Adam", {"amsgrad": "no"}, "amsgrad: must be true or false for Adam, got 'no' (a string)"),
    ("AdamW", {"maximize": "false"}, "maximize: must be true or false for AdamW, got 'false'"),
    (
        "Adam",
        {"betas": "0.9"},
        "betas: must be a list of 2 items (each a number or a Tensor) for Adam, got '0.9' "
        "(a string)",
    ),
    ("Adam", {"betas": [0.9]}, "betas: must be a list of 2 items (each a number or a Tensor)"),
    (
        "Adam",
        {"betas": [0.9, "0.98"]},
        "betas: must be a list of 2 items (each a number or a "
        "Tensor) for Adam, got [0.9, '0.98'] (a list)",
    ),
    ("Adam", {"lr": "fast"}, "lr: must be a number or a Tensor for Adam, got 'fast' (a string)"),
    ("AdamW", {"weight_decay": "0.01"}, "weight_decay: must be a number for AdamW, got '0.01'"),
    ("SGD", {"nesterov": 1}, "nesterov: must be true or false for SGD, got 1 (an integer)"),
    ("LBFGS", {"max_iter": 2.5}, "max_iter: must be an integer for LBFGS, got 2.5 (a number)"),
]


@pytest.mark.parametrize(("optim_type", "conf", "message"), REFUSED)
def test_python_optim_conf_values_must_fit_the_signature(
    optim_type: str, conf: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=r"optim_conf\." + re.escape(message)):
        OptimScheduler(optim_type, conf, tiny_mlp())


@pytest.mark.parametrize(("optim_type", "conf", "message"), REFUSED)
def test_yaml_optim_conf_values_must_fit_the_signature(
    optim_type: str, conf: dict[str, Any], message: str
) -> None:
    config = {"type": "constant", "conf": {"optim_type": optim_type, "optim_conf": conf}}
    config["conf"]["value"] = 0.1
    with pytest.raises(
        ConfigError,
        match=re.escape("optim_sches.main.conf.optim_conf." + message),
    ):
        build_optim_sches(config, tiny_mlp())


def test_values_of_the_right_type_are_passed_on() -> None:
    sche = OptimScheduler(
        "AdamW",
        {
            "lr": torch.tensor(0.01),
            "betas": (0.9, 0.98),
            "eps": 1,
            "weight_decay": np.float64(0.1),
            "amsgrad": True,
            "foreach": None,
        },
        tiny_mlp(),
    )
    assert sche.optimizer.defaults["amsgrad"] is True
    group = build_optim_sches(
        load_config(
            "type: constant\nconf: {optim_type: Adam, value: 0.1, "
            "optim_conf: {betas: [0.9, 0.98], amsgrad: false, lr: 1e-3}}"
        ),
        tiny_mlp(),
    )
    assert list(group["main"].optimizer.defaults["betas"]) == [0.9, 0.98]


class _Unannotated(torch.optim.SGD):
    """A user's optimizer without annotations: its defaults say what each key is."""

    def __init__(self, params, lr=0.1, centered=False, decay=(0.9, 0.99), **extra):  # type: ignore[no-untyped-def]
        super().__init__(params, lr=lr)


def test_a_users_unannotated_optimizer_is_judged_by_its_defaults() -> None:
    model = tiny_mlp()
    name = f"{__name__}._Unannotated"
    with pytest.raises(
        ValueError, match=r"optim_conf\.centered: must be true or false for _Unannotated"
    ):
        OptimScheduler(name, {"centered": "yes"}, model)
    with pytest.raises(
        ValueError, match=re.escape("optim_conf.decay: must be a list of 2 items (each a num")
    ):
        OptimScheduler(name, {"decay": 0.9}, model)
    assert OptimScheduler(name, {"lr": 1, "anything": "goes"}, model).get_lr() == 1.0
