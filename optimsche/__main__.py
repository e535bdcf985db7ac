"""``python -m optimsche``: the ``optimsche`` command (:func:`optimsche.cli.main`)."""

from __future__ import annotations

import sys

from optimsche.cli import main

if __name__ == "__main__":
    sys.exit(main())
