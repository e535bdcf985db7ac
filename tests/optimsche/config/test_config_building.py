"""build_optim_sches: validated configs built into OptimScheduler groups over a model."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import schedules
from optimsche import (
    ExponentDecayLr,
    NoamLr,
    OptimScheduler,
    OptimSchedulerGroup,
    build_optim_sches,
    load_config,
)
from optimsche.config.error import ConfigError
from optimsche.config.parsing import parse_optim_sches

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"


class EncoderDecoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.encoder = nn.Linear(3, 4)
        self.decoder = nn.Linear(4, 1)

    def losses(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        hidden = torch.tanh(self.encoder(x))
        return {
            "encoder_loss": hidden.pow(2).mean(),
            "decoder_loss": self.decoder(hidden).pow(2).mean(),
        }


def _two_optimizers(**encoder_conf: Any) -> dict[str, Any]:
    return {
        "optim_sches": {
            "encoder_optim": {
                "type": "noam.NoamLr",
                "conf": {
                    "optim_type": "Adam",
                    "optim_losses": "encoder_loss",
                    "updated_modules": "encoder",
                    "step_per_update": 2,
                    "d_model": 16,
                    "warmup_steps": 3,
                    **encoder_conf,
                },
            },
            "decoder_optim": {
                "type": "noam.Noamlr",
                "conf": {
                    "optim_type": "Adam",
                    "optim_losses": "decoder_loss",
                    "updated_modules": "decoder",
                    "d_model": 16,
                    "warmup_steps": 3,
                },
            },
        }
    }


def test_speechain_example_file_builds_a_group_of_noam_optimizers() -> None:
    model = EncoderDecoder()
    group = build_optim_sches(load_config(EXAMPLES / "speechain_two_optimizers.yaml"), model)
    assert isinstance(group, OptimSchedulerGroup)
    assert list(group) == ["encoder_optim", "decoder_optim"]
    encoder, decoder = group["encoder_optim"], group["decoder_optim"]
    assert type(encoder) is NoamLr and type(decoder) is NoamLr
    assert isinstance(encoder.optimizer, torch.optim.Adam)
    assert tuple(encoder.optimizer.param_groups[0]["betas"]) == (0.9, 0.98)
    assert {id(p) for p in encoder.optimizer.param_groups[0]["params"]} == {
        id(p) for p in model.encoder.parameters()
    }
    assert {id(p) for p in decoder.optimizer.param_groups[0]["params"]} == {
        id(p) for p in model.decoder.parameters()
    }
    assert (encoder.optim_loss, encoder.step_per_update) == ("encoder_loss", 2)
    assert (decoder.optim_loss, decoder.step_per_update) == ("decoder_loss", 1)


def test_warmup_cosine_example_file_builds_one_main_optimizer() -> None:
    model = EncoderDecoder()
    group = build_optim_sches(load_config(EXAMPLES / "warmup_cosine.yaml"), model)
    (name,) = group
    main = group[name]
    assert name == "main" and type(main) is OptimScheduler
    assert isinstance(main.optimizer, torch.optim.AdamW)
    assert main.optimizer.param_groups[0]["weight_decay"] == 0.01
    assert main.schedule is not None
    expected = functools.partial(
        schedules.warmup_cosine, peak=3e-4, warmup=2000, steps=100000, final=3e-5
    )
    for step in (1, 1000, 2000, 50000, 100000, 200000):
        assert main.update_lr(step) == expected(step)


@pytest.mark.parametrize("accum_grad", [1, 2])
def test_group_applies_each_noam_lr_on_its_own_updates(accum_grad: int) -> None:
    model = EncoderDecoder()
    group = build_optim_sches(
        _two_optimizers(), model, accum_grad=accum_grad, ft_factor=0.5, grad_clip=1.0
    )
    assert all(
        m.accum_grad == accum_grad and m.ft_factor == 0.5 and m.grad_clip == 1.0
        for m in group.values()
    )
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(2))
    for n in range(1, 8 * accum_grad + 1):
        reports = group.step(model.losses(x))
        real = (n - 1) // accum_grad + 1
        window_end = n % accum_grad == 0
        assert reports["decoder_optim"].updated == window_end
        assert reports["encoder_optim"].updated == (window_end and real % 2 == 0)
        for report in reports.values():
            if report.updated:
                assert report.lr == pytest.approx(0.5 * schedules.noam(real, 16, 3), rel=1e-12)


def test_schedule_type_matches_a_hand_built_optim_scheduler() -> None:
    config = {
        "type": "warmup_cosine",
        "conf": {
            "optim_type": "SGD",
            "optim_conf": {"lr": 0.1, "momentum": 0.9},
            "peak": 0.1,
            "warmup": 2,
            "steps": 6,
        },
    }
    built_model, hand_model = EncoderDecoder(), EncoderDecoder()
    built = build_optim_sches(config, built_model)["main"]
    hand = OptimScheduler(
        optim_type="SGD",
        optim_conf={"lr": 0.1, "momentum": 0.9},
        model=hand_model,
        schedule=functools.partial(schedules.warmup_cosine, peak=0.1, warmup=2, steps=6),
    )
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(3))
    for _ in range(8):
        for shell, model in ((built, built_model), (hand, hand_model)):
            loss = sum(model.losses(x).values())
            assert isinstance(loss, torch.Tensor)
            shell.step({"loss": loss})
        assert built.get_lr() == hand.get_lr()
    for a, b in zip(built_model.parameters(), hand_model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_exponent_decay_type_and_validated_records_are_accepted() -> None:
    records = parse_optim_sches(
        {
            "type": "exp.ExponentDecayLr",
            "conf": {"optim_type": "SGD", "optim_conf": {"lr": 0.2}, "decay_factor": 0.5},
        }
    )
    group = build_optim_sches(records, EncoderDecoder())
    shell = group["main"]
    assert type(shell) is ExponentDecayLr
    assert [shell.update_lr(1, e) for e in (1, 2, 3)] == pytest.approx([0.2, 0.1, 0.05])


@pytest.mark.parametrize(
    ("encoder_conf", "expected"),
    [
        (
            {"updated_modules": "encodr"},
            "optim_sches.encoder_optim: updated_modules: 'encodr' is not a module of the model",
        ),
        (
            {"warmup_steps": -1},
            "optim_sches.encoder_optim: NoamLr: warmup_steps must be > 0",
        ),
        ({"optim_conf": {"lr": -1.0}}, "optim_sches.encoder_optim: Invalid learning rate: -1.0"),
    ],
)
def test_build_time_errors_name_the_entry(encoder_conf: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        build_optim_sches(_two_optimizers(**encoder_conf), EncoderDecoder())
    assert expected in str(error.value)
    assert "\n" not in str(error.value)


def test_unknown_module_lists_the_models_modules() -> None:
    with pytest.raises(ConfigError, match="first-level modules are: 'encoder', 'decoder'"):
        build_optim_sches(_two_optimizers(updated_modules="encodr"), EncoderDecoder())


def test_nothing_is_built_when_any_entry_is_invalid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "recording_sches.py").write_text(
        "from optimsche import OptimScheduler\n"
        "BUILT = []\n"
        "class Recording(OptimScheduler):\n"
        "    def sche_init(self) -> None:\n"
        "        BUILT.append(self)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        import recording_sches  # type: ignore[import-not-found]

        config = _two_optimizers()
        config["optim_sches"]["encoder_optim"] = {
            "type": "recording_sches.Recording",
            "conf": {"optim_type": "SGD", "optim_conf": {"lr": 0.1}, "updated_modules": "encoder"},
        }
        config["optim_sches"]["decoder_optim"]["conf"]["warmup_stesp"] = 3
        with pytest.raises(ConfigError, match="did you mean 'warmup_steps'"):
            build_optim_sches(config, EncoderDecoder())
        assert recording_sches.BUILT == []
        del config["optim_sches"]["decoder_optim"]["conf"]["warmup_stesp"]
        build_optim_sches(config, EncoderDecoder())
        assert len(recording_sches.BUILT) == 1
    finally:
        sys.modules.pop("recording_sches", None)


def test_run_level_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match="accum_grad: must be a positive integer, got 0"):
        build_optim_sches(_two_optimizers(), EncoderDecoder(), accum_grad=0)
    with pytest.raises(ConfigError, match=r"model must be a torch\.nn\.Module, got dict"):
        build_optim_sches(_two_optimizers(), {})  # type: ignore[arg-type]
