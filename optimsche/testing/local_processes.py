"""Run one function in N gloo processes on this machine (127.0.0.1 only) and collect results.

Used by the multi-process DDP tests and the demo's ``--ddp N``. The parent process hosts the
rendezvous ``TCPStore`` on a socket bound to 127.0.0.1 only, on an OS-chosen free port (port 0,
so no port race), then starts ``world_size`` processes, forked from a ``forkserver`` that has
imported torch once (a fresh ``spawn``-ed interpreter each where there is no forkserver). Each
joins the default process group with the gloo backend bound to the loopback interface
(``GLOO_SOCKET_IFNAME``), calls ``fn(rank, world_size, *args)``, and sends back its pickled
return value (or its traceback). No traffic leaves 127.0.0.1.

**Bounded waits.** The process group is initialised with ``timeout=collective_timeout_s``
(:data:`DEFAULT_COLLECTIVE_TIMEOUT_S`, 60 s, unless given), not torch's default of 30 minutes:
a collective that one rank never joins (it crashed, or took another branch) fails on the
others after that long with a timeout error, which ``run_local_processes`` reports with every
failing rank's traceback. ``timeout_s`` bounds the whole run (and the rendezvous).

What the processes print goes to the parent's standard output and error *as they are when
the run starts* (file descriptors 1 and 2, handed to each process): a forkserver child would
otherwise inherit the forkserver's, i.e. wherever they pointed when the forkserver started,
such as the capture of an earlier pytest test.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import queue
import socket
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import timedelta
from multiprocessing import reduction
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from schedules.validation import require_positive

__all__ = [
    "DEFAULT_COLLECTIVE_TIMEOUT_S",
    "LOOPBACK",
    "LocalProcessError",
    "loopback_interface",
    "run_local_processes",
]

LOOPBACK = "127.0.0.1"
"""The only address the processes talk to."""

DEFAULT_COLLECTIVE_TIMEOUT_S = 60.0
"""How long a collective (all-reduce, barrier, ...) waits for the other ranks by default, in
seconds: the process group's ``timeout`` (torch's own default is 30 minutes)."""

R = TypeVar("R")


class LocalProcessError(RuntimeError):
    """One or more local processes failed; the message holds each failing rank's traceback."""


def loopback_interface() -> str:
    """Name of the network interface that carries 127.0.0.1 (``lo`` on Linux, ``lo0`` on macOS).

    Chosen as the first interface whose name starts with ``lo``; ``lo`` when the platform
    cannot list interfaces.
    """
    try:
        names = [name for _, name in socket.if_nameindex()]
    except (OSError, AttributeError):  # pragma: no cover - platforms without if_nameindex
        return "lo"
    return next((name for name in names if name.startswith("lo")), "lo")


class _OutputFds:
    """The parent's standard output and error, file descriptors 1 and 2 as they are when a
    process is started, sent along to it (see the module doc).

    Pickled for a child (forkserver or spawn), each descriptor travels as a
    ``multiprocessing.reduction.DupFd``; the child gets its own duplicates and
    :meth:`redirect` puts them in place of its descriptors 1 and 2.
    """

    __slots__ = ("fds",)

    def __init__(self, fds: tuple[int, int] = (1, 2)) -> None:
        self.fds = fds

    def __reduce__(self) -> tuple[Callable[..., _OutputFds], tuple[Any, ...]]:
        return (_received_output_fds, tuple(reduction.DupFd(fd) for fd in self.fds))

    def redirect(self) -> None:
        """Make this process's descriptors 1 and 2 the ones received (flushing first)."""
        sys.stdout.flush()
        sys.stderr.flush()
        for target, fd in zip((1, 2), self.fds, strict=True):
            if fd != target:
                os.dup2(fd, target)
                os.close(fd)
        self.fds = (1, 2)


def _received_output_fds(*dup_fds: Any) -> _OutputFds:
    """Unpickle an :class:`_OutputFds` in the child: take the duplicated descriptors."""
    out, err = (int(dup_fd.detach()) for dup_fd in dup_fds)
    return _OutputFds((out, err))


def _worker(
    rank: int,
    world_size: int,
    store_port: int,
    fn: Callable[..., Any],
    args: Sequence[Any],
    timeout_s: float,
    collective_timeout_s: float,
    threads: int,
    results: mp.Queue[tuple[int, bool, bytes]],
    output: _OutputFds | None,
) -> None:
    """Body of one spawned process: join the gloo group, run ``fn``, report back, leave."""
    if output is not None:
        output.redirect()
    os.environ.update(
        {
            "MASTER_ADDR": LOOPBACK,
            "MASTER_PORT": str(store_port),
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(world_size),
            "GLOO_SOCKET_IFNAME": loopback_interface(),
        }
    )
    torch.set_num_threads(threads)
    try:
        from torch._C._distributed_c10d import TCPStore

        store = TCPStore(
            LOOPBACK, store_port, world_size, is_master=False, timeout=timedelta(seconds=timeout_s)
        )
        dist.init_process_group(
            "gloo",
            store=store,
            rank=rank,
            world_size=world_size,
            timeout=timedelta(seconds=collective_timeout_s),
        )
        try:
            value = fn(rank, world_size, *args)
        finally:
            dist.destroy_process_group()
        answer = (rank, True, pickle.dumps(value))
    except BaseException:
        answer = (rank, False, traceback.format_exc().encode())
    sys.stdout.flush()
    sys.stderr.flush()
    results.put(answer)


def run_local_processes(
    fn: Callable[..., R],
    world_size: int,
    *args: Any,
    timeout_s: float = 120.0,
    threads: int = 1,
    collective_timeout_s: float = DEFAULT_COLLECTIVE_TIMEOUT_S,
) -> list[R]:
    """Run ``fn(rank, world_size, *args)`` in ``world_size`` gloo processes; return the results.

    ``fn`` and ``args`` must be picklable (``fn`` a module-level function): each process starts
    from a clean interpreter (forkserver or spawn), never from a fork of the caller. Inside
    ``fn`` the default process group is initialised (``torch.distributed.get_rank() == rank``).
    Returns the return values in rank order. Raises ``LocalProcessError`` with every failing
    rank's traceback if any rank raises, dies, or does not answer within ``timeout_s`` seconds.
    ``threads`` is each process's ``torch.set_num_threads``.
    """
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size!r}")
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
    require_positive("collective_timeout_s", collective_timeout_s)
    if not dist.is_available() or not dist.is_gloo_available():
        raise RuntimeError("run_local_processes needs torch.distributed with the gloo backend")
    from torch._C._distributed_c10d import TCPStore

    # The store listens on a socket bound to 127.0.0.1 only (port 0: the OS picks a free one);
    # left to itself TCPStore would listen on every interface.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((LOOPBACK, 0))
    listener.listen(max(world_size, 16))
    port = int(listener.getsockname()[1])
    listen_fd = listener.detach()  # the store owns (and closes) the socket from here on
    try:
        store = TCPStore(
            LOOPBACK,
            port,
            world_size + 1,
            is_master=True,
            timeout=timedelta(seconds=timeout_s),
            wait_for_workers=False,
            master_listen_fd=listen_fd,
        )
    except BaseException:
        os.close(listen_fd)
        raise
    ctx = _context()
    results: mp.Queue[tuple[int, bool, bytes]] = ctx.Queue()
    # a forkserver child would inherit the forkserver's stdout/stderr: send the current ones
    output = _OutputFds() if ctx.get_start_method() == "forkserver" else None
    processes = [
        ctx.Process(
            target=_worker,
            args=(
                rank,
                world_size,
                port,
                fn,
                args,
                timeout_s,
                collective_timeout_s,
                threads,
                results,
                output,
            ),
            daemon=True,
        )
        for rank in range(world_size)
    ]
    for process in processes:
        process.start()
    try:
        answers = _collect(results, processes, timeout_s)
    finally:
        for process in processes:
            process.join(timeout=5.0)
            if process.is_alive():
                process.kill()
                process.join()
        del store
    failures = [
        f"rank {rank}:\n{answers[rank][1].decode()}"
        for rank in sorted(answers)
        if not answers[rank][0]
    ]
    missing = [rank for rank in range(world_size) if rank not in answers]
    if missing:
        failures.append(
            f"ranks {missing} gave no answer (exit codes "
            f"{[processes[rank].exitcode for rank in missing]})"
        )
    if failures:
        raise LocalProcessError("local processes failed:\n" + "\n".join(failures))
    return [pickle.loads(answers[rank][1]) for rank in range(world_size)]


def _context() -> mp.context.ForkServerContext | mp.context.SpawnContext:
    """``forkserver`` with torch preloaded where available (the server imports torch once per
    parent process, so each rank starts in a fraction of a second), else ``spawn``."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(
            ["torch", "torch.distributed", "optimsche.testing.local_processes"]
        )
        return ctx
    return mp.get_context("spawn")  # pragma: no cover - Windows


def _collect(
    results: mp.Queue[tuple[int, bool, bytes]],
    processes: Sequence[mp.process.BaseProcess],
    timeout_s: float,
) -> dict[int, tuple[bool, bytes]]:
    """Gather one answer per process until all answered, one died silently, or time ran out."""
    answers: dict[int, tuple[bool, bytes]] = {}
    deadline = time.monotonic() + timeout_s
    while len(answers) < len(processes) and time.monotonic() < deadline:
        try:
            rank, ok, payload = results.get(timeout=0.2)
        except queue.Empty:
            dead = [
                rank
                for rank, process in enumerate(processes)
                if rank not in answers and not process.is_alive()
            ]
            if dead:
                # a process that exited may still have an answer in flight; drain briefly
                try:
                    rank, ok, payload = results.get(timeout=1.0)
                except queue.Empty:
                    break
            else:
                continue
        answers[rank] = (ok, payload)
        if not ok:  # one failure is enough: the others may wait forever on a collective
            break
    return answers
