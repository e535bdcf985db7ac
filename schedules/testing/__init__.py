"""Test your schedules the way the library tests its own: hypothesis strategies for steps and
for the hyperparameters of every built-in family, and property checks for any schedule.

Strategies (:mod:`schedules.testing.step_strategies`,
:mod:`schedules.testing.family_strategies`):

* ``steps(min_value=0, max_value=10**12)``: integer steps, 0 and 10**12 included;
  ``step_lists(...)``, ``step_tensors(..., dtype=torch.int64)``;
* ``hyperparameters(family, max_steps=10**6)``: valid keyword arguments for
  ``schedules.<family>``; ``FAMILIES`` names the built-in families (those of the registry
  ``schedules.FAMILIES``);
* ``schedules_with_kwargs(families=FAMILIES)``: ``(function, kwargs)`` pairs;
* ``learning_rates()``, ``levels()``, ``fractions()``: the number ranges they draw from;
* ``leaf_schedules()``, ``combined_schedules()`` (trees of combinators over bound leaves),
  ``clock_bound_schedules()`` and ``times()`` (:mod:`schedules.testing.combinator_strategies`).

Property checks (:mod:`schedules.testing.properties`), each raising ``AssertionError``
naming the step(s) and value(s): ``assert_monotone``, ``assert_bounded``,
``assert_continuous``, ``assert_holds_after``, ``assert_changes_only_at``,
``assert_scalar_tensor_agree``, ``assert_vmappable`` (over the steps) and
``assert_vmappable_over(schedule, name, values, steps)`` (over a hyperparameter: a sweep over
peaks in one call).

Example::

    from functools import partial
    from hypothesis import given
    from schedules.testing import assert_bounded, assert_monotone, steps

    my = partial(my_schedule, peak=0.1, warmup=100, steps=1000)

    def test_warmup_rises() -> None:
        assert_monotone(my, 0, 100, increasing=True, strict=True)

    @given(steps())
    def test_bounded(step: int) -> None:
        assert_bounded(my, 0.0, 0.1, [step])

This subpackage imports ``hypothesis`` (install the ``testing`` extra:
``pip install "optimsche[testing]"``); ``import schedules`` alone never does.
"""

from schedules.testing.combinator_strategies import (
    clock_bound_schedules,
    combined_schedules,
    leaf_schedules,
    times,
)
from schedules.testing.family_strategies import (
    FAMILIES,
    fractions,
    hyperparameters,
    learning_rates,
    levels,
    schedules_with_kwargs,
)
from schedules.testing.properties import (
    assert_bounded,
    assert_changes_only_at,
    assert_continuous,
    assert_holds_after,
    assert_monotone,
    assert_scalar_tensor_agree,
    assert_vmappable,
    assert_vmappable_over,
    grid,
)
from schedules.testing.step_strategies import step_lists, step_tensors, steps

__all__ = [
    "FAMILIES",
    "assert_bounded",
    "assert_changes_only_at",
    "assert_continuous",
    "assert_holds_after",
    "assert_monotone",
    "assert_scalar_tensor_agree",
    "assert_vmappable",
    "assert_vmappable_over",
    "clock_bound_schedules",
    "combined_schedules",
    "fractions",
    "grid",
    "hyperparameters",
    "leaf_schedules",
    "learning_rates",
    "levels",
    "schedules_with_kwargs",
    "step_lists",
    "step_tensors",
    "steps",
    "times",
]
