"""Testing tools for users of the shell: :func:`run_local_processes` runs a function in several
local processes joined by a gloo process group on 127.0.0.1 (a DDP test harness);
:func:`counting_host_syncs` counts the host-device syncs of a block of code."""

from optimsche.testing.host_syncs import HostSyncs, counting_host_syncs
from optimsche.testing.local_processes import loopback_interface, run_local_processes

__all__ = ["HostSyncs", "counting_host_syncs", "loopback_interface", "run_local_processes"]
