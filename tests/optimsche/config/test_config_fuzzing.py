"""Fuzzed configs: generated YAML documents and schedule expressions give a ``ConfigError`` or a
valid result, never another exception, never a hang (a deadline per example), in bounded
memory. The strategies are structure-aware (``config_fuzz_strategies.py``)."""

from __future__ import annotations

import resource
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from config_fuzz_strategies import (
    ALIAS_BOMB,
    REFERENCE_BOMB,
    documents,
    expressions,
    near_valid_configs,
)
from hypothesis import HealthCheck, given, settings
from torch import nn

from optimsche.config.building import build_optim_sches
from optimsche.config.document_bounds import MAX_DEPTH, MAX_VALUES
from optimsche.config.error import ConfigError
from optimsche.config.loading import load_config
from optimsche.config.parsing import parse_optim_sches
from optimsche.config.schedule_expression import ScheduleExpression, parse_schedule_expression
from optimsche.config.schedule_values import check_schedule_values

FUZZ = settings(
    max_examples=200,
    deadline=timedelta(seconds=3),
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # bounded_memory wraps the whole run, once
    ],
    derandomize=True,
)
"""Fixed examples (``derandomize``: CI runs the same ones), each within 3 seconds."""

GROWTH_LIMIT_MB = 300


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


@pytest.fixture
def bounded_memory() -> Iterator[None]:
    """The test's peak memory (all its examples) grows by at most ``GROWTH_LIMIT_MB``."""
    before = _peak_mb()
    yield None
    assert _peak_mb() - before < GROWTH_LIMIT_MB


def _one_line(error: ConfigError) -> None:
    message = str(error)
    assert message and "\n" not in message and "Traceback" not in message


@pytest.mark.filterwarnings("ignore::SyntaxWarning", "ignore::DeprecationWarning")
@FUZZ
@given(text=expressions)
def test_a_schedule_expression_parses_or_is_a_config_error(bounded_memory: None, text: str) -> None:
    try:
        expression = parse_schedule_expression(text)
    except ConfigError as error:
        _one_line(error)
        return
    assert isinstance(expression, ScheduleExpression)
    if expression.kind != "rule" and callable(expression.schedule):
        try:
            check_schedule_values(expression.schedule, "fuzz")
        except ConfigError as error:
            _one_line(error)


@pytest.mark.filterwarnings("ignore::SyntaxWarning", "ignore::DeprecationWarning")
@FUZZ
@given(text=documents)
def test_a_yaml_config_parses_or_is_a_config_error(bounded_memory: None, text: str) -> None:
    try:
        parse_optim_sches(load_config(text))
    except ConfigError as error:
        assert str(error)


class EncoderDecoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(3, 4)
        self.decoder = nn.Linear(4, 2)


@FUZZ
@given(config=near_valid_configs())
def test_a_near_valid_config_builds_or_is_a_config_error(
    bounded_memory: None, config: dict[str, Any]
) -> None:
    try:
        group = build_optim_sches(config, EncoderDecoder())
    except ConfigError as error:
        _one_line(error)
        return
    assert len(group) >= 1


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"optim_sches": {"main": {"type": "cosine", "conf": {"optim_type": "SGD",
          "optim_conf": {"lr": 10**400}, "peak": 1, "steps": 5}}}},
         r"optim_sches\.main\.conf\.optim_conf\.lr: an integer of about 401 digits"),
        ({"ft_factor": 10**400, "train_cfg": {"optim_sches": {"type": "cosine", "conf": {
          "optim_type": "SGD", "peak": 1, "steps": 5}}}},
         "ft_factor: an integer of about 401 digits is beyond the float range"),
    ],
    ids=["lr", "ft_factor"],
)  # fmt: skip
def test_an_int_beyond_the_float_range_is_a_config_error(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        build_optim_sches(config, EncoderDecoder())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (ALIAS_BOMB, f"stands for more than {MAX_VALUES:,} values"),
        (REFERENCE_BOMB, f"stands for more than {MAX_VALUES:,} values"),
        ("a: " + "[" * 3000 + "]" * 3000, f"invalid YAML: nested more than {MAX_DEPTH}"),
        ("a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH, f"nests more than {MAX_DEPTH}"),
        ("a:\n" + "".join(" " * i + "b:\n" for i in range(1, 400)), "nested more than"),
        ("a: &a [*a]", "contains itself"),
        ("a: " + "9" * 5000, "invalid YAML: Exceeds the limit"),
        ("optim_sches: " + "x" * 300, "optim_sches: must be a mapping"),
    ],
    ids=[
        "aliases",
        "references",
        "deep-flow",
        "deep",
        "deep-block",
        "recursive",
        "long-int",
        "long-line",
    ],
)
def test_documents_that_would_hang_or_crash_are_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_optim_sches(load_config(text))


def test_a_document_just_inside_the_depth_bound_loads() -> None:
    depth = MAX_DEPTH - 1  # the top-level mapping is one level
    document = load_config("a: " + "[" * depth + "]" * depth)
    assert document["a"] == [] if depth == 1 else isinstance(document["a"], list)


def test_a_shared_mapping_is_resolved_once_and_stays_within_the_bound() -> None:
    # 9 ** 5 = 59049 copies of a list when expanded: within MAX_VALUES, and walked in
    # linear time (each shared container once)
    text = "l0: &l0 [!str 1, x]\n" + "".join(
        f"l{i + 1}: &l{i + 1} [{', '.join([f'*l{i}'] * 9)}]\n" for i in range(5)
    )
    document = load_config(text)
    assert document["l5"][8][0][3][2][1] == ["1", "x"]
    assert document["l5"][0] is not document["l5"][1]  # unshared, as SpeeChain's loader


def test_a_huge_value_is_shown_short_in_the_message() -> None:
    with pytest.raises(ConfigError) as error:
        parse_optim_sches(load_config("optim_sches: {main: [" + ", ".join(["1"] * 10_000) + "]}"))
    assert len(str(error.value)) < 400 and "..." in str(error.value)
