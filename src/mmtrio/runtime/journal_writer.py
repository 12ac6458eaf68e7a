"""The journal writer: a Trio task that batches records and commits them in a worker thread.

The trading loop never waits for the disk on its ordinary path:

- :meth:`JournalWriter.append` never blocks and never awaits. It puts the record on a
  bounded memory channel. When the channel is full (the disk is slower than the record rate):
  * ``mid_sample`` records are dropped and counted; the writer journals a ``journal_gap``
    record with the count once it catches up (a sample is rebuilt by the next one);
  * every other kind (fills, orders, state changes…) is never dropped: it spills into an
    ordered overflow queue, bounded by ``overflow_limit``. Beyond that limit the disk has
    stalled for tens of thousands of records: ``append`` raises :class:`JournalError` so the
    engine stops safely rather than trade on with facts it cannot record.
  The backpressure on order records is applied to *decisions*, not to the loop: ``lagging``
  turns true while the overflow is in use, and the engine should stop opening new quotes
  until it clears; ``write_durable`` makes its caller wait for the disk.
- :meth:`append` returns the record's position in the journal's order; :meth:`committed_through`
  waits until the record at that position is committed (fsynced), without adding anything to
  the queue: the writer commits continuously, so a fill appended a few ms before the decision
  that depends on it is usually committed already and the wait costs nothing. The trading
  loop uses it for fills (:class:`~mmtrio.runtime.journal_recorder.JournalRecorder`).
- :meth:`write_durable` returns once the given records are committed: recovery's checkpoints
  use it. It enqueues through the same path, so the journal keeps the call order of every
  record.
- On cancellation, :meth:`run` writes what is still queued (shielded, bounded by the channel
  capacity plus the overflow limit) before it returns, so a clean shutdown loses nothing;
  :meth:`flush` waits for everything appended so far.

Commits run via ``trio.to_thread.run_sync`` on the journal's connection, one at a time (this
task is the only user of the connection while it runs). Retention pruning runs in the same
thread between batches, one small batch of deletions per step.

Event-loop stalls (the commit thread and the GIL). Before, the commit thread JSON-encoded and
bound every record in Python (GIL held per record). Now :meth:`append` encodes each record to
its final row text on the loop (``journal_schema.encode_record``: 3.2 µs for a mid sample,
6.9 µs for a fill, i.e. ~1.6 % of the loop at 5,000 records/s), and the thread hands
SQLite one ``INSERT … SELECT … FROM json_each(?)`` per run of rows (``Journal.write_rows``), so
it holds the GIL for a few calls per batch however big the batch. Measured (2-core x86 host
shared with other jobs, load average 4-6, so every figure carries several ms of scheduler
noise):

- GIL interference in isolation (/tmp script: a main thread sleeping 0.5 ms in a loop while a
  thread commits with ``synchronous=OFF``): 1,024-row batches, p99 wake-up delay 10.4 → 5.2 ms
  and 25 → 66 batches/s; 16-row batches unchanged (8.5 / 8.4 ms p99), i.e. at small batches
  the delay is not the per-record Python work but the host's scheduling (an idle thread gives
  worst 8.7 ms on the same host).
- ``benchmarks/journal.py`` (5,000 records/s, 10 s, 4 interleaved runs each, median / worst of
  the runs' worst stall; p99 median): before 35.1 / 69.4 ms (p99 7.4 ms); after 17.9 / 38.4 ms
  (p99 6.5 ms). Batches average ~14 records there (an fsync every ~2.5 ms), so the bulk insert
  matters most after a disk hiccup, when the batch reaches ``max_batch``.
- ``--control`` (the same probe with nothing journaled) alone shows worst stalls of 7-36 ms
  (p99 3-7 ms) on this host at load 5-7: the < 5 ms worst-stall target cannot be demonstrated
  here; judge the journal by ``stall`` against ``stall_control``, or on a quiet machine.

Decisions: ``max_batch`` stays 1024 (the thread's GIL time no longer grows with the batch; a
smaller cap only adds fsyncs during catch-up). ``sys.setswitchinterval(0.0005)`` is *not* set
here: the runs with it were inside the noise (before 35.1 → 12.6 ms median worst, after
17.9 → 16.3 ms), it is a process-wide knob that taxes every thread, and a library class must
not change it behind the application's back; if wanted, the entry point sets it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import trio

from mmtrio import determinism
from mmtrio.errors import JournalError, ParameterError
from mmtrio.runtime.journal import Journal
from mmtrio.runtime.journal_retention import Retention
from mmtrio.runtime.journal_schema import (
    DROPPABLE_KINDS,
    EncodedRecord,
    Kind,
    Record,
    encode_record,
)


@dataclass(slots=True)
class _Barrier:
    done: trio.Event
    error: BaseException | None = None


_Item = EncodedRecord | _Barrier


def wall_ms() -> int:
    """Wall-clock milliseconds since the epoch (journal timestamps, retention ages)."""
    return determinism.wall_ms()


class JournalWriter:
    """Feeds one :class:`Journal` from Trio code without blocking the event loop."""

    def __init__(
        self,
        journal: Journal,
        *,
        capacity: int = 4096,
        overflow_limit: int = 100_000,
        max_batch: int = 1024,
        retention: Retention | None = None,
        prune_interval_s: float = 30.0,
        now_ms: Callable[[], int] = wall_ms,
    ) -> None:
        for name, val in (
            ("capacity", capacity),
            ("overflow_limit", overflow_limit),
            ("max_batch", max_batch),
        ):
            if isinstance(val, bool) or not isinstance(val, int) or val < 1:
                raise ParameterError(f"journal writer {name} must be a positive int, got {val!r}")
        if not math.isfinite(prune_interval_s) or prune_interval_s <= 0:
            raise ParameterError(f"prune_interval_s must be > 0, got {prune_interval_s!r}")
        self.journal = journal
        self._send, self._recv = trio.open_memory_channel[_Item](capacity)
        self._overflow: deque[_Item] = deque()
        self.overflow_limit = overflow_limit
        self.max_batch = max_batch
        self.retention = retention
        self.prune_interval_s = prune_interval_s
        self._now_ms = now_ms
        self._failed: BaseException | None = None
        # Counters, for status and metrics.
        self.written = 0
        self.batches = 0
        self.dropped = 0
        self.pruned = 0
        self.max_overflow = 0
        self._dropped_reported = 0
        # Positions: records queued (not dropped) and records committed, both in call order.
        self.queued = 0
        self.committed = 0
        self._progress = trio.Event()  # set (and replaced) after every commit or failure

    # --- producer side (any task; never blocks) ------------------------------------------
    @property
    def lagging(self) -> bool:
        """True while records spill past the channel: stop opening quotes until it clears."""
        return bool(self._overflow)

    @property
    def backlog(self) -> int:
        """Records and barriers waiting to be written."""
        return len(self._overflow) + self._send.statistics().current_buffer_used

    def append(self, record: Record) -> int:
        """Queue ``record`` for the next batch; never blocks (see the module docstring).

        Returns its position for :meth:`committed_through` (a dropped mid sample returns the
        position of the record before it). The record is encoded here, on the caller's side,
        to its final text (a few µs): a record that cannot be journaled raises
        :class:`JournalError` now, naming it, and the commit thread never runs Python per
        record.
        """
        self._check_alive()
        row = encode_record(record)
        if self._overflow:
            # Keep call order: once spilling, everything goes behind the spill.
            self._spill(row)
        else:
            try:
                self._send.send_nowait(row)
                self.queued += 1
            except trio.WouldBlock:
                self._spill(row)
        return self.queued

    async def committed_through(self, position: int) -> None:
        """Return once the record at ``position`` (from :meth:`append`) is committed.

        Returns at once, without a checkpoint, when it already is; raises
        :class:`JournalError` if the writer failed before committing it.
        """
        while self.committed < position:
            self._check_alive()
            await self._progress.wait()

    def _spill(self, item: _Item) -> None:
        if isinstance(item, EncodedRecord) and item.kind in DROPPABLE_KINDS:
            self.dropped += 1
            return
        if isinstance(item, EncodedRecord):
            self.queued += 1
        if len(self._overflow) >= self.overflow_limit:
            raise JournalError(
                f"the journal is {len(self._overflow)} records behind (disk too slow or stalled);"
                " refusing to trade on without recording: stop and check the disk"
            )
        self._overflow.append(item)
        self.max_overflow = max(self.max_overflow, len(self._overflow))

    def _enqueue_barrier(self) -> _Barrier:
        barrier = _Barrier(trio.Event())
        if self._overflow:
            self._overflow.append(barrier)  # barriers are tiny; never refused
        else:
            try:
                self._send.send_nowait(barrier)
            except trio.WouldBlock:
                self._overflow.append(barrier)
        return barrier

    async def write_durable(self, records: Sequence[Record]) -> None:
        """Append ``records`` and return once they (and all earlier records) are committed."""
        for record in records:
            self.append(record)
        await self.flush()

    async def flush(self) -> None:
        """Wait until every record appended so far is committed; raises if the writer failed."""
        self._check_alive()
        barrier = self._enqueue_barrier()
        await barrier.done.wait()
        if barrier.error is not None:
            raise JournalError(f"journal write failed: {barrier.error}") from barrier.error

    def _check_alive(self) -> None:
        if self._failed is not None:
            raise JournalError(f"the journal writer has stopped: {self._failed}")

    # --- the writer task --------------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Write batches until cancelled, then write what is queued and return."""
        task_status.started()
        next_prune = trio.current_time()
        try:
            while True:
                timeout = max(0.0, next_prune - trio.current_time()) if self.retention else math.inf
                batch = await self._receive_batch(timeout)
                await self._commit(batch)
                if self.retention is not None and trio.current_time() >= next_prune:
                    deleted = await self._prune_step(self.retention)
                    # A full batch means more is due: come back right after the next records.
                    full = deleted >= self.retention.batch_rows
                    next_prune = trio.current_time() + (0.0 if full else self.prune_interval_s)
        except trio.Cancelled:
            with trio.CancelScope(shield=True):
                await self._commit(self._drain())
            raise
        except BaseException as exc:
            self._failed = exc
            for item in self._drain():
                if isinstance(item, _Barrier):
                    item.error = exc
                    item.done.set()
            self._progressed()
            raise

    async def _receive_batch(self, wait_s: float) -> list[_Item]:
        batch: list[_Item] = []
        with trio.move_on_after(wait_s):
            batch.append(await self._recv.receive())
        if batch:
            batch.extend(self._take(self.max_batch - 1))
        return batch

    def _take(self, limit: int) -> list[_Item]:
        items: list[_Item] = []
        while len(items) < limit:
            try:
                items.append(self._recv.receive_nowait())
            except trio.WouldBlock:
                break
        if len(items) < limit:
            # The channel is empty: the spill is next in call order.
            while self._overflow and len(items) < limit:
                items.append(self._overflow.popleft())
        return items

    def _drain(self) -> list[_Item]:
        items: list[_Item] = []
        while chunk := self._take(1 << 30):
            items.extend(chunk)
        return items

    def _progressed(self) -> None:
        done, self._progress = self._progress, trio.Event()
        done.set()

    async def _commit(self, batch: list[_Item]) -> None:
        records = [i for i in batch if isinstance(i, EncodedRecord)]
        queued = len(records)  # the gap record below is the writer's own, not a position
        if self.dropped > self._dropped_reported:
            gap = {"dropped": self.dropped - self._dropped_reported}
            records.append(encode_record(Record(Kind.JOURNAL_GAP, self._now_ms(), gap)))
            self._dropped_reported = self.dropped
        if records:
            # Shielded: once a batch is handed to SQLite, its barriers learn the true outcome.
            with trio.CancelScope(shield=True):
                try:
                    await determinism.run_sync(self.journal.write_rows, records)
                except BaseException as exc:
                    self._failed = exc
                    for item in batch:
                        if isinstance(item, _Barrier):
                            item.error = exc
                            item.done.set()
                    self._progressed()
                    raise
            self.written += len(records)
            self.batches += 1
            self.committed += queued
            self._progressed()
        for item in batch:
            if isinstance(item, _Barrier):
                item.done.set()

    async def _prune_step(self, retention: Retention) -> int:
        now = self._now_ms()
        deleted = await determinism.run_sync(self.journal.prune_step, retention, now)
        self.pruned += deleted
        return deleted
