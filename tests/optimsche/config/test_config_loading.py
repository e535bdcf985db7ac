"""load_config: YAML file or text -> the whole document; one clear error with a line number."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimsche import load_config
from optimsche.config.error import ConfigError


def test_text_and_file_give_the_same_document(tmp_path: Path) -> None:
    text = "optim_sches:\n  type: cosine\n  conf: {optim_type: SGD, peak: 0.1, steps: 10}\n"
    path = tmp_path / "c.yaml"
    path.write_text(text)
    expected = {
        "optim_sches": {"type": "cosine", "conf": {"optim_type": "SGD", "peak": 0.1, "steps": 10}}
    }
    assert load_config(text) == expected
    assert load_config(path) == expected
    assert load_config(str(path)) == expected


@pytest.mark.parametrize(
    ("text", "value"),
    [("3e-4", 3e-4), ("1E+5", 1e5), ("-2.5e-3", -2.5e-3), (".5e1", 5.0), ("1.0e-9", 1e-9)],
)
def test_exponent_numbers_without_a_dot_are_floats(text: str, value: float) -> None:
    assert load_config(f"lr: {text}") == {"lr": value}


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=1e-12, max_value=1e12, allow_nan=False, allow_infinity=False))
def test_any_float_written_in_exponent_form_reads_back(value: float) -> None:
    assert load_config(f"lr: {value:e}") == {"lr": float(f"{value:e}")}


def test_plain_yaml_types_are_unchanged() -> None:
    document = load_config("a: 12\nb: 1_000\nc: x1e3\nd: [1, two]\ne: true\nf: null\ng: '3e-4'")
    assert document == {
        "a": 12,
        "b": 1000,
        "c": "x1e3",
        "d": [1, "two"],
        "e": True,
        "f": None,
        "g": "3e-4",
    }


def test_bad_yaml_names_its_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("optim_sches:\n  main:\n    type: cosine\n   conf: {}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert message.startswith(f"{path}:4:4: invalid YAML:")
    assert "\n" not in message


def test_unclosed_flow_sequence_in_text() -> None:
    with pytest.raises(ConfigError, match=r"^<config text>:2:\d+: invalid YAML: .*expected ','"):
        load_config("a: [1, 2\nb: 3\n")


def test_duplicate_key_is_an_error_with_both_lines() -> None:
    text = "optim_sches:\n  main:\n    type: cosine\n    type: noam\n"
    with pytest.raises(
        ConfigError, match=r":4:5: .*duplicate key 'type' \(first given on line 3\)"
    ):
        load_config(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the configuration is empty"),
        ("# only a comment\n", "the configuration is empty"),
        ("- 1\n- 2\n", "must be a mapping of keys to values, got a list"),
        ("just text", "must be a mapping of keys to values, got a str"),
    ],
)
def test_documents_that_are_not_mappings(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(text)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: no such configuration file"):
        load_config(str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "other")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_bytes(b"\xff\xfe\x00lr: 1")
    with pytest.raises(ConfigError, match="not a UTF-8 text file"):
        load_config(path)


def test_unsafe_tags_are_refused() -> None:
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config("a: !!python/object/apply:os.system ['true']")


def test_not_a_path_or_text() -> None:
    with pytest.raises(ConfigError, match="expects a path or YAML text, got int"):
        load_config(3)  # type: ignore[arg-type]
