"""Checkpoint files that a crash cannot break: ``save_checkpoint`` and ``load_checkpoint``.

``save_checkpoint(obj, path)`` never writes over ``path`` in place. It writes ``torch.save(obj)``
into a new temporary file in the same folder, flushes and fsyncs it, renames it over ``path``
with ``os.replace`` (atomic on POSIX and Windows), then fsyncs the folder so that the rename
itself is on disk. A process killed at any moment (``SIGKILL``, a pre-empted job, a power cut
after the data reached the disk) leaves ``path`` either as it was before or as the new
checkpoint, never half-written; a plain ``torch.save(obj, path)`` truncates ``path`` first and
can leave it unloadable (the tests kill both at random moments and count).

**Temporary files.** The temporary file is ``.<name>.<12 hex digits>.tmp`` next to ``path``
(``ckpt.pt`` → ``.ckpt.pt.3f9a0c12d4e5.tmp``), created with the permissions ``open`` would
give (``0o666`` minus the umask). When ``torch.save`` (or the flush, fsync or rename) raises,
it is removed before the error propagates, so nothing but ``path`` is left. A process *killed*
while saving cannot remove it: such a leftover is removed by the next ``save_checkpoint`` of the
same ``path``, at its start. A temporary file that a live save is writing is never removed: the
writer holds an exclusive ``flock`` on it until it is renamed, and the cleanup removes only the
files whose lock it can take (the kernel drops a killed process's locks). Where ``flock`` is
not available (Windows, a network file system without locking) nothing is cleaned up: leftovers
stay until removed by hand (they match the pattern above). Saving the same ``path`` from two
processes at once is safe (the last rename wins); one writer per path (one file per rank) is
the intended use.

``path`` itself is replaced, not written through: a symbolic link at ``path`` is replaced by
the file, and the new file gets fresh permissions.

**Digest.** The file carries the SHA-256 of ``torch.save``'s bytes in its zip comment
(:mod:`optimsche.checkpoint_digest`): it stays a torch checkpoint that
``torch.load(path, weights_only=True)`` reads as it is, and ``load_checkpoint`` refuses it with a
``ValueError`` naming ``path`` when any byte of it changed (a flipped bit, an overwritten
block, a truncation). A file written without a digest (``torch.save``, SpeeChain's checkpoints)
loads unchecked, as before.

``load_checkpoint(path, map_location=None)`` verifies the digest (when there is one), then is
``torch.load(file, map_location, weights_only=True)`` on the same open file, naming ``path``
in every error: ``FileNotFoundError`` when there is no such file
(``IsADirectoryError``/``PermissionError`` as the system says), and ``ValueError`` when the
file cannot be read as a checkpoint — damaged (its digest), empty, truncated (a zip archive
without its end: an interrupted in-place write), not a torch checkpoint, holding objects that
``weights_only=True`` refuses (classes other than tensors, containers, numbers and strings,
unless allow-listed with ``torch.serialization.add_safe_globals``), or not loadable with this
``map_location`` — with torch's own reason appended.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import zipfile
from pathlib import Path
from typing import IO, Any, cast

import torch

from optimsche.checkpoint_digest import DamagedCheckpoint, DigestWriter, seal, verify

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["TEMP_FILE_PATTERN", "load_checkpoint", "save_checkpoint", "temp_file_pattern"]

TEMP_FILE_PATTERN = ".{name}.<12 hex digits>.tmp"
"""The name of the temporary file of a save of ``<folder>/<name>`` (module doc)."""

_ZIP_MAGIC = b"PK\x03\x04"
_CREATE_ATTEMPTS = 16


def temp_file_pattern(name: str) -> re.Pattern[str]:
    """The regular expression that the temporary files of saves of ``name`` match in full."""
    return re.compile(rf"\.{re.escape(name)}\.[0-9a-f]{{12}}\.tmp")


def _try_lock(fd: int) -> bool | None:
    """Take an exclusive ``flock`` on ``fd`` without waiting: ``True`` when taken, ``False``
    when another process holds a lock, ``None`` when locking is not available here."""
    if fcntl is None:  # pragma: no cover - Windows
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as error:
        if error.errno in (errno.ENOLCK, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            return None
        raise
    return True


def _same_file(fd: int, path: str) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _remove_leftovers(folder: str, name: str) -> None:
    """Remove the temporary files of saves of ``name`` killed before they finished: those
    whose lock no live writer holds (module doc)."""
    pattern = temp_file_pattern(name)
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for entry in entries:
        if not pattern.fullmatch(entry):
            continue
        candidate = os.path.join(folder, entry)
        try:
            fd = os.open(candidate, os.O_RDWR)
        except OSError:
            continue  # gone already, or not ours to touch
        try:
            if _try_lock(fd) and _same_file(fd, candidate):
                os.unlink(candidate)
        except OSError:
            pass  # a leftover that cannot be removed is left, as where there is no flock
        finally:
            os.close(fd)


def _create_temp(folder: str, name: str) -> tuple[int, str]:
    """Create and lock a new temporary file for a save of ``name``; its fd and path."""
    for _ in range(_CREATE_ATTEMPTS):
        temp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            fd = os.open(temp, flags, 0o666)  # the umask applies, as for open()
        except FileExistsError:
            continue
        # another save's cleanup may have taken the file between its creation and the lock:
        # then the name is gone, and we start again with a new one
        if _try_lock(fd) is not False and _same_file(fd, temp):
            return fd, temp
        os.close(fd)
    raise FileExistsError(  # pragma: no cover - 16 collisions of 48 random bits
        errno.EEXIST, f"could not create a temporary file for {name!r} in {folder!r}"
    )


def _fsync_folder(folder: str) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    if os.name == "nt":  # pragma: no cover - Windows
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as error:  # some file systems do not fsync folders
        if error.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def save_checkpoint(obj: object, path: str | os.PathLike[str]) -> None:
    """Write ``torch.save(obj)`` to ``path`` atomically, sealed with the SHA-256 of its bytes
    (module doc): a temporary file in the same folder, the digest record appended, flushed
    and fsynced, renamed over ``path``, then the folder fsynced. On any error the temporary
    file is removed and ``path`` is as it was."""
    target = Path(path)
    name = target.name
    if not name or name in (".", ".."):
        raise ValueError(f"save_checkpoint: path must name a file, got {os.fspath(path)!r}")
    folder = os.fspath(target.parent)
    _remove_leftovers(folder, name)
    fd, temp = _create_temp(folder, name)
    try:
        with os.fdopen(fd, "w+b") as file:
            writer = DigestWriter(file)
            torch.save(obj, cast("IO[bytes]", writer))
            seal(file, writer)
            file.flush()
            os.fsync(file.fileno())
            os.replace(temp, target)  # still locked: no cleanup can take it before the rename
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _fsync_folder(folder)


def _unreadable(path: str, error: BaseException) -> ValueError:
    """The ``ValueError`` for a file that exists but is not a loadable checkpoint."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as file:
            head = file.read(len(_ZIP_MAGIC))
    except OSError:
        size, head = -1, b""
    reason = f"{type(error).__name__}: {error}".rstrip(": ")
    if size == 0:
        what = "is empty (0 bytes), not a checkpoint"
    elif head == _ZIP_MAGIC and not zipfile.is_zipfile(path):
        what = (
            f"is truncated ({size} bytes): a torch checkpoint (zip archive) without its end, "
            f"as an interrupted in-place torch.save leaves it"
        )
    else:
        what = "cannot be loaded as a checkpoint with torch.load(weights_only=True)"
    return ValueError(f"checkpoint file {path} {what} ({reason})")


def _damaged(path: str, error: DamagedCheckpoint) -> DamagedCheckpoint:
    """The error for a file whose digest check failed: a truncated zip archive is reported as
    such (as :func:`_unreadable` does), anything else as damaged, with the reason."""
    try:
        size = os.path.getsize(path)
    except OSError:
        size = -1
    if error.truncated:
        what = (
            f"is truncated ({size} bytes): a torch checkpoint (zip archive) without its end, "
            f"as an interrupted in-place torch.save leaves it"
        )
    else:
        what = "is damaged"
    return DamagedCheckpoint(f"checkpoint file {path} {what}: {error}")


def load_checkpoint(path: str | os.PathLike[str], map_location: Any = None) -> Any:
    """``torch.load(path, map_location=map_location, weights_only=True)``, naming ``path`` in
    every error: ``FileNotFoundError`` when it is missing, ``ValueError`` when it is not a
    checkpoint ``weights_only=True`` can read (module doc)."""
    name = os.fspath(path)
    if not os.path.exists(name):
        raise FileNotFoundError(errno.ENOENT, f"no checkpoint file {name}", name)
    try:
        with open(name, "rb") as file:
            try:
                verify(file, os.fstat(file.fileno()).st_size)
            except DamagedCheckpoint as error:
                raise _damaged(name, error) from None
            return torch.load(file, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, f"no checkpoint file {name}", name) from None
    except (IsADirectoryError, PermissionError, DamagedCheckpoint):
        raise
    except Exception as error:
        raise _unreadable(name, error) from error
