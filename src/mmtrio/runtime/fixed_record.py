"""A small state file rewritten in place: one fixed-size record at offset 0.

The file is created while there is room and afterwards only overwritten: a full disk refuses
new files and growth, not a rewrite of blocks a file already holds, so a bot whose journal
failed on a full disk can still leave its successor what it must know
(:mod:`mmtrio.runtime.venue_block`, :mod:`mmtrio.runtime.rate_usage`). No fsync: these
records describe waits that are mostly over by the time a machine is back from a power cut.
"""

from __future__ import annotations

import os
from pathlib import Path


def rewrite(path: Path, body: bytes, size: int) -> None:
    """Write ``body`` padded with spaces to ``size`` bytes at the start of ``path`` (0600,
    created if missing), cutting the tail an older, longer record left."""
    record = body.ljust(size)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.pwrite(fd, record, 0)
        if os.fstat(fd).st_size > len(record):
            os.ftruncate(fd, len(record))
    finally:
        os.close(fd)
