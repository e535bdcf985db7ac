"""SpeeChain's YAML tags, resolved as SpeeChain's own loader resolves them.

Every SpeeChain recipe file uses four tags. :func:`register_speechain_tags` teaches a PyYAML
loader to read them, :func:`resolve_speechain_tags` resolves them in the loaded document:

* ``!ref <key>``: the value of the top-level key ``key`` of the document, its type kept (a
  number stays a number, a mapping a mapping); ``<key[i][j]>`` indexes into it. A ``!ref``
  whose text has other characters around its ``<key>`` references (``!ref
  <data_root>/<wav_format>/idx2wav``) is a string, each ``<key>`` replaced by ``str()`` of its
  value, one reference after the other; a ``!ref`` without any ``<...>`` is its text.
* ``!tuple (a, b, ...)`` and ``!list [a, b, ...]``: the bracketed text with its spaces
  removed, split on commas; items made only of the digits 0-9 become ints, every other item
  stays a string: ``!tuple (valid, accuracy, max, 10)`` is ``("valid", "accuracy", "max",
  10)``. A ``!tuple``/``!list`` written as a YAML flow sequence (``!list [0.5, a]``) is that
  sequence, its items read by YAML (SpeeChain's loader reads it so too); a flow-sequence
  ``!tuple`` becomes a tuple (where SpeeChain's drops the tag and leaves a list).
* ``!str value``: the value's text, as written (``!str 1.0`` is ``"1.0"``).

**Document order.** Tags are resolved depth first, in the order the document lists them, and
each reference reads the document as it stands at that moment: a reference to a key *above*
it sees that key resolved; a reference to a key *below* it sees a plain value as written, but
a key whose own value is still a tag cannot be read yet (SpeeChain's loader stops there too):
a :class:`ConfigError` tells to define it first. A reference to a mapping or list below it
gets that mapping or list resolved, as the document's own copy will be.

**Errors** (:class:`ConfigError`, ``<source>:<line>:<column>:`` first): an unknown reference
names the key, its line and the top-level keys (with close matches); an index out of range or
into a value that has none; a ``!tuple``/``!list`` that is not bracketed; a tag on a mapping.
"""

from __future__ import annotations

import re
from typing import Any

import attrs
import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import Node, ScalarNode, SequenceNode

from optimsche.config.document_bounds import check_document_bounds
from optimsche.config.error import ConfigError
from schedules.close_matches import did_you_mean

__all__ = ["SPEECHAIN_TAGS", "register_speechain_tags", "resolve_speechain_tags"]

SPEECHAIN_TAGS = ("!ref", "!tuple", "!list", "!str")
"""The tags of SpeeChain's configuration files."""

_REFERENCE = re.compile(r"<[^<>]*>")
"""A reference ``<key>`` inside a ``!ref`` (the innermost angle brackets)."""

_KEY = re.compile(r"([^\[\]]*)((?:\[\s*-?[0-9]+\s*\])*)")
"""``key[i][j]``: the top-level key and its integer indices."""

_INDEX = re.compile(r"\[\s*(-?[0-9]+)\s*\]")

_DIGITS = re.compile(r"[0-9]+")

_BRACKETS = {"!tuple": "()", "!list": "[]"}


@attrs.frozen(eq=False)
class Tagged:
    """A tagged scalar as written, not yet resolved, with its 1-based position."""

    tag: str
    text: str
    line: int
    column: int


class _FlowTuple(list[Any]):
    """A flow-sequence ``!tuple`` until resolution ends (then a ``tuple``); printed as one."""

    def __repr__(self) -> str:
        return repr(tuple(self))

    __str__ = __repr__


def _construct(loader: yaml.SafeLoader, node: Node) -> Any:
    if isinstance(node, ScalarNode):
        text = loader.construct_scalar(node)
        mark = node.start_mark
        return Tagged(tag=node.tag, text=str(text), line=mark.line + 1, column=mark.column + 1)
    if isinstance(node, SequenceNode) and node.tag in _BRACKETS:
        items = loader.construct_sequence(node, deep=True)
        return _FlowTuple(items) if node.tag == "!tuple" else list(items)
    raise ConstructorError(
        None, None, f"{node.tag} takes a scalar (or, for !tuple/!list, a sequence)", node.start_mark
    )


def register_speechain_tags(loader: type[yaml.SafeLoader]) -> None:
    """Make ``loader`` read :data:`SPEECHAIN_TAGS` (resolved later by
    :func:`resolve_speechain_tags`)."""
    for tag in SPEECHAIN_TAGS:
        loader.add_constructor(tag, _construct)


def _split_bracketed(tagged: Tagged, where: str) -> list[int | str]:
    brackets = _BRACKETS[tagged.tag]
    opening, closing = brackets[0], brackets[1]
    text = tagged.text
    if len(text) < 2 or text[0] != opening or text[-1] != closing:
        raise ConfigError(
            f"{where}: {tagged.tag} must be bracketed, {opening}a, b, ...{closing}; got {text!r}"
        )
    items = text[1:-1].replace(" ", "").split(",")
    return [int(item) if _DIGITS.fullmatch(item) else item for item in items]


class _Resolution:
    """One pass over one document (module doc): in place, then copied without sharing."""

    def __init__(self, document: dict[Any, Any], source: str) -> None:
        self.document = document
        self.source = source
        self.found = False
        self._active: set[int] = set()
        self._done: set[int] = set()  # containers walked: a YAML alias is resolved once

    def where(self, tagged: Tagged) -> str:
        return f"{self.source}:{tagged.line}:{tagged.column}"

    def walk(self, value: Any) -> Any:
        """``value`` with its tags resolved (containers in place, as SpeeChain's loader)."""
        if isinstance(value, Tagged):
            self.found = True
            return self.resolve(value)
        if not isinstance(value, dict | list) or id(value) in self._active | self._done:
            return value
        self._active.add(id(value))
        self._done.add(id(value))
        try:
            if isinstance(value, dict):
                for key in list(value):
                    if isinstance(key, Tagged):
                        raise ConfigError(f"{self.where(key)}: {key.tag} cannot tag a key")
                    value[key] = self.walk(value[key])
            else:
                for i, item in enumerate(value):
                    value[i] = self.walk(item)
        finally:
            self._active.discard(id(value))
        return value

    def resolve(self, tagged: Tagged) -> Any:
        if tagged.tag == "!str":
            return tagged.text
        if tagged.tag in _BRACKETS:
            items = _split_bracketed(tagged, self.where(tagged))
            return tuple(items) if tagged.tag == "!tuple" else items
        references = _REFERENCE.findall(tagged.text)
        if not references:
            return tagged.text
        if _REFERENCE.fullmatch(tagged.text):
            return self.lookup(references[0], tagged)
        text = tagged.text
        for reference in references:
            text = text.replace(reference, str(self.lookup(reference, tagged)))
        return text

    def lookup(self, reference: str, tagged: Tagged) -> Any:
        where = f"{self.where(tagged)}: !ref {reference}"
        match = _KEY.fullmatch(reference[1:-1])
        if match is None:
            raise ConfigError(
                f"{where}: not a reference <key> or <key[i]...> (integer indices in brackets)"
            )
        name, indices = match.group(1), [int(i) for i in _INDEX.findall(match.group(2))]
        if name not in self.document:
            keys = [str(key) for key in self.document]
            raise ConfigError(
                f"{where}: no top-level key {name!r} in the document{did_you_mean(name, keys)} "
                f"(top-level keys: {', '.join(keys)})"
            )
        value = self.document[name]
        for depth, index in enumerate(indices):
            if isinstance(value, Tagged):
                break
            try:
                value = value[index]
            except (IndexError, KeyError, TypeError):
                path = name + "".join(f"[{i}]" for i in indices[:depth])
                raise ConfigError(
                    f"{where}: {path} ({type(value).__name__}) has no item [{index}]"
                ) from None
        if value is tagged:
            raise ConfigError(f"{where}: {name!r} refers to itself")
        if isinstance(value, Tagged):
            raise ConfigError(
                f"{where}: {name!r} is defined below (line {value.line}) by a {value.tag} tag "
                f"not resolved yet; tags are resolved in document order (as SpeeChain's loader "
                f"does): define {name!r} above this reference"
            )
        return value


def _unshared(value: Any, active: set[int]) -> Any:
    """A copy of the containers of ``value`` in which nothing is shared (a ``!ref`` to a
    mapping gets its own copy); flow-sequence ``!tuple`` lists become tuples."""
    if not isinstance(value, dict | list | tuple):
        return value
    if id(value) in active:
        raise ConfigError("the configuration refers to itself (a recursive structure)")
    active.add(id(value))
    try:
        if isinstance(value, dict):
            return {key: _unshared(item, active) for key, item in value.items()}
        items = [_unshared(item, active) for item in value]
        return tuple(items) if isinstance(value, _FlowTuple | tuple) else items
    finally:
        active.discard(id(value))


def resolve_speechain_tags(document: dict[Any, Any], source: str) -> dict[Any, Any]:
    """``document`` (as loaded by a loader of :func:`register_speechain_tags`) with every tag
    resolved (module doc); the document itself when it has none."""
    resolution = _Resolution(document, source)
    for key in list(document):
        document[key] = resolution.walk(document[key])
    found = resolution.found or _has_flow_tuple(document, set())
    if not found:
        return document
    check_document_bounds(document, source)  # references expand when unshared
    unshared: dict[Any, Any] = _unshared(document, set())
    return unshared


def _has_flow_tuple(value: Any, seen: set[int]) -> bool:
    if isinstance(value, _FlowTuple):
        return True
    if not isinstance(value, dict | list) or id(value) in seen:
        return False
    seen.add(id(value))
    items = value.values() if isinstance(value, dict) else value
    return any(_has_flow_tuple(item, seen) for item in items)
