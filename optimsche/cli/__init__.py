"""The ``optimsche`` command: ``show``, ``plot`` and ``demo`` (entry point :func:`main`)."""

from optimsche.cli.commands import main

__all__ = ["main"]
