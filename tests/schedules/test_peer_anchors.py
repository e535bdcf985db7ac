"""The peer families and parameters reproduce their anchors (timm k_decay, TanhLRScheduler,
warmup_prefix=False and lr noise; transformers num_cycles and timescale; optax cosine
interpolation; torch CyclicLR scale_fn; ESPnet CosineAnnealingWarmupRestarts) at rel. 1e-6,
for Python int steps and int64/float64 tensor steps; see ``peer_vectors/README.md``."""

from __future__ import annotations

import functools
import json
import math
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

import schedules

VECTORS = Path(__file__).parent / "peer_vectors"

# The same formulas as generate_peer_vectors.py::SCALE_FNS; each works on a float and,
# elementwise, on a Tensor.
SCALE_FNS: dict[str, Callable[[Any], Any]] = {
    "reciprocal": lambda x: 1.0 / x,
    "geometric_0.8": lambda x: 0.8**x,
    "hyperbolic_10": lambda x: 1.0 / (1.0 + x / 10.0),
}


def _leaf_kwargs(case: dict[str, Any]) -> dict[str, Any]:
    kwargs = dict(case["kwargs"])
    for name in case.get("callables", []):
        kwargs[name] = SCALE_FNS[kwargs[name]]
    return kwargs


def build(node: dict[str, Any]) -> Any:
    """The schedule an ``expr`` tree describes (as in test_combinator_anchors.py)."""
    if "leaf" in node:
        return functools.partial(getattr(schedules, node["leaf"]), **node["kwargs"])
    kwargs = {k: v for k, v in node.items() if k != "combinator"}
    if "schedule" in kwargs:
        kwargs["schedule"] = build(kwargs["schedule"])
    return getattr(schedules, node["combinator"])(**kwargs)


def _schedule(case: dict[str, Any]) -> Any:
    if "expr" in case:
        return build(case["expr"])
    return functools.partial(getattr(schedules, case["fn"]), **_leaf_kwargs(case))


def _name(case: dict[str, Any]) -> str:
    return case["fn"] if "fn" in case else case["expr"]["combinator"]


def _cases() -> list[Any]:
    cases = []
    for stem in ("leaves", "combinators"):
        for i, case in enumerate(json.loads((VECTORS / f"{stem}.json").read_text())):
            cases.append(pytest.param(case, id=f"{stem}[{i}]-{_name(case)}"))
    return cases


def test_every_item_has_anchors() -> None:
    leaves = json.loads((VECTORS / "leaves.json").read_text())
    combinators = json.loads((VECTORS / "combinators.json").read_text())
    parameters = {(c["fn"], k) for c in leaves for k in c["kwargs"]}
    assert {
        ("cosine", "k_decay"),
        ("polynomial", "k_decay"),
        ("tanh_decay", "lower"),
        ("piecewise_linear", "interpolation"),
        ("warmup_cosine", "cycles"),
        ("inverse_sqrt", "timescale"),
        ("cyclic", "scale_fn"),
        ("cosine_restarts", "warmup"),
    } <= parameters
    assert {c["expr"]["combinator"] for c in combinators} == {"warmup", "lr_noise"}
    assert any(c["expr"].get("prefix") is False for c in combinators)


@pytest.mark.parametrize("case", _cases())
def test_matches_anchor_for_python_steps(case: dict[str, Any]) -> None:
    schedule = _schedule(case)
    for step, expected in zip(case["steps"], case["expected"], strict=True):
        got = schedule(step)
        assert isinstance(got, float), (step, type(got))
        assert math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-12), (
            f"{_name(case)} at step {step} = {got}, {case['anchor']} says {expected}"
        )


def _leaf_cases() -> list[Any]:
    return [c for c in _cases() if "fn" in c.values[0]]


@pytest.mark.parametrize("case", _leaf_cases())
def test_the_bound_form_gives_the_same_numbers(case: dict[str, Any]) -> None:
    bound = schedules.bind(getattr(schedules, case["fn"]), **_leaf_kwargs(case))
    direct = _schedule(case)
    assert [bound(s) for s in case["steps"]] == [direct(s) for s in case["steps"]]
    steps = torch.tensor(case["steps"])
    assert torch.equal(bound(steps), direct(steps))
    assert schedules.FAMILIES[case["fn"]].function is getattr(schedules, case["fn"])
    if not case.get("callables"):  # the test's scale functions are lambdas
        assert pickle.loads(pickle.dumps(bound)) == bound


@pytest.mark.parametrize("dtype", [torch.int64, torch.float64])
@pytest.mark.parametrize("case", _cases())
def test_matches_anchor_for_tensor_steps(case: dict[str, Any], dtype: torch.dtype) -> None:
    schedule = _schedule(case)
    steps = torch.tensor(case["steps"], dtype=dtype)
    got = schedule(steps)
    assert isinstance(got, torch.Tensor) and got.shape == steps.shape
    expected = torch.tensor(case["expected"], dtype=torch.float64)
    torch.testing.assert_close(got.to(torch.float64), expected, rtol=1e-6, atol=1e-12)
