"""``multiply(*schedules)``: the product of the schedules' values, as torch's
``ChainedScheduler`` of multiplicative schedulers gives it."""

from __future__ import annotations

import functools
import math
import pickle
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import schedules
from schedules import constant, cosine, exponential, multiply, multistep, step_decay
from schedules.testing import (
    assert_scalar_tensor_agree,
    assert_vmappable,
    schedules_with_kwargs,
    steps,
)

DECAY = functools.partial(exponential, start=0.2, rate=0.9, steps=1)
HALVING = functools.partial(step_decay, start=1.0, every=3, gamma=0.5)
COSINE = functools.partial(cosine, peak=1.0, steps=100)
NAMESPACE = {**vars(schedules), "partial": functools.partial}


def _every_other(step: Any) -> Any:
    """``0.9 ** ceil(s / 2)``: the product of a MultiplicativeLR factor of 0.9 on odd epochs (a
    user's own schedule; a Tensor step is computed in float64)."""
    if isinstance(step, torch.Tensor):
        step = step.to(torch.float64)
    return 0.9 ** ((step + 1) // 2)


def _torch_chain(
    base_lr: float, make: Callable[[torch.optim.Optimizer], list[Any]], steps: int
) -> list[float]:
    """The lr of torch's ``ChainedScheduler`` over the schedulers ``make`` builds, after 0, 1,
    ..., ``steps`` calls of ``step()``."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=base_lr)
    chain = torch.optim.lr_scheduler.ChainedScheduler(make(optimizer))
    lrs = [optimizer.param_groups[0]["lr"]]
    for _ in range(steps):
        optimizer.step()
        chain.step()
        lrs.append(optimizer.param_groups[0]["lr"])
    return lrs


@pytest.mark.parametrize(
    ("base_lr", "make", "product"),
    [
        (
            0.2,
            lambda opt: [
                torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9),
                torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5),
            ],
            multiply(DECAY, HALVING),
        ),
        (
            1.0,
            lambda opt: [
                torch.optim.lr_scheduler.MultiplicativeLR(
                    opt, lr_lambda=lambda epoch: 0.9 if epoch % 2 else 1.0
                ),
                torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[4, 9], gamma=0.1),
                torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.97),
            ],
            multiply(
                _every_other,
                functools.partial(multistep, start=1.0, milestones=[4, 9], gamma=0.1),
                functools.partial(exponential, start=1.0, rate=0.97, steps=1),
            ),
        ),
    ],
    ids=["exponential-x-step", "multiplicative-x-multistep-x-exponential"],
)
def test_matches_torch_chained_scheduler(
    base_lr: float, make: Callable[[torch.optim.Optimizer], list[Any]], product: multiply
) -> None:
    expected = _torch_chain(base_lr, make, 30)
    for step, lr in enumerate(expected):
        assert math.isclose(product(step), lr, rel_tol=1e-12), (step, product(step), lr)
    tensor = product(torch.arange(31))
    assert torch.allclose(tensor, torch.tensor(expected, dtype=torch.float64), rtol=1e-12)


def test_hand_checked_values() -> None:
    product = multiply(DECAY, HALVING)
    assert product(0) == 0.2
    assert math.isclose(product(3), 0.2 * 0.9**3 * 0.5, rel_tol=1e-15)
    assert isinstance(multiply(lambda s: 2)(1), float)  # type: ignore[arg-type,return-value]
    assert multiply(COSINE)(50) == COSINE(50)
    values = multiply(DECAY, HALVING)(torch.tensor([[0, 3], [6, 7]]))
    assert values.shape == (2, 2) and values.dtype == torch.float64
    assert values[1, 0].item() == DECAY(6) * HALVING(6)


@settings(max_examples=80, deadline=None)
@given(
    first=schedules_with_kwargs(max_steps=10**4),
    second=schedules_with_kwargs(max_steps=10**4),
    step=steps(),
)
def test_is_the_product_for_every_pair_of_families(
    first: tuple[Any, dict[str, Any]], second: tuple[Any, dict[str, Any]], step: int
) -> None:
    f = functools.partial(first[0], **first[1])
    g = functools.partial(second[0], **second[1])
    product = multiply(f, g)
    assert product(step) == f(step) * g(step)
    assert multiply(f, g, g)(step) == f(step) * g(step) * g(step)
    tensor = product(torch.tensor([0, 1, step]))
    assert tensor[2].item() == pytest.approx(f(step) * g(step), rel=1e-12, abs=1e-300)
    assert_scalar_tensor_agree(product, [0, 1, step])
    assert_vmappable(product, [0, 1, step])


@settings(max_examples=50, deadline=None)
@given(value=st.floats(0.0, 10.0), step=steps())
def test_a_constant_factor_is_scale(value: float, step: int) -> None:
    assert multiply(COSINE, functools.partial(constant, value=value))(step) == (
        schedules.scale(COSINE, value)(step)
    )


def test_repr_equality_hash_and_pickle() -> None:
    product = multiply(DECAY, HALVING)
    assert repr(product) == (
        "multiply(bind(exponential, start=0.2, rate=0.9, steps=1), "
        "bind(step_decay, start=1.0, every=3, gamma=0.5))"
    )
    assert eval(repr(product), NAMESPACE) == product
    copy = pickle.loads(pickle.dumps(product))
    assert copy == product and hash(copy) == hash(product) and copy(7) == product(7)
    assert multiply(HALVING, DECAY) != product
    assert multiply(DECAY) != product
    assert product.schedules == tuple(map(schedules.bound_or_same, (DECAY, HALVING)))
    with pytest.raises(AttributeError):
        product.schedules = ()  # type: ignore[misc]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((), "multiply needs at least one schedule, got none"),
        ((DECAY, None), r"schedules\[1\] must be a schedule .* got NoneType"),
        ((DECAY, 2.0), r"schedules\[1\] must be a schedule .* got float"),
        (([DECAY, HALVING],), r"schedules\[0\] must be a schedule, got a list: pass the sched"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(
    arguments: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        multiply(*arguments)
