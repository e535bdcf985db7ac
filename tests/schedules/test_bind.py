"""schedules.bind: hyperparameters checked once, a frozen, picklable, comparable schedule whose
repr reads like the call; bound_or_same for partials of built-in leaves."""

from __future__ import annotations

import copy
import functools
import math
import pickle
import sys
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import schedules
from schedules import BoundSchedule, bind, bound_or_same
from schedules.leaf_front import empty_memo
from schedules.testing import hyperparameters, schedules_with_kwargs, steps

NOAM = bind(schedules.noam, d_model=512, warmup=4000)


def test_repr_reads_like_the_call_with_the_given_hyperparameters() -> None:
    assert repr(NOAM) == "noam(d_model=512, warmup=4000)"
    wc = bind(schedules.warmup_cosine, steps=100, peak=0.1, warmup=10, final=0.01)
    assert repr(wc) == "warmup_cosine(peak=0.1, warmup=10, steps=100, final=0.01)"
    points = bind(schedules.piecewise_linear, points=[[0, 0.0], [10, 1.0]])
    assert repr(points) == "piecewise_linear(points=((0, 0.0), (10, 1.0)))"


def test_equality_hash_copy_and_pickle() -> None:
    same = bind("noam", d_model=512, warmup=4000)
    explicit = bind(schedules.noam, d_model=512, warmup=4000, scale=1.0)
    assert NOAM == same == explicit and hash(NOAM) == hash(same) == hash(explicit)
    assert bind(schedules.noam, d_model=512, warmup=4001) != NOAM
    assert functools.partial(schedules.noam, d_model=512, warmup=4000) != NOAM
    assert len({NOAM, same, explicit}) == 1
    for twin in (pickle.loads(pickle.dumps(NOAM)), copy.copy(NOAM), copy.deepcopy(NOAM)):
        assert twin == NOAM and hash(twin) == hash(NOAM) and repr(twin) == repr(NOAM)
        assert twin(1234) == NOAM(1234)
    listed = bind(schedules.multistep, start=1.0, milestones=[5, 9], gamma=0.1)
    assert listed == bind(schedules.multistep, start=1.0, milestones=(5, 9), gamma=0.1)
    assert hash(listed) == hash(pickle.loads(pickle.dumps(listed)))


def test_tensor_values_compare_by_identity_and_pickle() -> None:
    peak = torch.tensor([0.1, 0.2])
    a = bind(schedules.cosine, peak=peak, steps=10)
    assert a == bind(schedules.cosine, peak=peak, steps=10)
    assert a != bind(schedules.cosine, peak=peak.clone(), steps=10)
    copied = pickle.loads(pickle.dumps(a))
    torch.testing.assert_close(copied(3), a(3))


def test_frozen() -> None:
    with pytest.raises(AttributeError, match="frozen"):
        NOAM.family = schedules.FAMILIES["cosine"]
    with pytest.raises(AttributeError):
        NOAM.func = schedules.cosine
    with pytest.raises(AttributeError, match="frozen"):
        del NOAM.family


def test_exposes_its_family_and_hyperparameters() -> None:
    assert NOAM.family is schedules.FAMILIES["noam"]
    assert NOAM.function is schedules.noam
    assert NOAM.hyperparameters == {"d_model": 512, "warmup": 4000, "scale": 1.0}
    assert NOAM.given == {"d_model": 512, "warmup": 4000}
    assert isinstance(NOAM, BoundSchedule)


@pytest.mark.parametrize(
    ("leaf", "kwargs", "message"),
    [
        (
            schedules.noam,
            {"d_model": 512, "warmup_steps": 4000},
            r"noam has no hyperparameter 'warmup_steps'; did you mean 'warmup'\? \(its "
            r"hyperparameters: d_model, warmup, scale\)",
        ),
        (schedules.cosine, {"peek": 0.1, "steps": 10}, r"'peek'; did you mean 'peak'\?"),
        (schedules.cosine, {"peak": 0.1}, r"cosine needs 'steps' .*required: peak, steps"),
        (schedules.cosine, {"peak": 0.1, "steps": 0}, r"steps must be > 0, got 0"),
        (schedules.cosine, {"peak": "0.1", "steps": 5}, r"peak must be a number"),
        (schedules.cosine, {"peak": 0.1, "steps": torch.tensor(5.0)}, r"steps must be a Python"),
        ("cosin", {"peak": 0.1, "steps": 10}, r"no built-in schedule named 'cosin'; did you mean"),
        (3, {}, r"leaf must be a schedule function .* got int: 3"),
    ],
)
def test_unknown_missing_or_bad_hyperparameters_are_value_errors(
    leaf: Any, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        bind(leaf, **kwargs)


def test_a_users_own_function_is_bound_as_a_plain_partial() -> None:
    def mine(step: float, peak: float) -> float:
        return peak * step

    bound = bind(mine, peak=2.0)
    assert type(bound) is functools.partial and bound.func is mine
    assert bound.keywords == {"peak": 2.0} and bound(3) == 6.0


def test_calling_checks_no_hyperparameter(monkeypatch: pytest.MonkeyPatch) -> None:
    module = sys.modules["schedules.cosine"]
    family = schedules.FAMILIES["cosine"]
    family._cache.clear()  # what other tests cached is not this test's
    family._memo[0] = empty_memo(len(family.parameters))[0]
    calls: list[str] = []
    for check in ("require_value", "require_positive"):
        original = getattr(module, check)

        def counted(name: str, value: object, _original: Any = original) -> Any:
            calls.append(name)
            return _original(name, value)

        monkeypatch.setattr(module, check, counted)
    bound = bind(schedules.cosine, peak=1.0, steps=10)
    assert calls == ["peak", "steps", "final", "exponent", "k_decay"]  # checked once, at bind
    for step in (0, 3, 2.5, 10**12, np.int64(4), torch.arange(3)):
        bound(step)
    assert len(calls) == 5
    schedules.cosine(3, peak=1.0, steps=11)  # a direct call checks (a new setting)
    assert len(calls) == 10


def test_only_the_step_is_checked() -> None:
    with pytest.raises(ValueError, match="NaN"):
        NOAM(math.nan)
    with pytest.raises(ValueError, match="NaN"):
        NOAM(np.float64("nan"))
    with pytest.raises(TypeError, match="step must be"):
        NOAM("3")
    with pytest.raises(TypeError, match="step must be"):
        NOAM(True)
    assert NOAM(np.int64(100)) == NOAM(100) and isinstance(NOAM(np.int64(100)), float)
    assert NOAM(np.float32(2.5)) == NOAM(2.5) and isinstance(NOAM(np.float32(2.5)), float)


@settings(max_examples=60, deadline=None)
@given(pair=schedules_with_kwargs(max_steps=1000), step=steps(), data=st.data())
def test_bound_equals_the_direct_call_for_every_family(
    pair: tuple[Any, dict[str, Any]], step: int, data: st.DataObject
) -> None:
    fn, kwargs = pair
    bound = bind(fn, **kwargs)
    assert bound(step) == fn(step, **kwargs)
    assert bound(step / 3) == fn(step / 3, **kwargs)
    tensor = torch.tensor([0, 1, step, 10**12])
    torch.testing.assert_close(bound(tensor), fn(tensor, **kwargs), rtol=0, atol=0)
    assert bound_or_same(functools.partial(fn, **kwargs)) == bound


@pytest.mark.parametrize("family", list(schedules.FAMILIES))
def test_bind_by_name_and_by_function_agree(family: str) -> None:
    @settings(max_examples=5, deadline=None)
    @given(kwargs=hyperparameters(family, max_steps=100))
    def check(kwargs: dict[str, Any]) -> None:
        assert bind(family, **kwargs) == bind(getattr(schedules, family), **kwargs)

    check()


def test_bound_or_same() -> None:
    partial = functools.partial(schedules.noam, d_model=512, warmup=4000)
    assert bound_or_same(partial) == NOAM and isinstance(bound_or_same(partial), BoundSchedule)
    assert bound_or_same(NOAM) is NOAM
    positional = functools.partial(schedules.noam, 5)
    assert bound_or_same(positional) is positional
    lam = lambda s: s  # noqa: E731
    assert bound_or_same(lam) is lam
    combinator = schedules.scale(partial, 0.5)
    assert bound_or_same(combinator) is combinator
    mine = functools.partial(lambda s, peak: peak, peak=1.0)
    assert bound_or_same(mine) is mine
    with pytest.raises(ValueError, match="did you mean 'warmup'"):
        bound_or_same(functools.partial(schedules.noam, d_model=512, warmup_steps=4000))  # type: ignore[call-arg]


def test_bound_schedules_work_inside_combinators() -> None:
    wrapped = schedules.warmup(bind(schedules.cosine, peak=1.0, steps=10), 5)
    plain = schedules.warmup(functools.partial(schedules.cosine, peak=1.0, steps=10), 5)
    assert [wrapped(s) for s in range(20)] == [plain(s) for s in range(20)]
    assert repr(wrapped) == (
        "warmup(schedule=bind(cosine, peak=1.0, steps=10), steps=5, start=0.0, prefix=True, "
        "shape='linear')"
    )
    assert pickle.loads(pickle.dumps(wrapped)) == wrapped
    assert plain == wrapped and isinstance(plain.schedule, BoundSchedule)  # bound when built
    with pytest.raises(ValueError, match=r"partial\(cosine, peak=1.0, steps=0\): steps must be"):
        schedules.warmup(functools.partial(schedules.cosine, peak=1.0, steps=0), 5)
    own = functools.partial(lambda s, k: k * s, k=2.0)  # not a built-in leaf: kept as given
    assert schedules.scale(own, 1.0).schedule is own
