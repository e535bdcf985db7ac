"""SpeeChain's configuration files as they are: its YAML tags, whole experiment configurations
(``train_cfg.optim_sches`` with the run settings at the top), and the conf keys ``clock`` and
``plateau``.

The expected documents below are what SpeeChain's own loader gives for these files (checked
once, by running it on them); the one deliberate difference is marked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import schedules
from optimsche import ExponentDecayLr, NoamLr, build_optim_sches, load_config
from optimsche.config.error import ConfigError
from optimsche.config.parsing import parse_optim_sches

FILES = Path(__file__).resolve().parent / "speechain_files"


def test_every_tag_resolves_as_speechain_resolves_it() -> None:
    assert load_config(FILES / "every_tag.yaml") == {
        "name": "run",
        "width": 512,
        "rate": 2.5e-4,
        "flag": True,
        "nothing": None,
        "shape": [[2, 3], [4, 5]],
        "sizes": (8, 16, 32),
        "whole_int": 512,
        "whole_float": 2.5e-4,
        "whole_bool": True,
        "whole_null": None,
        "whole_list": [[2, 3], [4, 5]],
        "whole_tuple": (8, 16, 32),
        "indexed": 4,
        "indexed_tuple": 32,
        "joined": "run_w512_lr0.00025",
        "joined_twice": "run-run",
        "joined_null": "xNone",
        "joined_tuple": "best(8, 16, 32)",
        "plain_text": "no reference here",
        "below_plain": 42,
        "below_list": [512, "plain"],
        "tuple_mixed": ("valid", "accuracy", "max", 10),
        "tuple_signs": ("-1", "1.5", 7, "ab"),
        "tuple_one": (3,),
        "list_text": [1, "two", "3.0"],
        "list_flow": [1, "two", 3.0],
        "tuple_flow": (1, "two"),  # SpeeChain's loader drops the tag of a flow !tuple: [1, "two"]
        "str_number": "1.0",
        "str_int": "0010",
        "str_bool": "true",
        "nested": {"deeper": [512, {"key": "run/512"}]},
        "defined_below": 42,
        "list_below": [512, "plain"],
    }


def test_types_are_kept_and_nothing_is_shared() -> None:
    document = load_config(FILES / "every_tag.yaml")
    assert type(document["whole_int"]) is int and type(document["indexed"]) is int
    assert type(document["tuple_mixed"][3]) is int
    document["whole_list"][0].append(9)
    assert document["shape"] == [[2, 3], [4, 5]]  # a !ref gets its own copy


def test_the_asr_experiment_configuration_loads_as_is() -> None:
    document = load_config(FILES / "asr_exp_cfg.yaml")
    assert document["data_root"] == "corpora//toyspeech/data"
    main_data = document["data_cfg"]["train"]["conf"]["dataset_conf"]["main_data"]
    assert main_data == {
        "feat": "corpora//toyspeech/data/wav/train-10h/idx2wav",
        "text": "corpora//toyspeech/data/wav/train-10h/idx2char_text",
    }
    assert document["best_model_selection"] == ("valid", "accuracy", "max", 5)
    assert document["test_model"] == "5" and document["conv_dims"] == [64, 64]
    prenet = document["train_cfg"]["model"]["module_conf"]["enc_prenet"]["conf"]
    assert prenet == {"conv_dims": [64, 64], "first_conv_dim": 64, "lnr_dims": 256}
    assert document["train_cfg"]["optim_sches"]["conf"]["warmup_steps"] == 2500
    assert document["data_cfg"]["train"]["conf"]["batch_len"] == 1.5e6


def test_a_whole_experiment_configuration_builds_with_its_run_settings() -> None:
    model = nn.Linear(3, 1)
    group = build_optim_sches(load_config(FILES / "asr_exp_cfg.yaml"), model)
    main = group["main"]
    assert type(main) is NoamLr and (main.d_model, main.warmup_steps) == (256, 2500)
    assert (main.accum_grad, main.ft_factor, main.grad_clip) == (2, 0.5, 5.0)
    assert main.optimizer.defaults["betas"] == (0.9, 0.98)
    overridden = build_optim_sches(
        load_config(FILES / "asr_exp_cfg.yaml"), model, accum_grad=1, grad_clip=None
    )["main"]
    assert (overridden.accum_grad, overridden.ft_factor, overridden.grad_clip) == (1, 0.5, None)


class AsrTts(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.asr_encoder = nn.Linear(3, 4)
        self.asr_decoder = nn.Linear(4, 2)
        self.tts_decoder = nn.Linear(4, 3)


def test_a_two_optimizer_experiment_builds_both() -> None:
    model = AsrTts()
    group = build_optim_sches(load_config(FILES / "asr_tts_exp_cfg.yaml"), model)
    asr, tts = group["asr_optim"], group["tts_optim"]
    assert type(asr) is NoamLr and asr.updated_modules == ["asr_encoder", "asr_decoder"]
    assert asr.optimizer.param_groups[0]["lr"] == 1.0e-3 and asr.grad_clip == 1.0
    assert type(tts) is ExponentDecayLr and tts.decay_factor == 0.98
    assert tts.requires_epoch_num and not asr.requires_epoch_num


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(text)
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "width: 8\nsize: !ref <widht>\n",
            "<config text>:2:7: !ref <widht>: no top-level key 'widht' in the document; did you "
            "mean 'width'? (top-level keys: width, size)",
        ),
        (
            "a: 1\nb:\n  c: !ref x<zz>y\n",
            "<config text>:3:6: !ref <zz>: no top-level key 'zz'",
        ),
        (
            "best: !tuple valid, accuracy\n",
            "<config text>:1:7: !tuple must be bracketed, (a, b, ...); got 'valid, accuracy'",
        ),
        ("dims: !list (1, 2)\n", "<config text>:1:7: !list must be bracketed, [a, b, ...]"),
        (
            "a: !ref <b>\nb: !ref <c>\nc: 1\n",
            "<config text>:1:4: !ref <b>: 'b' is defined below (line 2) by a !ref tag not "
            "resolved yet; tags are resolved in document order",
        ),
        ("a: !ref <a>\n", "<config text>:1:4: !ref <a>: 'a' refers to itself"),
        ("a: [1, 2]\nb: !ref <a[2]>\n", "<config text>:2:4: !ref <a[2]>: a (list) has no item [2]"),
        ("a: 5\nb: !ref <a[0]>\n", "<config text>:2:4: !ref <a[0]>: a (int) has no item [0]"),
        (
            "a: 5\nb: !ref <a[x]>\n",
            "<config text>:2:4: !ref <a[x]>: not a reference <key> or <key[i]...>",
        ),
        ("a: !ref {b: 1}\n", "<config text>:1:4: invalid YAML: !ref takes a scalar"),
    ],
)
def test_tag_mistakes_name_the_place(text: str, message: str) -> None:
    assert _error(text).startswith(message)


def test_a_document_without_optimizers_says_where_it_looked() -> None:
    document = load_config(FILES / "asr_exp_cfg.yaml")
    del document["train_cfg"]["optim_sches"]
    with pytest.raises(
        ConfigError,
        match=r"^no optimizer configuration found: looked for a top-level 'optim_sches' and for "
        r"'train_cfg.optim_sches' \(SpeeChain's experiment configuration\); the document has "
        r"top-level keys 'dataset_path', .*; train_cfg has 'model'$",
    ):
        build_optim_sches(document, nn.Linear(3, 1))
    with pytest.raises(ConfigError, match="no optimizer configuration found"):
        parse_optim_sches({"accum_grad": 2, "seed": 1})


def test_optim_sches_given_twice_is_refused() -> None:
    entry = {"type": "constant", "conf": {"optim_type": "SGD", "value": 0.1}}
    with pytest.raises(ConfigError, match="optim_sches: given twice, at the top level and under"):
        parse_optim_sches({"optim_sches": entry, "train_cfg": {"optim_sches": entry}})


def test_a_bad_top_level_run_setting_names_its_key() -> None:
    document = load_config(FILES / "asr_exp_cfg.yaml")
    document["accum_grad"] = 0
    with pytest.raises(ConfigError, match=r"^accum_grad: must be a positive integer, got 0$"):
        build_optim_sches(document, nn.Linear(3, 1))


# --- clock: and plateau: -----------------------------------------------------------------------


def _entry(**conf: Any) -> dict[str, Any]:
    return {"type": "constant", "conf": {"optim_type": "SGD", "value": 0.1, **conf}}


def test_clock_and_plateau_conf_keys_reach_the_shell() -> None:
    text = """
    optim_sches:
      type: warmup_cosine
      conf:
        optim_type: SGD
        peak: 0.1
        warmup: 2
        steps: 20
        clock: epoch
        plateau: {factor: 0.5, patience: 1, mode: max}
    """
    main = build_optim_sches(load_config(text), nn.Linear(3, 1))["main"]
    assert main.clock == "epoch"
    assert main.plateau == schedules.reduce_on_plateau(factor=0.5, patience=1, mode="max")
    model = main.model
    assert model is not None
    report = main.step(model(torch.ones(1, 3)).sum(), epoch_num=2)
    assert report.lr == schedules.warmup_cosine(2, 0.1, 2, 20)
    defaults = build_optim_sches(_entry(plateau={}), nn.Linear(3, 1))["main"]
    assert defaults.clock == "update" and defaults.plateau == schedules.reduce_on_plateau()


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        (
            {"clock": "epochs"},
            "optim_sches.main.conf.clock: clock must be one of 'update', 'epoch', 'items', got "
            "'epochs'",
        ),
        (
            {"plateau": {"patiense": 2}},
            "optim_sches.main.conf.plateau: plateau: unknown key 'patiense'; did you mean "
            "'patience'?",
        ),
        ({"plateau": {"factor": 1.5}}, "optim_sches.main.conf.plateau: plateau: factor must lie"),
        ({"plateau": 0.5}, "optim_sches.main.conf.plateau: must be a mapping of reduce_on_plateau"),
    ],
)
def test_bad_clock_and_plateau_conf_keys(conf: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_optim_sches(_entry(**conf))
    assert str(caught.value).startswith(message)


def test_the_cli_shows_a_whole_experiment_with_its_run_settings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from optimsche.cli.commands import main

    assert main(["show", str(FILES / "asr_exp_cfg.yaml"), "--steps", "20"]) == 0
    out = capsys.readouterr().out
    assert "updates every window of 2 micro-steps · ft_factor 0.5" in out
    assert "10 updates, the last at step 20" in out
