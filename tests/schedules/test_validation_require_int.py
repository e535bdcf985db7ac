"""``require_int``: an int (never a bool) within optional bounds, or a ValueError naming it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schedules.validation import require_int


@given(st.integers(), st.integers(-5, 5), st.integers(0, 10))
def test_ints_within_the_bounds_pass_unchanged(value: int, low: int, width: int) -> None:
    assert require_int("n", value) == value
    high = low + width
    if low <= value <= high:
        assert require_int("n", value, low, high) == value
    else:
        with pytest.raises(ValueError, match=rf"n must be an int in \[{low}, {high}\]"):
            require_int("n", value, low, high)


@pytest.mark.parametrize(
    ("value", "minimum", "maximum", "message"),
    [
        (True, None, None, "n must be an int, got True"),
        (1.0, 0, None, "n must be an int >= 0, got 1.0"),
        ("3", None, 5, "n must be an int <= 5, got '3'"),
        (-1, 0, None, "n must be an int >= 0, got -1"),
        (6, None, 5, "n must be an int <= 5, got 6"),
        (None, 0, 3, r"n must be an int in \[0, 3\], got None"),
    ],
)
def test_other_values_are_refused_naming_the_bounds(
    value: object, minimum: int | None, maximum: int | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        require_int("n", value, minimum, maximum)
