"""The durable journal: one SQLite file per bot, opened once, written by one writer.

Opening (:meth:`Journal.open`) does, in this order:

1. take an exclusive ``fcntl.flock`` on ``<state_dir>/lock`` (held until :meth:`close`, i.e.
   the process lifetime): a second bot on the same state directory refuses to start with a
   :class:`JournalError` naming the holder's pid;
2. check integrity: the file header, page alignment (a truncated copy), the WAL header, then
   ``PRAGMA quick_check``. A damaged journal is never silently replaced by an empty one: the
   error says how to move it aside (``mv … …damaged-<ts>``), after which mmtrio starts a new
   journal and the startup reconciliation rebuilds orders, fills and position from the venue;
3. apply the schema migrations (``journal_schema``).

Durability: WAL mode with ``synchronous=FULL``. In WAL mode ``NORMAL`` survives a process
crash but can lose the last commits on power loss — a Raspberry Pi on a wall plug loses power;
a lost fill is a wrong position. ``FULL`` costs one fsync per *commit*, and the writer commits
batches, so the cost is per batch, not per record (benchmarks/journal.py measures both).

Every method here blocks (disk I/O): call them from a worker thread
(``trio.to_thread.run_sync``), which is what :class:`~mmtrio.runtime.journal_writer.
JournalWriter` does. The connection is made with ``check_same_thread=False`` because the
worker pool may run successive calls on different threads; that is safe because exactly one
caller (the single writer task, or startup code before it runs) uses it at a time.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from mmtrio import determinism
from mmtrio.errors import JournalError, ParameterError
from mmtrio.runtime.journal_file import LOCK_NAME, _connect, _StateLock, check_file
from mmtrio.runtime.journal_read import JournalReader, OpenOrder, RecoveryState
from mmtrio.runtime.journal_retention import JournalPruning, Retention
from mmtrio.runtime.journal_schema import (
    META_EPOCH,
    EncodedRecord,
    Record,
    encode_record,
)
from mmtrio.runtime.state_files import secure_state_dir

JOURNAL_NAME = "journal.sqlite3"
_SELECT_EPOCH = "SELECT value FROM meta WHERE key = ?"
# One statement per run of rows: the batch travels as one JSON array of
# [kind, local_ts_ms, exchange_ts_ms, payload text] rows (journal_schema.EncodedRecord.row).
_INSERT_ROWS = (
    "INSERT INTO records(kind, session, local_ts_ms, exchange_ts_ms, payload) "
    "SELECT json_extract(value, '$[0]'), ?, json_extract(value, '$[1]'), "
    "json_extract(value, '$[2]'), json_extract(value, '$[3]') FROM json_each(?) ORDER BY key"
)


class Journal(JournalPruning, JournalReader):
    """The journal database of one bot. Blocking; use from one thread at a time."""

    def __init__(self, path: Path, conn: sqlite3.Connection, lock: _StateLock | None) -> None:
        self.path = path
        self._conn = conn
        self._lock = lock
        self.session = 0  # set by next_epoch(): the epoch doubles as the session id
        self._synchronous = "FULL"
        self.session_start_seq = self._max_seq() + 1

    @classmethod
    def open(cls, state_dir: Path | str, *, synchronous: str = "FULL") -> Journal:
        """Lock ``state_dir``, check and migrate ``<state_dir>/journal.sqlite3``."""
        if synchronous not in {"FULL", "NORMAL"}:
            raise ParameterError(f"synchronous must be FULL or NORMAL, got {synchronous!r}")
        state_dir = Path(state_dir)
        try:
            secure_state_dir(state_dir)  # 0700 when created here; a WARNING when too open
        except OSError as exc:
            raise JournalError(f"cannot create state directory {state_dir}: {exc}") from exc
        lock = _StateLock(state_dir)
        path = state_dir / JOURNAL_NAME
        try:
            conn = _connect(path, synchronous)
        except BaseException:
            lock.release()
            raise
        journal = cls(path, conn, lock)
        journal._synchronous = synchronous
        det = determinism.current()
        if det is not None:  # a simulated kill -9 closes its files as the kernel would
            det.on_fence.append(journal.close)
        return journal

    def set_aside(self, tag: str) -> Path:
        """Move this journal to ``journal-<tag>.sqlite3`` beside it and start an empty one, the
        state-directory lock held throughout; returns where the old one went.

        For a journal whose venue no longer exists (a paper venue lives as long as its
        process): its positions, trade ids and limits describe an account that is gone. A
        journal already kept under that name (two paper restarts in one second) is never
        replaced: this one goes to ``journal-<tag>-2.sqlite3`` (``-3``, …)."""
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._conn.close()
        dest = self.path.with_name(f"journal-{tag}.sqlite3")
        n = 1
        while dest.exists():
            n += 1
            dest = self.path.with_name(f"journal-{tag}-{n}.sqlite3")
        os.replace(self.path, dest)
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                os.replace(side, dest.with_name(dest.name + suffix))
        self._conn = _connect(self.path, self._synchronous)
        self.session_start_seq = self._max_seq() + 1
        return dest

    def close(self) -> None:
        """Close the database and release the state-directory lock."""
        self._conn.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # --- epoch --------------------------------------------------------------------------
    def next_epoch(self) -> int:
        """Atomically increment and return the client-id epoch; it becomes this session's id.

        Committed with ``synchronous=FULL`` before any order can use it, so even after
        ``kill -9`` or a power cut the next process gets a larger epoch and client ids
        (epoch-prefixed by ``ClientIdGenerator``) never repeat.
        """
        conn = self._conn
        with self._transaction("record the next client-id epoch"):
            conn.execute(
                "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = ?", (META_EPOCH,)
            )
            (value,) = conn.execute(
                "SELECT value FROM meta WHERE key = ?", (META_EPOCH,)
            ).fetchone()
        self.session = int(value)
        self.session_start_seq = self._max_seq() + 1
        return self.session

    # --- writing ------------------------------------------------------------------------
    def write_batch(self, records: Sequence[Record]) -> list[int]:
        """Encode ``records`` and append them in one transaction (see :meth:`write_rows`)."""
        return self.write_rows([encode_record(r) for r in records])

    def write_rows(self, rows: Sequence[EncodedRecord]) -> list[int]:
        """Append pre-encoded ``rows`` in one transaction; returns their ``seq`` numbers.

        A ``fill`` whose (symbol, trade id) is already journaled is skipped (seq ``-1``): the
        fills table's UNIQUE constraint makes the duplicate a no-op. A successful
        ``reconcile`` marks every earlier fill reconciled.

        Each run of ordinary rows is one ``INSERT … SELECT … FROM json_each(?)`` statement:
        SQLite parses and inserts the whole run with the GIL released, so this thread holds
        the GIL for a few Python calls per batch instead of a bind-and-step per record.
        """
        seqs: list[int] = []
        n = len(rows)
        with self._transaction(f"write {n} record(s)"):
            i = 0
            while i < n:
                row = rows[i]
                if row.fill_key is not None or row.marks_reconciled:
                    seqs.append(self._insert_special(row))
                    i += 1
                    continue
                end = i + 1
                while end < n and rows[end].fill_key is None and not rows[end].marks_reconciled:
                    end += 1
                seqs.extend(self._insert_run(rows[i:end]))
                i = end
        return seqs

    @contextmanager
    def _transaction(self, what: str) -> Iterator[None]:
        """One ``BEGIN IMMEDIATE`` … ``COMMIT``; a SQLite failure becomes a JournalError
        naming ``what`` could not be done and the likely cause (a full disk, permissions)."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                if determinism.disk_full():  # the simulation's full disk (journal_full)
                    raise sqlite3.OperationalError("database or disk is full")
                conn.execute("COMMIT")
            except BaseException:
                # SQLite has already rolled back on some errors (SQLITE_FULL: a full disk); a
                # second ROLLBACK would then fail and hide the real cause behind "no
                # transaction is active".
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise JournalError(
                f"journal {self.path}: cannot {what}: {exc}; check free disk space and permissions"
            ) from exc

    def _insert_run(self, rows: Sequence[EncodedRecord]) -> range:
        cur = self._conn.execute(
            _INSERT_ROWS, (self.session, "[" + ",".join(r.row for r in rows) + "]")
        )
        last = int(cur.lastrowid or 0)
        if cur.rowcount != len(rows) or last < len(rows):
            raise JournalError(
                f"journal {self.path}: inserted {cur.rowcount} of {len(rows)} rows "
                f"(last seq {last}); the journal file may be damaged, check it with sqlite3"
            )
        # AUTOINCREMENT inside our BEGIN IMMEDIATE transaction (no other writer): the run got
        # consecutive seqs ending at the last inserted one.
        return range(last - len(rows) + 1, last + 1)

    def _insert_special(self, row: EncodedRecord) -> int:
        conn = self._conn
        if row.fill_key is not None:
            exists = conn.execute(
                "SELECT 1 FROM fills WHERE symbol = ? AND trade_id = ?", row.fill_key
            ).fetchone()
            if exists:
                return -1
        (seq,) = self._insert_run((row,))
        if row.fill_key is not None:
            conn.execute(
                "INSERT INTO fills(symbol, trade_id, seq, session, ts_ms) VALUES (?, ?, ?, ?, ?)",
                (*row.fill_key, seq, self.session, row.local_ts_ms),
            )
        if row.marks_reconciled:
            conn.execute("UPDATE fills SET reconciled = 1 WHERE reconciled = 0 AND seq < ?", (seq,))
        return seq


__all__ = [
    "JOURNAL_NAME",
    "LOCK_NAME",
    "Journal",
    "OpenOrder",
    "RecoveryState",
    "Retention",
    "check_file",
]
