"""``python -m optimsche``: the ``optimsche`` command (:mod:`optimsche.cli.commands`)."""

from __future__ import annotations

import sys

from optimsche.cli.commands import main

if __name__ == "__main__":
    sys.exit(main())
