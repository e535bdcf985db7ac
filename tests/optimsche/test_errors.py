"""Every boundary error of OptimScheduler names the argument, the value and the choices."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
import torch
from shell_models import EncoderTwoHeads, batches, mse, tiny_mlp
from torch import nn

from optimsche import OptimScheduler


def _build(**kwargs: Any) -> OptimScheduler:
    arguments: dict[str, Any] = {"optim_type": "SGD", "optim_conf": {"lr": 0.1}}
    arguments["model"] = kwargs.pop("model", tiny_mlp())
    arguments.update(kwargs)
    return OptimScheduler(**arguments)


@pytest.mark.parametrize(
    ("optim_type", "message"),
    [
        ("Adamw", "optim_type 'Adamw' is not an optimizer of torch.optim; did you mean 'AdamW'"),
        ("Adm", "optim_type 'Adm' is not an optimizer of torch.optim; did you mean 'Adam'"),
        ("Zzzz", "optim_type 'Zzzz' is not an optimizer of torch.optim (torch.optim has: ASGD,"),
        (
            "torch.optim.AdamWW",
            "optim_type 'torch.optim.AdamWW': module 'torch.optim' has no 'AdamWW'; did you mean "
            "'AdamW'",
        ),
        ("no_such_pkg.Optim", "optim_type 'no_such_pkg.Optim': cannot import module 'no_such_pkg'"),
        (
            "torch.nn.Linear",
            "optim_type 'torch.nn.Linear' names <class 'torch.nn.modules.linear."
            "Linear'>, which is not a torch.optim.Optimizer subclass",
        ),
        ("", "optim_type must be the name of a torch.optim optimizer"),
    ],
)
def test_unknown_optim_type_lists_close_matches(optim_type: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        _build(optim_type=optim_type)


def test_a_dotted_optim_type_is_imported() -> None:
    assert isinstance(_build(optim_type="torch.optim.Adagrad").optimizer, torch.optim.Adagrad)


def test_unknown_updated_module_lists_the_first_level_modules() -> None:
    with pytest.raises(
        ValueError,
        match=re.escape(
            "updated_modules: 'decoder' is not a module of the model (EncoderTwoHeads); its "
            "first-level modules are: 'encoder', 'head_a', 'head_b'"
        ),
    ):
        _build(model=EncoderTwoHeads(), updated_modules=["encoder", "decoder"])
    with pytest.raises(
        ValueError, match=r"updated_modules must name at least one module, got \[\]"
    ):
        _build(updated_modules=[])
    with pytest.raises(ValueError, match="updated_modules must be None, a module name or a list"):
        _build(updated_modules=3)


def test_dotted_updated_modules_reach_deeper_modules() -> None:
    model = nn.Sequential(EncoderTwoHeads())
    sche = _build(model=model, updated_modules="0.head_a")
    assert len(sche.optimizer.param_groups[0]["params"]) == 2


@pytest.mark.parametrize("name", ["accum_grad", "step_per_update"])
@pytest.mark.parametrize("value", [0, -2, 1.5, True])
def test_counts_must_be_integers_of_at_least_one(name: str, value: object) -> None:
    with pytest.raises(
        ValueError, match=re.escape(f"{name} must be a positive integer, got {value!r}")
    ):
        _build(**{name: value})


def test_optim_conf_must_be_a_dict_of_the_optimizers_arguments() -> None:
    with pytest.raises(
        ValueError, match=r"optim_conf must be a dict of SGD keyword arguments, got list"
    ):
        _build(optim_conf=[0.1])
    with pytest.raises(
        ValueError,
        match=r"optim_conf: unknown key\(s\) 'lrr' for SGD; valid keys: 'lr', 'momentum'",
    ):
        _build(optim_conf={"lrr": 0.1})
    with pytest.raises(ValueError, match="optim_conf must not hold 'params'"):
        _build(optim_conf={"lr": 0.1, "params": []})


def test_unknown_sche_conf_of_the_base_class() -> None:
    with pytest.raises(
        ValueError,
        match=r"OptimScheduler: unknown key 'warmup_steps' for OptimScheduler\.sche_init \(it "
        r"takes none: give schedule= for a pure schedule",
    ):
        _build(warmup_steps=10)


def test_missing_loss_names_the_key_and_lists_the_keys_present() -> None:
    model = tiny_mlp()
    sche = _build(model=model, optim_loss="ce")
    loss = mse(model, *batches(1)[0])
    with pytest.raises(
        ValueError, match=r"losses has no 'ce' \(optim_loss='ce'\); keys present: 'loss', 'ctc'"
    ):
        sche.step({"loss": loss, "ctc": loss})
    default = _build(model=model)
    with pytest.raises(
        ValueError, match=r"losses has no 'loss' \(optim_loss=None\); keys present: 'ce'"
    ):
        default.step({"ce": loss})
    with pytest.raises(ValueError, match=r"losses\['loss'\] must be a Tensor, got float"):
        default.step({"loss": 1.0})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="losses must be a Tensor or a dict of Tensors, got list"):
        default.step([loss])  # type: ignore[arg-type]
    assert default.step_num == 0  # nothing ran


def test_the_loss_must_be_a_scalar_that_requires_grad() -> None:
    model = tiny_mlp()
    sche = _build(model=model)
    x, y = batches(1)[0]
    with torch.no_grad():
        frozen = mse(model, x, y)
    with pytest.raises(ValueError, match="the loss 'loss' does not require grad"):
        sche.step(frozen)
    with pytest.raises(
        ValueError, match=r"the loss 'loss' must be a scalar \(0-dim\), got shape \(4, 1\)"
    ):
        sche.step((model(x) - y).pow(2))


def test_optimizer_and_optim_type_are_exclusive() -> None:
    model = tiny_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"give either optimizer= .* or optim_type/optim_conf"):
        OptimScheduler("SGD", model=model, optimizer=optimizer)
    with pytest.raises(ValueError, match="updated_modules chooses the parameters of an optimizer"):
        OptimScheduler(model=model, updated_modules="0", optimizer=optimizer)
    with pytest.raises(ValueError, match=r"give optim_type .* or optimizer="):
        OptimScheduler(model=model)
    with pytest.raises(ValueError, match="optim_type='SGD' needs model= to take parameters from"):
        OptimScheduler("SGD", {"lr": 0.1})
    with pytest.raises(ValueError, match=r"optimizer must be a torch\.optim\.Optimizer, got str"):
        OptimScheduler(optimizer="SGD")  # type: ignore[arg-type]


def test_model_and_distributed_arguments() -> None:
    with pytest.raises(ValueError, match=r"model must be a torch\.nn\.Module or None, got str"):
        _build(model="mlp")
    with pytest.raises(
        ValueError, match="distributed=True needs model= to be a DistributedDataParallel"
    ):
        _build(distributed=True)
    with pytest.raises(
        ValueError, match=r"distributed must be None \(detect\), True or False, got 'yes'"
    ):
        _build(distributed="yes")
    assert _build(distributed=False).distributed is False
    assert _build().distributed is False


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ft_factor": math.nan}, "ft_factor must be finite, got nan"),
        ({"grad_clip": 0.0}, r"grad_clip must be > 0, got 0.0"),
        ({"grad_clip": "1"}, "grad_clip must be a number, got str: '1'"),
        ({"grad_norm_type": 0}, r"grad_norm_type must be > 0 \(2.0 = L2, inf = max\), got 0"),
        ({"grad_norm_type": None}, "grad_norm_type must be a number > 0 or inf, got None"),
        ({"optim_loss": 3}, r"optim_loss must be a loss name \(str\) or None, got 3"),
        ({"schedule": 0.1}, "schedule must be a callable real_step -> lr, got 0.1"),
    ],
)
def test_scalar_arguments_are_checked(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _build(**kwargs)


def test_an_optimizer_with_nothing_to_train_is_refused() -> None:
    model = tiny_mlp().requires_grad_(False)
    with pytest.raises(ValueError, match="the optimizer has no parameter that requires grad"):
        _build(model=model)
    empty = nn.Sequential(nn.ReLU())
    with pytest.raises(ValueError, match="SGD: the selected modules have no parameters"):
        _build(model=empty)
