"""Numbers beyond float range (an int such as ``10**400``) are refused by every ``require_*``
number check with a ``ValueError`` naming the argument, never an ``OverflowError``; the
largest finite floats (and the ints that round to them) still pass."""

from __future__ import annotations

import sys
from fractions import Fraction

import pytest

from schedules.validation import (
    require_increasing,
    require_non_negative,
    require_non_negative_value,
    require_number,
    require_open_unit,
    require_order,
    require_positive,
    require_unit_interval,
    require_value,
    require_values,
)

HUGE = 10**400
_MAX = sys.float_info.max

SCALAR_CHECKS = [
    require_number,
    require_value,
    require_positive,
    require_non_negative,
    require_non_negative_value,
    require_open_unit,
    require_unit_interval,
    require_order,
]


@pytest.mark.parametrize("check", SCALAR_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("value", [HUGE, -HUGE, Fraction(HUGE)], ids=["huge", "-huge", "frac"])
def test_a_number_beyond_float_range_is_a_value_error_naming_the_argument(
    check: object, value: object
) -> None:
    with pytest.raises(ValueError, match=r"^ft_factor must .*got .*1000000000") as info:
        check("ft_factor", value)  # type: ignore[operator]
    assert not isinstance(info.value, OverflowError)


@pytest.mark.parametrize("check", [require_values, require_increasing], ids=lambda c: c.__name__)
def test_a_sequence_entry_beyond_float_range_is_named_by_index(check: object) -> None:
    with pytest.raises(ValueError, match=r"^values\[1\] must .*got 1000000000"):
        check("values", [1.0, HUGE])  # type: ignore[operator]


def test_the_largest_finite_numbers_still_pass() -> None:
    assert require_number("x", _MAX) == _MAX
    assert require_number("x", -_MAX) == -_MAX
    assert require_number("x", int(_MAX)) == _MAX  # an int exactly at the bound: fast path
    assert require_number("x", int(_MAX) + 1) == _MAX  # just above: rounds to it, slow path
    assert require_positive("x", int(_MAX)) == _MAX
    assert require_non_negative("x", _MAX) == _MAX
    assert require_value("x", -int(_MAX)) == -_MAX
    assert require_values("x", [_MAX, int(_MAX)]) == [_MAX, _MAX]
    assert require_increasing("x", [0, int(_MAX)]) == [0.0, _MAX]
    assert require_order("x", float("inf")) == float("inf")


def test_the_shell_refuses_a_huge_ft_factor_by_name() -> None:
    torch = pytest.importorskip("torch")
    from optimsche import OptimScheduler

    model = torch.nn.Linear(2, 1)
    with pytest.raises(ValueError, match="ft_factor"):
        OptimScheduler(model, ft_factor=HUGE)
