"""The version of the installed ``optimsche`` distribution, read from its metadata;
``"0+unknown"`` where the packages are imported without being installed (a checkout on
``PYTHONPATH``).

Imports nothing but :mod:`importlib.metadata`: ``optimsche --version`` runs on it alone,
without importing torch. (``schedules.package_version`` reads the same metadata for
``schedules.__version__``; ``schedules`` never imports ``optimsche``, and importing any
module of ``schedules`` imports torch.)
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
