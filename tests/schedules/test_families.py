"""schedules.FAMILIES, the one registry of the leaves, and the direct call's cache of checked
recipes."""

from __future__ import annotations

import functools
import inspect
import math
from typing import Any

import pytest
import torch
import torch._dynamo
import torch._dynamo.testing

import schedules
from schedules import FAMILIES, family_of
from schedules.leaf_family import CACHE_SIZE

DESIGN_TABLE = (
    "constant", "linear", "polynomial", "exponential", "step_decay", "multistep", "cosine",
    "warmup_cosine", "cosine_restarts", "noam", "inverse_sqrt", "tri_stage",
    "warmup_stable_decay", "one_cycle", "cyclic", "piecewise_constant", "piecewise_linear",
)  # fmt: skip
PEER_FAMILIES = ("tanh_decay",)
"""The leaves added for the peers' families (issue 9), registered after the design table."""
SHAPE_FAMILIES = ("power_decay",)
"""The leaves added for the shapes of issue 18, registered after the peers'."""
REGISTRY = DESIGN_TABLE + PEER_FAMILIES + SHAPE_FAMILIES

VALUES = {
    "constant": ("value",),
    "linear": ("start", "end"),
    "polynomial": ("start", "end"),
    "exponential": ("start", "end"),
    "step_decay": ("start",),
    "multistep": ("start",),
    "cosine": ("peak", "final"),
    "warmup_cosine": ("peak", "start", "final"),
    "cosine_restarts": ("peak", "final"),
    "noam": ("scale",),
    "inverse_sqrt": ("peak",),
    "tri_stage": ("peak",),
    "warmup_stable_decay": ("peak", "final", "start"),
    "one_cycle": ("peak",),
    "cyclic": ("base", "peak"),
    "piecewise_constant": ("values",),
    "piecewise_linear": ("points",),
    "tanh_decay": ("peak", "final"),
    "power_decay": ("peak",),
}
"""The value hyperparameters of the design ("Tensor hyperparameters")."""


def test_the_registry_is_the_design_table_in_order() -> None:
    assert tuple(FAMILIES) == REGISTRY
    for name, family in FAMILIES.items():
        assert family.name == name
        assert family.function is getattr(schedules, name)
        assert family_of(family.function) is family
    assert family_of(schedules.scale) is None and family_of([]) is None
    with pytest.raises(TypeError):
        FAMILIES["mine"] = FAMILIES["cosine"]  # type: ignore[index]


@pytest.mark.parametrize("name", REGISTRY)
def test_parameters_defaults_values_and_lengths_follow_the_signature(name: str) -> None:
    family = FAMILIES[name]
    signature = inspect.signature(family.function)
    after_step = list(signature.parameters.values())[1:]
    assert family.parameters == tuple(p.name for p in after_step)
    assert family.defaults == {
        p.name: p.default for p in after_step if p.default is not inspect.Parameter.empty
    }
    assert family.required == tuple(p.name for p in after_step if p.name not in family.defaults)
    assert family.values == VALUES[name]
    assert set(family.lengths) <= set(family.parameters)
    covered = set(family.values) | set(family.lengths) | set(family.settings)
    assert covered == set(family.parameters)
    # the lengths are the step counts: a Tensor for one is refused, naming it
    assert {"steps", "warmup", "period", "every", "boundaries", "milestones", "up"} & set(
        family.parameters
    ) <= set(family.lengths)


HORIZONS: list[tuple[str, dict[str, Any], float | None]] = [
    ("constant", {"value": 1.0}, 0.0),
    ("linear", {"start": 1.0, "end": 0.0, "steps": 10, "begin": 5}, 15.0),
    ("polynomial", {"start": 1.0, "end": 0.0, "steps": 10}, 10.0),
    ("exponential", {"start": 1.0, "rate": 0.5, "steps": 1}, None),
    ("exponential", {"start": 1.0, "rate": 0.5, "steps": 1, "end": 0.25}, 3.0),
    ("exponential", {"start": 1.0, "rate": 0.5, "steps": 2, "end": 0.25, "staircase": True}, 6),
    ("exponential", {"start": 1.0, "rate": 1.0, "steps": 2, "end": 0.25}, 0.0),
    ("step_decay", {"start": 1.0, "every": 10, "gamma": 0.5}, None),
    ("multistep", {"start": 1.0, "milestones": [3, 7], "gamma": 0.5}, 7.0),
    ("multistep", {"start": 1.0, "milestones": [], "gamma": 0.5}, 0.0),
    ("cosine", {"peak": 1.0, "steps": 10}, 10.0),
    ("warmup_cosine", {"peak": 1.0, "warmup": 2, "steps": 10}, 10.0),
    ("cosine_restarts", {"peak": 1.0, "period": 10}, None),
    ("noam", {"d_model": 512, "warmup": 10}, None),
    ("inverse_sqrt", {"peak": 1.0, "warmup": 10}, None),
    ("tri_stage", {"peak": 1.0, "warmup": 2, "hold": 3, "decay": 4}, 9.0),
    ("warmup_stable_decay", {"peak": 1.0, "warmup": 2, "stable": 3, "decay": 4}, 9.0),
    ("one_cycle", {"peak": 1.0, "steps": 100}, 99.0),
    ("cyclic", {"base": 0.1, "peak": 1.0, "up": 5}, None),
    ("piecewise_constant", {"boundaries": [3, 8], "values": [1.0, 0.5, 0.1]}, 8.0),
    ("piecewise_linear", {"points": [(0, 0.0), (4, 1.0), (9, 0.5)]}, 9.0),
    ("tanh_decay", {"peak": 1.0, "steps": 12, "final": 0.1}, 12.0),
]


@pytest.mark.parametrize(("name", "kwargs", "horizon"), HORIZONS)
def test_horizon_is_where_the_value_holds(
    name: str, kwargs: dict[str, Any], horizon: float | None
) -> None:
    family = FAMILIES[name]
    assert family.horizon_of(kwargs) == horizon
    assert (family.horizon is None) == (name in ("step_decay", "cosine_restarts", "noam",
                                                 "inverse_sqrt", "cyclic"))  # fmt: skip
    extent = family.extent_of(kwargs)
    assert extent > 0 and (horizon is None or extent >= horizon)
    if horizon is not None:
        fn = functools.partial(family.function, **kwargs)
        held = fn(horizon)
        for later in (horizon + 1, horizon + 17, 10**9):
            assert fn(later) == held


def test_extent_of_the_never_settling_families() -> None:
    assert FAMILIES["noam"].extent_of({"d_model": 512, "warmup": 4000}) == 40_000
    assert FAMILIES["cyclic"].extent_of({"base": 0.1, "peak": 1.0, "up": 5, "down": 3}) == 24
    assert FAMILIES["cosine_restarts"].extent_of({"peak": 1.0, "period": 10, "mult": 2}) == 70
    assert FAMILIES["step_decay"].extent_of({"start": 1.0, "every": 10, "gamma": 0.5}) == 40


def test_resolve_fills_defaults_and_names_unknown_or_missing_keys() -> None:
    cosine = FAMILIES["cosine"]
    assert cosine.resolve({"peak": 1.0, "steps": 10}) == (1.0, 10, 0.0, 1.0, 1.0, False)
    assert cosine.complete({"steps": 10, "peak": 1.0}) == {
        "peak": 1.0, "steps": 10, "final": 0.0, "exponent": 1.0, "k_decay": 1.0,
        "cycle": False,
    }  # fmt: skip
    with pytest.raises(ValueError, match=r"no hyperparameter 'step'; did you mean 'steps'"):
        cosine.resolve({"peak": 1.0, "step": 10})
    with pytest.raises(ValueError, match=r"cosine needs 'peak', 'steps'"):
        cosine.resolve({})
    with pytest.raises(ValueError, match=r"steps must be > 0"):
        cosine.horizon_of({"peak": 1.0, "steps": -1})


# The direct call's cache of checked recipes


def _cache(name: str) -> dict[Any, Any]:
    cache: dict[Any, Any] = FAMILIES[name]._cache
    return cache


def test_a_direct_call_is_cached_by_values_and_classes() -> None:
    cache = _cache("cosine")
    cache.clear()
    assert schedules.cosine(5, peak=1, steps=10) == schedules.cosine(5, peak=1.0, steps=10.0)
    assert len(cache) == 2  # int and float keys apart: each checked once
    with pytest.raises(ValueError, match="peak must be a number, got bool"):
        schedules.cosine(5, peak=True, steps=10)  # == 1, but a bool: refused, not a cache hit
    with pytest.raises(ValueError, match="staircase must be True or False, got 1"):
        schedules.exponential(5, 1.0, 0.5, 10, 0, 1)  # type: ignore[arg-type]  # == True
    schedules.exponential(5, 1.0, 0.5, 10, 0, True)


def test_tensors_and_lists_bypass_the_cache_and_are_checked_every_call() -> None:
    cache = _cache("cosine")
    cache.clear()
    peak = torch.tensor(1.0)
    schedules.cosine(torch.arange(3), peak=peak, steps=10)
    assert cache == {}
    listed = _cache("piecewise_constant")
    listed.clear()
    schedules.piecewise_constant(5, [3, 8], [1.0, 0.5, 0.1])
    assert listed == {}
    with pytest.raises(ValueError, match="boundaries must be strictly increasing"):
        schedules.piecewise_constant(5, [8, 3], [1.0, 0.5, 0.1])


def test_the_cache_is_bounded() -> None:
    cache = _cache("linear")
    cache.clear()
    for steps in range(1, 2 * CACHE_SIZE + 2):
        schedules.linear(1, 0.0, 1.0, steps)
    assert 0 < len(cache) <= CACHE_SIZE


def test_compiled_direct_calls_do_not_recompile_when_the_cache_changes() -> None:
    torch._dynamo.reset()
    counter = torch._dynamo.testing.CompileCounter()

    def curve(step: torch.Tensor) -> torch.Tensor:
        return schedules.cosine(step, 4.0, 7, final=0.4)

    compiled = torch.compile(curve, fullgraph=True, backend=counter)
    steps = torch.arange(9)
    torch.testing.assert_close(compiled(steps), curve(steps))
    for peak in (1.0, 2.0, 3.0):  # eager calls with new settings change the cache
        schedules.cosine(3, peak, 11)
    torch.testing.assert_close(compiled(steps), curve(steps))
    assert counter.frame_count == 1


def test_compiled_number_steps_read_the_cache_and_never_write_it() -> None:
    """A Python-number step inside a compiled function: a cached recipe is read (and its
    value folded in), a missing one is checked and used but not stored while tracing; what
    other families' direct calls change later does not recompile it."""
    torch._dynamo.reset()
    counter = torch._dynamo.testing.CompileCounter()
    cache = _cache("warmup_cosine")
    cache.clear()
    schedules.noam(5, 512, 4000)  # cached before tracing: a hit

    def scaled(x: torch.Tensor) -> torch.Tensor:
        return x * schedules.noam(5, 512, 4000) + schedules.warmup_cosine(7, 1e-3, 3, 10)

    x = torch.ones(3)
    noam = schedules.bind(schedules.noam, d_model=512, warmup=4000)
    warm = schedules.bind(schedules.warmup_cosine, peak=1e-3, warmup=3, steps=10)
    expected = x * noam(5) + warm(7)  # bound calls touch neither cache nor memo
    compiled = torch.compile(scaled, fullgraph=True, backend=counter)
    traced = compiled(x)
    assert not cache  # checked while tracing, not stored
    torch.testing.assert_close(traced, expected)
    schedules.cosine(3, 5.0, 10)  # another family's cache and memo change
    torch.testing.assert_close(compiled(x), expected)
    assert counter.frame_count == 1
    with pytest.raises(Exception, match="steps must be > warmup"):
        torch.compile(lambda x: x * schedules.warmup_cosine(7, 1e-3, 30, 10), fullgraph=True)(x)


def test_nan_and_numpy_steps_in_direct_calls() -> None:
    import numpy as np

    with pytest.raises(ValueError, match="NaN"):
        schedules.cosine(math.nan, peak=1.0, steps=10)
    assert schedules.cosine(np.int64(5), peak=1.0, steps=10) == schedules.cosine(5, 1.0, 10)
