"""Testing tools for users of the shell: :func:`run_local_processes` runs a function in several
local processes joined by a gloo process group on 127.0.0.1 (a DDP test harness)."""

from optimsche.testing.local_processes import loopback_interface, run_local_processes

__all__ = ["loopback_interface", "run_local_processes"]
