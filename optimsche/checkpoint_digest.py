"""The digest of a checkpoint file: a SHA-256 of its bytes, kept in the zip archive's comment.

``torch.save`` writes a zip archive that ends with the 22-byte *end of central directory*
record (``PK\\x05\\x06`` ... two bytes of comment length, ``0``). :func:`DigestWriter` passes
``torch.save``'s bytes through to the file while hashing them; :func:`seal` then sets the
comment length to :data:`RECORD_LENGTH` and appends the record::

    <torch.save's bytes, with comment length L> <RECORD_PREFIX> <64 hex digits>

where the 64 hex digits are ``SHA-256(torch.save's bytes as written, comment length 0)``. A
zip comment is part of the zip format: ``torch.load(path, weights_only=True)`` (and any zip
reader) still reads the file as it is, so a sealed file stays an ordinary torch checkpoint.

:func:`verify` reads the file once from an open handle: it recomputes the SHA-256 of every byte
before the record (with the comment length put back to 0) and compares. The verdicts:

* :data:`Verdict.SEALED`: the record is there and the digest matches;
* :data:`Verdict.UNSEALED`: the file ends the way ``torch.save`` ends a file (an end record
  with no comment) or is not a zip archive at all (torch's legacy format): a file written
  without a digest (``torch.save``, SpeeChain's checkpoints), loaded as it is;
* a :class:`DamagedCheckpoint` error otherwise: a zip archive (it starts with ``PK\\x03\\x04``)
  or a file ending in something like the record, whose record is missing, malformed, or whose
  digest differs. ``torch.save`` never writes a zip comment, so no file written without a
  digest is ever refused here.

What it catches: any change of the bytes before the record (a single flipped bit, an
overwritten block), any truncation (the end record is no longer where the record says, or no
longer there at all), any change of the record itself. What it does not: a file replaced as a
whole by another sealed checkpoint (its digest matches its own bytes), and damage to a file
without a digest.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import io
import re
import struct
from typing import IO, Any

__all__ = [
    "END_RECORD_LENGTH",
    "RECORD_LENGTH",
    "RECORD_PREFIX",
    "DamagedCheckpoint",
    "DigestWriter",
    "Verdict",
    "seal",
    "verify",
]

RECORD_PREFIX = b"optimsche-checkpoint sha256="
"""The start of the record (the zip comment) of a sealed checkpoint file."""

_HEX_DIGITS = hashlib.sha256().digest_size * 2
RECORD_LENGTH = len(RECORD_PREFIX) + _HEX_DIGITS
"""The length in bytes of the record: the prefix and 64 lowercase hex digits."""

END_RECORD_LENGTH = 22
"""The length of a zip end-of-central-directory record without its comment."""

_END_SIGNATURE = b"PK\x05\x06"
_ZIP_SIGNATURE = b"PK\x03\x04"
_NO_COMMENT = b"\x00\x00"
_RECORD = re.compile(re.escape(RECORD_PREFIX) + rb"[0-9a-f]{%d}" % _HEX_DIGITS)
_CHUNK = 1 << 20


class DamagedCheckpoint(ValueError):
    """A checkpoint file whose digest record is missing, malformed or does not match;
    ``truncated`` when its end is missing (its zip end record is gone, or declares more bytes
    than follow it)."""

    def __init__(self, message: str, *, truncated: bool = False) -> None:
        super().__init__(message)
        self.truncated = truncated


def _ends_early(tail: bytes) -> bool:
    """Whether ``tail``, the end of a zip archive, lacks its end: no end record, or the last
    one declares a longer comment than follows it."""
    at = tail.rfind(_END_SIGNATURE)
    if at < 0 or at + END_RECORD_LENGTH > len(tail):
        return True
    comment = int.from_bytes(tail[at + END_RECORD_LENGTH - 2 : at + END_RECORD_LENGTH], "little")
    return at + END_RECORD_LENGTH + comment > len(tail)


class Verdict(enum.Enum):
    """What :func:`verify` found: a sealed file whose digest matches, or a file without one."""

    SEALED = "sealed"
    UNSEALED = "unsealed"


class DigestWriter(io.RawIOBase):
    """A write-only stream that hashes what passes through it into ``file`` (for ``torch.save``)."""

    def __init__(self, file: IO[bytes]) -> None:
        super().__init__()
        self._file = file
        self._hash = hashlib.sha256()
        self._tail = b""
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._hash.update(view)
        self._file.write(view)
        self.size += len(view)
        self._tail = (self._tail + bytes(view[-END_RECORD_LENGTH:]))[-END_RECORD_LENGTH:]
        return len(view)

    def hexdigest(self) -> str:
        """The SHA-256 of everything written so far, as 64 lowercase hex digits."""
        return self._hash.hexdigest()

    def ends_with_bare_end_record(self) -> bool:
        """Whether what was written ends with a zip end record without a comment."""
        return self._tail.startswith(_END_SIGNATURE) and self._tail.endswith(_NO_COMMENT)


def seal(file: IO[bytes], writer: DigestWriter) -> None:
    """Append the record to ``file`` that ``writer`` filled with ``torch.save``'s bytes, and set
    the zip comment length to cover it (module doc). ``file`` must be seekable."""
    if not writer.ends_with_bare_end_record():
        raise ValueError(
            "torch.save did not end the file with a zip end record without a comment; "
            "cannot add a digest (is torch.save using its legacy format?)"
        )
    record = RECORD_PREFIX + writer.hexdigest().encode("ascii")
    file.seek(writer.size - len(_NO_COMMENT))
    file.write(struct.pack("<H", len(record)) + record)


def verify(file: io.BufferedIOBase, size: int) -> Verdict:
    """Check the digest of the open checkpoint ``file`` of ``size`` bytes (module doc): the
    verdict, or :class:`DamagedCheckpoint` saying what is wrong. Leaves ``file`` at offset 0."""
    head = file.read(len(_ZIP_SIGNATURE))
    tail_start = max(0, size - RECORD_LENGTH - END_RECORD_LENGTH)
    file.seek(tail_start)
    tail = file.read()
    file.seek(0)
    if len(head) + len(tail) == 0:
        return Verdict.UNSEALED
    if tail[-END_RECORD_LENGTH:-18] == _END_SIGNATURE and tail.endswith(_NO_COMMENT):
        return Verdict.UNSEALED  # as torch.save ends a file: no digest
    looks_sealed = RECORD_PREFIX[:9] in tail
    if head != _ZIP_SIGNATURE and not looks_sealed:
        return Verdict.UNSEALED  # not a zip archive: torch's legacy format, or not torch's
    record, end = tail[-RECORD_LENGTH:], tail[-RECORD_LENGTH - END_RECORD_LENGTH : -RECORD_LENGTH]
    if not _RECORD.fullmatch(record):
        if _ends_early(tail):
            raise DamagedCheckpoint("its end is missing", truncated=True)
        raise DamagedCheckpoint(
            "it does not end with an intact digest record (a zip archive written by "
            "save_checkpoint ends with one; this one is truncated, or its end was overwritten)"
        )
    if not end.startswith(_END_SIGNATURE) or end[-2:] != struct.pack("<H", RECORD_LENGTH):
        raise DamagedCheckpoint("its zip end record before the digest record is damaged")
    digest = hashlib.sha256()
    remaining = size - RECORD_LENGTH - len(_NO_COMMENT)
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    while remaining > 0:
        got = file.readinto(view[: min(_CHUNK, remaining)])
        if not got:
            raise DamagedCheckpoint(f"it became shorter while being read ({size} bytes expected)")
        digest.update(view[:got])
        remaining -= got
    digest.update(_NO_COMMENT)
    file.seek(0)
    stored = record[len(RECORD_PREFIX) :].decode("ascii")
    computed = digest.hexdigest()
    if not hmac.compare_digest(stored, computed):
        raise DamagedCheckpoint(
            f"its contents do not match its SHA-256 digest (stored {stored[:16]}..., "
            f"computed {computed[:16]}...): bytes were changed after it was written"
        )
    return Verdict.SEALED
