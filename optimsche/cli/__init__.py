"""The ``optimsche`` command: ``show``, ``plot`` and ``demo`` (entry point :func:`main`).

``optimsche --version`` is answered here, before :mod:`optimsche.cli.commands` (and with it
torch) is imported: it reads the distribution's metadata alone.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from optimsche.package_version import package_version

PROG = "optimsche"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``optimsche`` command with ``argv`` (default: ``sys.argv[1:]``); return the
    exit status (0 success, 1 error, 2 usage). ``--version`` alone prints
    ``optimsche <version>`` without importing torch."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments == ["--version"]:
        print(f"{PROG} {package_version()}")
        return 0
    from optimsche.cli.commands import main as run_command

    return run_command(arguments)


__all__ = ["main"]
