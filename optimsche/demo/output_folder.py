"""Where ``optimsche demo`` writes its checkpoints and curves by default: the user's cache,
never the current folder (a checkout stays clean).

The folder is ``$XDG_CACHE_HOME/optimsche/demo`` when ``XDG_CACHE_HOME`` is set to an absolute
path (the XDG base-directory rule: a relative one is ignored), else
``~/.cache/optimsche/demo``. ``optimsche demo --out DIR`` writes to ``DIR`` instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["default_output_folder"]


def default_output_folder(environment: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/optimsche/demo`` (absolute ``XDG_CACHE_HOME`` only), else
    ``~/.cache/optimsche/demo``; ``environment`` defaults to ``os.environ``."""
    variables = os.environ if environment is None else environment
    cache = variables.get("XDG_CACHE_HOME", "")
    root = Path(cache) if cache and Path(cache).is_absolute() else Path.home() / ".cache"
    return root / "optimsche" / "demo"
