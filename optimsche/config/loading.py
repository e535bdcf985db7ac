"""Reading a YAML configuration into plain data.

``load_config`` accepts a path to a YAML file or the YAML text itself and returns the whole
document as a ``dict``. Two departures from PyYAML's ``safe_load``, both to catch mistakes
early:

* numbers in exponent notation without a dot (``3e-4``, ``1E+5``) are floats, as in YAML 1.2
  (PyYAML's YAML 1.1 rules read them as strings, a classic trap for learning rates);
* a key given twice in one mapping is an error (PyYAML keeps the last one silently);
* SpeeChain's tags ``!ref <key>``, ``!tuple (a, b)``, ``!list [a, b]`` and ``!str value`` are
  resolved in document order as SpeeChain's own loader resolves them
  (:mod:`optimsche.config.speechain_tags`), so its recipe files load as they are.

Every failure is a :class:`~optimsche.config.error.ConfigError` whose message starts with
``<source>:<line>:<column>:`` when the position is known. A document that nests too deep or
stands for too many values once its aliases are expanded is refused before anything walks it
(:mod:`optimsche.config.document_bounds`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node

from optimsche.config.document_bounds import MAX_DEPTH, check_document_bounds
from optimsche.config.error import ConfigError
from optimsche.config.speechain_tags import register_speechain_tags, resolve_speechain_tags

_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


class _StrictLoader(yaml.SafeLoader):
    """``SafeLoader`` with YAML 1.2 exponent floats, no duplicate keys, and no nesting deeper
    than :data:`~optimsche.config.document_bounds.MAX_DEPTH` (PyYAML composes recursively:
    a deeper document would exhaust the stack, slowly)."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH + 1:
                raise ComposerError(
                    None,
                    None,
                    f"nested more than {MAX_DEPTH} mappings and lists deep",
                    self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first_line = seen.get(key)
            except TypeError:  # unhashable key: the base class reports it
                continue
            if first_line is not None:
                raise ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first given on line {first_line})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789.")
)
register_speechain_tags(_StrictLoader)


def _describe_yaml_error(source: str, error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    reason = f"{context}: {problem}" if context and problem != context else str(problem)
    reason = " ".join(reason.split())
    if mark is None:
        return f"{source}: invalid YAML: {reason}"
    return f"{source}:{mark.line + 1}:{mark.column + 1}: invalid YAML: {reason}"


def _looks_like_path(text: str) -> bool:
    return "\n" not in text and text.strip() == text and text.endswith((".yaml", ".yml"))


def _is_file(text: str) -> bool:
    """Whether ``text`` names an existing file; ``False`` for a text no file can have as name
    (too long, a NUL character)."""
    try:
        return Path(text).is_file()
    except (OSError, ValueError):
        return False


def load_config(path_or_text: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a YAML configuration into plain data: the whole document, as a ``dict``.

    ``path_or_text`` is a path (a :class:`~pathlib.Path`, or a string naming an existing file
    or ending in ``.yaml``/``.yml``) or the YAML text itself. Bad YAML raises a
    :class:`ConfigError` ``"<source>:<line>:<column>: invalid YAML: <problem>"``; a document
    that is not a mapping, a missing file and a duplicate key are errors too.
    """
    if isinstance(path_or_text, os.PathLike) or (
        isinstance(path_or_text, str)
        and (
            _looks_like_path(path_or_text) or ("\n" not in path_or_text and _is_file(path_or_text))
        )
    ):
        path = Path(path_or_text)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such configuration file") from None
        except IsADirectoryError:
            raise ConfigError(f"{path}: is a directory, not a configuration file") from None
        except UnicodeDecodeError as error:
            raise ConfigError(f"{path}: not a UTF-8 text file ({error.reason})") from None
        except OSError as error:
            raise ConfigError(f"{path}: cannot read ({error.strerror})") from None
        source = str(path)
    elif isinstance(path_or_text, str):
        text, source = path_or_text, "<config text>"
    else:
        raise ConfigError(
            "load_config expects a path or YAML text, got "
            f"{type(path_or_text).__name__}: {path_or_text!r}"
        )
    try:
        document = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as error:
        raise ConfigError(_describe_yaml_error(source, error)) from None
    except RecursionError:
        raise ConfigError(
            f"{source}: invalid YAML: nested too deeply (at most {MAX_DEPTH} levels)"
        ) from None
    except ValueError as error:  # a value PyYAML cannot build, e.g. an int of 5000 digits
        raise ConfigError(f"{source}: invalid YAML: {' '.join(str(error).split())}") from None
    if document is None:
        raise ConfigError(f"{source}: the configuration is empty")
    if not isinstance(document, dict):
        raise ConfigError(
            f"{source}: the configuration must be a mapping of keys to values, "
            f"got a {type(document).__name__}"
        )
    check_document_bounds(document, source)
    return resolve_speechain_tags(document, source)
