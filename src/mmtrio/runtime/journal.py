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

import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmtrio.errors import JournalError, ParameterError, StateDirInUseError
from mmtrio.runtime.journal_schema import (
    META_EPOCH,
    EncodedRecord,
    Kind,
    Record,
    encode_record,
    migrate,
)

JOURNAL_NAME = "journal.sqlite3"
LOCK_NAME = "lock"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_WAL_MAGICS = (0x377F0682, 0x377F0683)
_SELECT_EPOCH = "SELECT value FROM meta WHERE key = ?"
# One statement per run of rows: the batch travels as one JSON array of
# [kind, local_ts_ms, exchange_ts_ms, payload text] rows (journal_schema.EncodedRecord.row).
_INSERT_ROWS = (
    "INSERT INTO records(kind, session, local_ts_ms, exchange_ts_ms, payload) "
    "SELECT json_extract(value, '$[0]'), ?, json_extract(value, '$[1]'), "
    "json_extract(value, '$[2]'), json_extract(value, '$[3]') FROM json_each(?) ORDER BY key"
)
_TERMINAL_STATUSES = frozenset({"FILLED", "CANCELED", "EXPIRED", "EXPIRED_IN_MATCH", "REJECTED"})


@dataclass(frozen=True, slots=True)
class Retention:
    """How much history to keep: by age and by size (``None`` disables that bound).

    Pruning deletes the oldest records in batches of ``batch_rows`` and never touches the
    current session or anything at/after the oldest unreconciled fill.
    """

    max_age_days: float | None = 30.0
    max_size_mb: float | None = 2048.0
    batch_rows: int = 500

    def __post_init__(self) -> None:
        for name in ("max_age_days", "max_size_mb"):
            val = getattr(self, name)
            if val is not None and not (isinstance(val, int | float) and val > 0):
                raise ParameterError(f"journal retention {name} must be > 0 or None, got {val!r}")
        if isinstance(self.batch_rows, bool) or self.batch_rows < 1:
            raise ParameterError(
                f"journal retention batch_rows must be >= 1, got {self.batch_rows}"
            )


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """An order we placed whose terminal state the journal never saw."""

    client_id: str
    symbol: str
    side: str | None
    price: int | None
    qty: int | None
    seq: int


@dataclass(frozen=True, slots=True)
class RecoveryState:
    """What the journal knows at startup, for the engine to seed its state before reconciling."""

    epoch: int  # the highest epoch handed out so far (the previous process's, before next_epoch)
    known_trade_ids: dict[str, frozenset[int]]  # per symbol, the last ``max_trade_ids``
    last_trade_id: dict[str, int]  # per symbol: the highest journaled venue trade id
    open_orders: tuple[OpenOrder, ...]
    positions: dict[str, tuple[int, str, int]]  # symbol -> (lots, entry price, local ts ms)
    unreconciled_fills: int
    last_session_clean: bool | None  # None: no previous session; False: it never wrote `stop`
    last_start: dict[str, Any] | None = None  # the previous session's `start` record payload


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
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
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
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


class Journal:
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
            state_dir.mkdir(parents=True, exist_ok=True)
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
        return journal

    def set_aside(self, tag: str) -> Path:
        """Move this journal to ``journal-<tag>.sqlite3`` beside it and start an empty one, the
        state-directory lock held throughout; returns where the old one went.

        For a journal whose venue no longer exists (a paper venue lives as long as its
        process): its positions, trade ids and limits describe an account that is gone."""
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._conn.close()
        dest = self.path.with_name(f"journal-{tag}.sqlite3")
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

    def epoch(self) -> int:
        """The highest epoch handed out so far."""
        (value,) = self._conn.execute(
            "SELECT value FROM meta WHERE key = ?", (META_EPOCH,)
        ).fetchone()
        return int(value)

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

    # --- reading ------------------------------------------------------------------------
    def _max_seq(self) -> int:
        return int(self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM records").fetchone()[0])

    def fills_since(self, symbol: str, trade_id: int) -> list[int]:
        """Journaled trade ids of ``symbol`` greater than ``trade_id``, ascending."""
        rows = self._conn.execute(
            "SELECT trade_id FROM fills WHERE symbol = ? AND trade_id > ? ORDER BY trade_id",
            (symbol, trade_id),
        )
        return [int(r[0]) for r in rows]

    def load_recovery_state(
        self, max_trade_ids: int = 10_000, max_order_records: int = 200_000
    ) -> RecoveryState:
        """What the previous sessions left: epoch, trade ids, open orders, last position.

        Call before :meth:`next_epoch`. Open orders are the client ids placed (``order_sent``
        op=place) without a terminal ``order_update`` or a definite ``order_outcome``
        (rejected / not_found), looking back ``max_order_records`` order records — far more
        than any session leaves open; the startup reconciliation with the venue is the
        authority, this is its starting point.
        """
        conn = self._conn
        known: dict[str, set[int]] = {}
        for symbol, trade_id in conn.execute(
            "SELECT symbol, trade_id FROM fills ORDER BY seq DESC LIMIT ?", (max_trade_ids,)
        ):
            known.setdefault(symbol, set()).add(int(trade_id))
        last_ids = {
            str(s): int(t)
            for s, t in conn.execute("SELECT symbol, MAX(trade_id) FROM fills GROUP BY symbol")
        }
        open_orders: dict[str, OpenOrder] = {}
        rows = conn.execute(
            "SELECT seq, kind, payload FROM (SELECT seq, kind, payload FROM records "
            "WHERE kind IN (?, ?, ?) ORDER BY seq DESC LIMIT ?) ORDER BY seq",
            (Kind.ORDER_SENT, Kind.ORDER_OUTCOME, Kind.ORDER_UPDATE, max_order_records),
        )
        for seq, kind, text in rows:
            p = json.loads(text)
            cid = p.get("client_id")
            if kind == Kind.ORDER_SENT and p.get("op") == "place" and cid:
                open_orders[cid] = OpenOrder(
                    cid, p.get("symbol", ""), p.get("side"), p.get("price"), p.get("qty"), seq
                )
            elif (kind == Kind.ORDER_UPDATE and p.get("status") in _TERMINAL_STATUSES) or (
                kind == Kind.ORDER_OUTCOME
                and (
                    p.get("outcome") == "not_found"
                    or (p.get("outcome") == "rejected" and p.get("op") == "place")
                )
            ):
                open_orders.pop(cid, None)
        positions: dict[str, tuple[int, str, int]] = {}
        for text, ts in conn.execute(
            "SELECT payload, local_ts_ms FROM records WHERE kind = ? ORDER BY seq",
            (Kind.POSITION,),
        ):
            p = json.loads(text)
            positions[p["symbol"]] = (int(p["lots"]), str(p["entry_price"]), int(ts))
        (unreconciled,) = conn.execute("SELECT COUNT(*) FROM fills WHERE reconciled = 0").fetchone()
        last = conn.execute(
            "SELECT kind FROM records WHERE kind IN (?, ?) ORDER BY seq DESC LIMIT 1",
            (Kind.START, Kind.STOP),
        ).fetchone()
        start_row = conn.execute(
            "SELECT payload FROM records WHERE kind = ? ORDER BY seq DESC LIMIT 1", (Kind.START,)
        ).fetchone()
        return RecoveryState(
            last_start=None if start_row is None else json.loads(start_row[0]),
            epoch=self.epoch(),
            known_trade_ids={s: frozenset(ids) for s, ids in known.items()},
            last_trade_id=last_ids,
            open_orders=tuple(open_orders.values()),
            positions=positions,
            unreconciled_fills=int(unreconciled),
            last_session_clean=None if last is None else last[0] == Kind.STOP,
        )

    # --- retention ----------------------------------------------------------------------
    def used_bytes(self) -> int:
        """Bytes of the database in use (pages minus free pages)."""
        pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
        free = self._conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = self._conn.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    def prune_step(self, retention: Retention, now_ms: int) -> int:
        """Delete at most one batch of prunable records; returns how many were deleted.

        Prunable: before this session's first record, before the oldest unreconciled fill,
        and either older than ``max_age_days`` or (while the journal is above
        ``max_size_mb``) the oldest there is. Small batches keep each transaction short so
        the writer's next commit is never held up for long.
        """
        conn = self._conn
        limit = self.session_start_seq
        row = conn.execute("SELECT MIN(seq) FROM fills WHERE reconciled = 0").fetchone()
        if row[0] is not None:
            limit = min(limit, int(row[0]))
        cutoff_ts: int | None = None
        if retention.max_age_days is not None:
            cutoff_ts = now_ms - int(retention.max_age_days * 86_400_000)
        over_size = (
            retention.max_size_mb is not None
            and self.used_bytes() > retention.max_size_mb * 1024 * 1024
        )
        args: tuple[int, ...]
        if over_size:
            where, args = "seq < ?", (limit,)
        elif cutoff_ts is not None:
            where, args = "seq < ? AND local_ts_ms < ?", (limit, cutoff_ts)
        else:
            return 0
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                victims = [
                    int(r[0])
                    for r in conn.execute(
                        f"SELECT seq FROM records WHERE {where} ORDER BY seq LIMIT ?",
                        (*args, retention.batch_rows),
                    )
                ]
                if victims:
                    top = victims[-1]
                    conn.execute(f"DELETE FROM records WHERE seq <= ? AND {where}", (top, *args))
                    conn.execute("DELETE FROM fills WHERE seq <= ? AND reconciled = 1", (top,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            if victims:
                conn.execute(f"PRAGMA incremental_vacuum({retention.batch_rows})")
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self.path}: pruning failed: {exc}") from exc
        return len(victims)
