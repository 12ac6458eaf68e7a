"""A small state file rewritten in place: one fixed-size record at offset 0.

The file is created while there is room and afterwards only overwritten: a full disk refuses
new files and growth, not a rewrite of blocks a file already holds, so a bot whose journal
failed on a full disk can still leave its successor what it must know
(:mod:`mmtrio.runtime.venue_block`, :mod:`mmtrio.runtime.rate_usage`). No fsync: these
records describe waits that are mostly over by the time a machine is back from a power cut.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from mmtrio import determinism


def rewrite(path: Path, body: bytes, size: int) -> None:
    """Write ``body`` padded with spaces to ``size`` bytes at the start of ``path`` (0600,
    created if missing), cutting the tail an older, longer record left.

    A missing file is written whole under a private name and renamed into place, so a reader
    (or a successor after a kill) never finds it empty: an empty record reads as damaged and
    costs the next start a precautionary one-minute wait."""
    # A simulated kill -9 (the DST) writes nothing more: the abandoned process's shielded
    # stop once left its cancel-all loop's reservations in rate_usage.json, ~350 weight a
    # kill on Hyperliquid that its successor counted against a minute no venue had seen.
    determinism.check_fenced(str(path))
    record = body.ljust(size)
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        _create(path, record)
        return
    try:
        os.pwrite(fd, record, 0)
        if os.fstat(fd).st_size > len(record):
            os.ftruncate(fd, len(record))
    finally:
        os.close(fd)


def _create(path: Path, record: bytes) -> None:
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if os.write(fd, record) != len(record):  # a regular file: short only when full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(staging))
    finally:
        os.close(fd)
    try:
        os.replace(staging, path)  # one writer per state directory (the control-socket claim)
    except OSError:
        with contextlib.suppress(OSError):
            staging.unlink()
        raise
