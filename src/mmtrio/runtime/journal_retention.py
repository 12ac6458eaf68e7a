"""Journal retention: how much history to keep, and pruning it in small batches.

:class:`Retention` is the bound (age, size); :class:`JournalPruning` is the layer of
:class:`~mmtrio.runtime.journal.Journal` that deletes what is past it, never the current session
nor anything at or after the oldest unreconciled fill (:mod:`.journal_writer` runs the steps).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from mmtrio.errors import JournalError, ParameterError


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


class JournalPruning:
    """The retention layer of :class:`~mmtrio.runtime.journal.Journal`."""

    path: Path
    _conn: sqlite3.Connection
    session_start_seq: int

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
