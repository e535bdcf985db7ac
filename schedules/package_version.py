"""The version of the installed ``optimsche`` distribution (which ships ``schedules``), read
from its metadata; ``"0+unknown"`` where the packages are imported without being installed
(a checkout on ``PYTHONPATH``).

``optimsche`` reads its own in :mod:`optimsche.package_version`: ``schedules`` never imports
``optimsche``, and ``optimsche --version`` must not import torch, which ``import schedules``
does.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "optimsche"
"""The distribution both packages are installed from."""

UNKNOWN = "0+unknown"
"""The version reported where the distribution is not installed."""


def package_version() -> str:
    """``importlib.metadata.version("optimsche")``, or :data:`UNKNOWN`."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return UNKNOWN
