"""Opening a journal file: the checks before SQLite reads it, the connection, the lock.

:func:`check_file` and :func:`_connect` refuse a damaged journal with how to move it aside (a
disk or permission failure is named as such, not as damage); :class:`_StateLock` keeps a second
bot off the state directory. :meth:`~mmtrio.runtime.journal.Journal.open` uses them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from pathlib import Path

from mmtrio import determinism
from mmtrio.errors import JournalError, StateDirInUseError
from mmtrio.runtime.journal_schema import migrate
from mmtrio.runtime.state_files import FILE_MODE, create_private

LOCK_NAME = "lock"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_WAL_MAGICS = (0x377F0682, 0x377F0683)


def _damaged(path: Path, detail: str) -> JournalError:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    return JournalError(
        f"journal {path} is damaged: {detail}. mmtrio will not start over a damaged journal. "
        f"To recover: stop every mmtrio using {path.parent}, keep a copy for forensics, then "
        f"move the damaged files aside: mv {path} {path}.damaged-{stamp} (and the same for "
        f"{path.name}-wal / {path.name}-shm if present). mmtrio then starts a new journal and "
        "reconciles open orders, fills and position with the venue at startup."
    )


# SQLite's answers that say the disk or the permissions refused, not that the file is bad
_ENVIRONMENT_ERRORS = ("SQLITE_IOERR", "SQLITE_FULL", "SQLITE_CANTOPEN", "SQLITE_READONLY",
                       "SQLITE_PERM", "SQLITE_BUSY", "SQLITE_LOCKED")  # fmt: skip


def _open_failed(path: Path, exc: sqlite3.DatabaseError) -> JournalError:
    """Why opening the journal failed: a refused disk write is not a damaged file (a full
    disk at start was once reported as "damaged", with instructions to move the file)."""
    name = str(getattr(exc, "sqlite_errorname", ""))
    if name.startswith(_ENVIRONMENT_ERRORS):
        return JournalError(
            f"journal {path}: cannot open: SQLite says {exc} ({name}); check free disk space "
            f"and permissions of {path.parent}. Nothing says the file itself is bad; mmtrio "
            "starts once it can write there."
        )
    return _damaged(path, f"SQLite says {exc}")


def check_file(path: Path) -> None:
    """Header, size and WAL sanity of a journal file (before SQLite touches it).

    A truncated copy shows as a size that is not a whole number of pages; a file overwritten
    by something else as a bad header. An empty or missing file is fine (a new journal).
    """
    if not path.exists():
        return
    size = path.stat().st_size
    if size == 0:
        return
    with path.open("rb") as f:
        header = f.read(100)
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        raise _damaged(path, "the file does not start with a SQLite header")
    page = int.from_bytes(header[16:18], "big")
    page = 65536 if page == 1 else page
    if page < 512 or page & (page - 1):
        raise _damaged(path, f"the header's page size {page} is invalid")
    if size % page:
        raise _damaged(path, f"its size {size} is not a whole number of {page}-byte pages")
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size >= 32:
        with wal.open("rb") as f:
            magic = int.from_bytes(f.read(4), "big")
        if magic not in _WAL_MAGICS:
            raise _damaged(path, f"its write-ahead log {wal.name} has an invalid header")


def _connect(path: Path, synchronous: str) -> sqlite3.Connection:
    """Open (or create) the journal database at ``path``: WAL, checked, migrated."""
    check_file(path)
    # 0600 (SQLite gives -wal and -shm the same mode); if it cannot be created, SQLite's
    # own attempt below reports why
    with contextlib.suppress(OSError):
        create_private(path)
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.DatabaseError as exc:
        raise _open_failed(path, exc) from exc
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise JournalError(f"journal {path}: cannot enable WAL mode (got {mode})")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        result = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
        if result != ["ok"]:
            raise _damaged(path, "PRAGMA quick_check: " + "; ".join(result[:3]))
        migrate(conn)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise _open_failed(path, exc) from exc
    except BaseException:
        conn.close()
        raise
    return conn


class _StateLock:
    """``fcntl.flock`` on ``<state_dir>/lock``; the file holds the owner's pid."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_NAME
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StateDirInUseError(
                f"state directory {state_dir} is in use by another mmtrio (pid {holder}, lock "
                f"{self.path}); stop that bot first, or give this one its own state_dir"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{determinism.pid()}\n".encode(), 0)
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None
