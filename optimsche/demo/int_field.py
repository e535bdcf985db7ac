"""The one check of the demo's integer settings: an attrs validator over
:func:`schedules.validation.require_int`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from schedules.validation import require_int


def int_at_least(minimum: int) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    """An attrs validator: the field must be an int (not a bool) ``>= minimum``; a
    ``ValueError`` naming the field and the value otherwise."""

    def check(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        require_int(attribute.name, value, minimum)

    return check
