"""Numbers a configuration may hold: every int must fit a float.

YAML reads ``lr: 1000...0`` (400 digits) as a Python int, which every formula later turns into
a float: ``OverflowError``, far from the key that caused it. :func:`require_float_range` walks
a configuration value (mappings, lists, tuples; at most
:data:`~optimsche.config.document_bounds.MAX_DEPTH` deep, as loaded) and refuses such an int
with a :class:`ConfigError` naming its key. Floats need no check: YAML reads ``1e999999`` as
``inf``, which the value checks refuse as not finite.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from optimsche.config.error import ConfigError

__all__ = ["require_float_range"]

_MAX = sys.float_info.max


def require_float_range(where: str, value: Any) -> None:
    """Refuse, with a :class:`ConfigError` naming ``where`` and the key path, any int in
    ``value`` whose magnitude exceeds the largest float (about 1.8e308)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not -_MAX <= value <= _MAX:
            digits = int(value.bit_length() * 0.30103) + 1
            raise ConfigError(
                f"{where}: an integer of about {digits} digits is beyond the float range "
                f"(at most about 1.8e308)"
            )
    elif isinstance(value, Mapping):
        for key, item in value.items():
            require_float_range(f"{where}.{key}", item)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            require_float_range(f"{where}[{index}]", item)
