"""The one exception type of the configuration layer."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration mistake, with a one-line message that names where it is (file and line,
    or the optimizer and key), the bad value, and what would have been valid.

    It is a :class:`ValueError`, so code that guards against bad values catches it too.
    """
