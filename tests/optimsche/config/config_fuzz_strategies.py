"""Hypothesis strategies for the config fuzzers: schedule expression texts and YAML documents
built from the real vocabulary (family names, combinators, their parameter names, the keys of
``optim_sches`` entries, SpeeChain's tags) with wrong, odd and huge values.

The YAML documents are written as text (flow style), so that they can hold what no Python
value dumps to: tags, anchors and aliases, exponent-notation and over-long numbers, YAML 1.1
booleans, deep brackets.
"""

from __future__ import annotations

import copy
import inspect
import json
import math
from typing import Any

from hypothesis import strategies as st

import schedules
from optimsche.config.parsing import ENTRY_KEYS, GENERAL_KEYS, RUN_LEVEL_KEYS
from optimsche.config.schedule_expression import known_names
from optimsche.config.type_resolution import known_type_names

NAMES = known_names()
"""Every name the expression language knows (leaves, combinators, rules)."""


def _parameter_names() -> list[str]:
    found: set[str] = set()
    for name in NAMES:
        target = getattr(schedules, name, None)
        try:
            found.update(inspect.signature(target).parameters)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
    return sorted(found)


PARAMETERS = _parameter_names()
"""Every parameter name of those functions (``peak``, ``steps``, ``warmup``, ``schedule``...)."""

ODD_NUMBERS = [
    "0",
    "-0.0",
    "1",
    "-1",
    "1e-3",
    "3e-4",
    "1e308",
    "1e999999",
    "-1e999999",
    "1e-400",
    "9" * 400,
    "9" * 5000,
    "0x1F",
    "0o17",
    "0b101",
    "1_000",
    "2.5",
    "1.0e+5",
]
"""Numbers as written: tiny, huge, over-long, other bases."""

EXPRESSION_ODDITIES = [
    "10**10**10",
    "nan",
    "inf",
    "True",
    "None",
    "'cosine'",
    "''",
    "[]",
    "()",
    "[1, 2]",
    "(1,)",
    "{1: 2}",
    "1j",
    "-" * 300 + "1",
    "(" * 120 + "1" + ")" * 120,
    "[" * 60 + "]" * 60,
    "lambda: 1",
    "__import__('os')",
    "x.y",
    "*a",
    "f(**k)",
    "1 if 2 else 3",
    "'a' * 10",
]
"""Argument texts outside the language (or at its edges)."""


def _literal() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(ODD_NUMBERS + EXPRESSION_ODDITIES),
        st.integers().map(str),
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
        st.text(max_size=8).map(repr),
    )


def _call(arguments: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    keyword = st.tuples(st.sampled_from([*PARAMETERS, "x", "steps_"]), arguments).map(
        lambda pair: f"{pair[0]}={pair[1]}"
    )
    return st.tuples(
        st.sampled_from([*NAMES, "cosin", "bind", "real_step", "print"]),
        st.lists(st.one_of(arguments, keyword), max_size=5),
    ).map(lambda call: f"{call[0]}({', '.join(call[1])})")


def _nested_calls() -> st.SearchStrategy[str]:
    return st.recursive(
        _literal(),
        lambda inner: st.one_of(
            _call(inner), st.lists(inner, max_size=3).map(lambda x: f"[{', '.join(x)}]")
        ),
        max_leaves=12,
    )


def _mutated(text: str, data: tuple[int, int, str]) -> str:
    """``text`` with one character inserted, deleted or replaced (a typo)."""
    position, how, char = data
    if not text:
        return char
    i = position % len(text)
    return [text[:i] + char + text[i:], text[:i] + text[i + 1 :], text[:i] + char + text[i + 1 :]][
        how % 3
    ]


def _typo(base: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(
        base, st.tuples(st.integers(0, 10_000), st.integers(0, 2), st.characters())
    ).map(lambda pair: _mutated(*pair))


expressions: st.SearchStrategy[str] = st.one_of(
    _call(_nested_calls()),
    _typo(_call(_nested_calls())),
    st.text(max_size=40),
    st.sampled_from(
        [
            "warmup(" * 40 + "constant(value=1)" + ", steps=1)" * 40,
            "cosine(peak=1e-3, steps=10)\x00",
            "\ufeffcosine(peak=1e-3, steps=10)",
            "scale(constant(value=1e308), factor=1e308)",
            "x" * 20_000,
        ]
    ),
)
"""Schedule expression texts: calls of real names with odd arguments, typos, plain text."""

YAML_SCALARS = [
    *ODD_NUMBERS,
    "~",
    "null",
    "yes",
    "on",
    "off",
    ".nan",
    "-.inf",
    "2001-12-14",
    "!!binary aGVsbG8=",
    "'quoted'",
    '"\\x00\\u00e9"',
    "!ref <optim_sches>",
    "!ref <lr>",
    "!ref <lr[0]>",
    "!ref <nothing>",
    "!ref <lr>/<lr>",
    "!tuple (1, a)",
    "!tuple ()",
    "!list [1, 2]",
    "!list 5",
    "!str 5",
    "!!python/object:os.system ls",
    "!!set {a, b}",
    "*undefined",
    "[" * 300 + "]" * 300,
    "{a: " * 150 + "1" + "}" * 150,
]
"""Scalars and odd structures as written in YAML."""

FAMILIES = [*known_type_names(), "noam.NoamLR", "cosin", "torch.optim.Adam", "os.path", "a..b"]
OPTIMIZERS = ["Adam", "AdamW", "SGD", "torch.optim.Adam", "Adamm", "torch.nn.Linear"]
CONF_KEYS = [*GENERAL_KEYS, *RUN_LEVEL_KEYS, "schedule", *PARAMETERS, "lr", "typo_key"]


def _yaml_value(depth: int = 3) -> st.SearchStrategy[str]:
    scalar = st.one_of(
        st.sampled_from(YAML_SCALARS),
        st.sampled_from(FAMILIES + OPTIMIZERS),
        st.integers().map(str),
        st.floats().map(repr),
        expressions.map(json.dumps),
    )
    if depth == 0:
        return scalar
    inner = _yaml_value(depth - 1)
    return st.one_of(
        scalar,
        st.lists(inner, max_size=3).map(lambda x: f"[{', '.join(x)}]"),
        st.dictionaries(st.sampled_from(CONF_KEYS), inner, max_size=3).map(_flow_mapping),
    )


def _flow_mapping(mapping: dict[str, str]) -> str:
    return "{" + ", ".join(f"{key}: {value}" for key, value in mapping.items()) + "}"


_conf = st.dictionaries(
    st.sampled_from(CONF_KEYS),
    st.one_of(
        _yaml_value(2),
        st.sampled_from(OPTIMIZERS),
        expressions.map(json.dumps),
        st.dictionaries(
            st.sampled_from(["lr", "betas", "weight_decay", "momentum", "params"]),
            _yaml_value(1),
            max_size=3,
        ).map(_flow_mapping),
    ),
    max_size=6,
).map(_flow_mapping)

_entry = st.fixed_dictionaries(
    {},
    optional={"type": st.sampled_from(FAMILIES).map(str), "conf": _conf, "typo": _yaml_value(0)},
).map(_flow_mapping)

_entries = st.dictionaries(
    st.one_of(st.sampled_from(["main", "enc", "dec", "1", "~", "''"]), st.sampled_from(ENTRY_KEYS)),
    st.one_of(_entry, _yaml_value(1)),
    max_size=3,
).map(_flow_mapping)

ALIAS_BOMB = "l0: &l0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"l{i + 1}: &l{i + 1} [{', '.join([f'*l{i}'] * 9)}]\n" for i in range(8)
)
REFERENCE_BOMB = (
    "r0: ["
    + ", ".join(["x"] * 30)
    + "]\n"
    + "".join(f"r{i + 1}: [{', '.join([f'!ref <r{i}>'] * 30)}]\n" for i in range(5))
)

documents: st.SearchStrategy[str] = st.one_of(
    st.tuples(
        st.sampled_from(["", "lr: 1e-3\n", ALIAS_BOMB, REFERENCE_BOMB]),
        st.sampled_from(["optim_sches: {}\n", "train_cfg: {{optim_sches: {}}}\n", "{}\n"]),
        _entries,
    ).map(lambda parts: parts[0] + parts[1].format(parts[2])),
    st.tuples(_entry, st.booleans()).map(lambda p: ("lr: 1\n" if p[1] else "") + f"x: {p[0]}"),
    _typo(_entries.map(lambda e: f"optim_sches: {e}\n")),
    st.text(max_size=60),
)
"""YAML documents: ``optim_sches`` (bare, under ``train_cfg``, or a single entry) of real keys
and families with odd values, alias and reference bombs, typos, plain text."""


NEAR_VALID_BASES: list[dict[str, Any]] = [
    {
        "accum_grad": 2,
        "grad_clip": 1.0,
        "optim_sches": {
            "enc": {
                "type": "noam.NoamLr",
                "conf": {
                    "optim_type": "Adam",
                    "optim_conf": {"lr": 1e-3, "betas": [0.9, 0.98]},
                    "updated_modules": "encoder",
                    "d_model": 256,
                    "warmup_steps": 100,
                },
            },
            "dec": {
                "conf": {
                    "optim_type": "AdamW",
                    "optim_conf": {"weight_decay": 0.01},
                    "updated_modules": ["decoder"],
                    "schedule": "warmup(cosine(peak=1e-3, steps=1000), steps=10)",
                    "clock": "update",
                    "plateau": {"patience": 2, "factor": 0.5},
                    "step_per_update": 1,
                    "hyperparameters": {
                        "weight_decay": "cosine(peak=0.1, steps=100)",
                        "betas[0]": {"type": "linear", "start": 0.95, "end": 0.9, "steps": 40},
                    },
                },
            },
        },
    },
    {
        "train_cfg": {
            "optim_sches": {
                "type": "cosine",
                "conf": {
                    "optim_type": "SGD",
                    "optim_conf": {"lr": 0.1, "momentum": 0.9},
                    "peak": 0.1,
                    "steps": 100,
                },
            }
        },
        "ft_factor": 0.5,
        "use_amp": False,
    },
]
"""Valid configurations (``build_optim_sches`` builds them over an encoder/decoder model)."""

ODD_VALUES: list[Any] = [
    0, -1, 1, 2, 10**30, 10**400, 1e308, 1e-320, math.inf, -math.inf, math.nan, -0.0, True,
    False, None, "", "x", "1e-3", [], [1], [[1]], {}, {"a": 1}, (1, 2),
    "cosine(peak=1, steps=1)", "encoder", "decoder", "update", "epoch", "items", [0.9],
    [0.9, 0.98, 0.1], ["a", "b"],
]  # fmt: skip
"""Python values a loaded configuration may hold where another was meant."""

_DELETE = object()


def _leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            paths += _leaf_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths += _leaf_paths(item, (*path, index))
    return paths


@st.composite
def near_valid_configs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid configuration with one value (at any depth) replaced by an odd one, or one
    key removed."""
    config = copy.deepcopy(draw(st.sampled_from(NEAR_VALID_BASES)))
    path = draw(st.sampled_from(_leaf_paths(config)))
    parent = config
    for key in path[:-1]:
        parent = parent[key]
    odd = draw(st.sampled_from([*ODD_VALUES, _DELETE]))
    if odd is _DELETE and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(None if odd is _DELETE else odd)
    return config
