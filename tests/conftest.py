"""Test-wide settings.

Under CI (the ``CI`` environment variable set, as ``.ci/run`` runs) hypothesis is
derandomized and keeps no example database, so a run on a clean clone is reproducible; on a
developer's machine it explores fresh examples every run.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
