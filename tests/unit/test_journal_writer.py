"""JournalWriter (Trio task, worker-thread commits) and the disk-space guard."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import trio

from mmtrio.errors import JournalError, ParameterError
from mmtrio.reporting import journal_read
from mmtrio.runtime import journal_schema as js
from mmtrio.runtime.diskguard import DiskGuard, DiskLevel, DiskState, evaluate
from mmtrio.runtime.journal import JOURNAL_NAME, Journal, Retention
from mmtrio.runtime.journal_schema import Kind, Record
from mmtrio.runtime.journal_writer import JournalWriter

MB = 1024 * 1024


def _kinds(path: Path) -> list[tuple[str, int]]:
    conn = sqlite3.connect(path)
    try:
        return [
            (str(k), int(t))
            for k, t in conn.execute("SELECT kind, local_ts_ms FROM records ORDER BY seq")
        ]
    finally:
        conn.close()


def _lagging(w: JournalWriter) -> bool:
    return w.lagging  # a call, so mypy does not carry narrowing across appends


def _state(guard: DiskGuard) -> DiskState:
    return guard.state


def _mid(ts: int) -> Record:
    return Record(Kind.MID_SAMPLE, ts, {"symbol": "BTCUSDT", "bid": 1, "ask": 2})


async def test_append_and_write_durable(tmp_path: Path, autojump_clock: trio.abc.Clock) -> None:
    j = Journal.open(tmp_path)
    j.next_epoch()
    w = JournalWriter(j, now_ms=lambda: 0)
    async with trio.open_nursery() as nursery:
        await nursery.start(w.run)
        for i in range(5):
            w.append(_mid(i))
        await w.write_durable([Record(Kind.STATE_CHANGE, 10, {"state": "QUOTING", "reason": "x"})])
        # Committed on return: a separate connection sees every earlier record too.
        assert [t for _, t in _kinds(tmp_path / JOURNAL_NAME)] == [0, 1, 2, 3, 4, 10]
        nursery.cancel_scope.cancel()
    assert w.written == 6 and w.backlog == 0
    j.close()


async def test_full_channel_drops_samples_spills_the_rest_in_order(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    j = Journal.open(tmp_path)
    j.next_epoch()
    w = JournalWriter(j, capacity=2, overflow_limit=3, now_ms=lambda: 99)
    w.append(_mid(1))
    w.append(_mid(2))  # channel full now
    assert not w.lagging
    w.append(Record(Kind.ORDER_SENT, 3, {"op": "place", "client_id": "a"}))
    w.append(_mid(4))  # a sample while spilling: dropped
    w.append(Record(Kind.ORDER_OUTCOME, 5, {"outcome": "accepted", "client_id": "a"}))
    assert _lagging(w) and w.dropped == 1
    w.append(Record(Kind.ORDER_UPDATE, 6, {"client_id": "a", "status": "NEW"}))
    with pytest.raises(JournalError, match="behind"):
        w.append(Record(Kind.ORDER_UPDATE, 7, {"client_id": "a", "status": "FILLED"}))
    async with trio.open_nursery() as nursery:
        await nursery.start(w.run)
        await w.flush()
        assert not w.lagging
        w.append(_mid(8))
        await w.flush()
        nursery.cancel_scope.cancel()
    assert _kinds(tmp_path / JOURNAL_NAME) == [
        ("mid_sample", 1),
        ("mid_sample", 2),
        ("order_sent", 3),
        ("order_outcome", 5),
        ("order_update", 6),
        ("journal_gap", 99),
        ("mid_sample", 8),
    ]
    j.close()


async def test_cancellation_writes_what_is_queued(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    j = Journal.open(tmp_path)
    j.next_epoch()
    w = JournalWriter(j, capacity=8)
    async with trio.open_nursery() as nursery:
        await nursery.start(w.run)
        for i in range(30):  # more than the channel: some spill
            w.append(Record(Kind.ORDER_SENT, i, {"op": "cancel", "client_id": f"c{i}"}))
        nursery.cancel_scope.cancel()
    assert [t for _, t in _kinds(tmp_path / JOURNAL_NAME)] == list(range(30))
    j.close()


async def test_unjournalable_record_is_refused_at_append_and_the_writer_lives_on(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    j = Journal.open(tmp_path)
    j.next_epoch()
    w = JournalWriter(j)
    async with trio.open_nursery() as nursery:
        await nursery.start(w.run)
        with pytest.raises(JournalError, match="trade_id"):
            w.append(Record(Kind.FILL, 1, {"symbol": "BTCUSDT"}))  # no trade id: no dedupe key
        with pytest.raises(JournalError, match="cannot journal a mid_sample record"):
            w.append(Record(Kind.MID_SAMPLE, 2, {"bid": object()}))
        with pytest.raises(JournalError, match="local_ts_ms must be an int"):
            w.append(Record(Kind.MID_SAMPLE, 2.5, {}))  # type: ignore[arg-type]
        await w.write_durable([_mid(3)])
        nursery.cancel_scope.cancel()
    assert _kinds(tmp_path / JOURNAL_NAME) == [("mid_sample", 3)]
    j.close()


async def test_write_failure_reaches_durable_callers(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    j = Journal.open(tmp_path)
    j.next_epoch()
    w = JournalWriter(j)
    other = sqlite3.connect(tmp_path / JOURNAL_NAME)
    other.execute("DROP TABLE records")  # every insert now fails inside the commit thread
    other.close()
    with pytest.raises(BaseExceptionGroup) as info:
        async with trio.open_nursery() as nursery:
            await nursery.start(w.run)
            with pytest.raises(JournalError, match="journal write failed"):
                await w.write_durable([_mid(1)])
    assert info.group_contains(JournalError, match="no such table")
    with pytest.raises(JournalError, match="stopped"):
        w.append(_mid(2))
    j.close()


async def test_writer_prunes_between_batches(tmp_path: Path) -> None:
    # Real clock: autojump would jump past the deadline while a prune runs in its thread.
    j = Journal.open(tmp_path)
    j.next_epoch()
    j.write_batch([_mid(i) for i in range(50)])
    j.close()
    j = Journal.open(tmp_path)
    j.next_epoch()
    day = 86_400_000
    w = JournalWriter(
        j,
        retention=Retention(max_age_days=1, max_size_mb=None, batch_rows=10),
        prune_interval_s=5.0,
        now_ms=lambda: 5 * day,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(w.run)
        w.append(Record(Kind.START, 5 * day, {}))
        # Full batches chain without waiting for the 5 s interval; poll the thread's progress.
        with trio.fail_after(20):
            while w.pruned < 50:  # noqa: ASYNC110 - progress lives in a worker thread
                await trio.sleep(0.005)
        await w.flush()
        nursery.cancel_scope.cancel()
    assert w.pruned == 50
    assert _kinds(tmp_path / JOURNAL_NAME) == [("start", 5 * day)]
    j.close()


def test_writer_parameters_validated(tmp_path: Path) -> None:
    j = Journal.open(tmp_path)
    with pytest.raises(ParameterError, match="capacity"):
        JournalWriter(j, capacity=0)
    with pytest.raises(ParameterError, match="prune_interval_s"):
        JournalWriter(j, prune_interval_s=float("nan"))
    j.close()


def test_reporting_kind_names_match_the_schema() -> None:
    assert journal_read.KIND_START == Kind.START
    assert journal_read.KIND_FILL == Kind.FILL
    assert journal_read.KIND_MID == Kind.MID_SAMPLE
    assert journal_read.KIND_FUNDING == Kind.FUNDING
    assert journal_read.KIND_ORDER_SENT == Kind.ORDER_SENT
    assert journal_read.KIND_RECONCILE == Kind.RECONCILE
    assert js.fill.__name__ == "fill"


# --- disk guard --------------------------------------------------------------------------


def test_evaluate_levels() -> None:
    assert evaluate(2000 * MB, 1024, 256).level is DiskLevel.OK
    warn = evaluate(500 * MB, 1024, 256)
    assert warn.level is DiskLevel.WARN and not warn.halt_quoting
    halt = evaluate(100 * MB, 1024, 256)
    assert halt.halt_quoting and "disk_halt_free_mb" in halt.reason


async def test_guard_tracks_free_space_and_treats_errors_as_halt(tmp_path: Path) -> None:
    free = [2000 * MB]
    calls = []

    def probe(path: Path) -> int:
        calls.append(path)
        if free[0] < 0:
            raise OSError(5, "Input/output error")
        return free[0]

    guard = DiskGuard(tmp_path, 1024, 256, interval_s=3600, free_bytes=probe)
    assert guard.state.halt_quoting  # unknown until checked
    async with trio.open_nursery() as nursery:
        await nursery.start(guard.run)  # checks once before reporting started
        assert guard.state.level is DiskLevel.OK and calls == [tmp_path]
        nursery.cancel_scope.cancel()
    free[0] = 100 * MB
    assert (await guard.check()).halt_quoting and guard.state.halt_quoting
    free[0] = -1
    await guard.check()
    assert guard.state.halt_quoting and "Input/output error" in guard.state.reason
    free[0] = 600 * MB
    await guard.check()
    state = _state(guard)
    assert state.level is DiskLevel.WARN and not state.halt_quoting


def test_guard_thresholds_validated(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="warning has to come before"):
        DiskGuard(tmp_path, 100, 200)


async def test_real_disk_usage(tmp_path: Path) -> None:
    state = await DiskGuard(tmp_path, 2, 1).check()
    assert state.free_bytes is not None and state.free_bytes > 0


async def test_committed_through_waits_for_that_record_only_and_not_again(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    j = Journal.open(tmp_path)
    j.next_epoch()
    w = JournalWriter(j, capacity=2, now_ms=lambda: 0)
    first = w.append(Record(Kind.ORDER_SENT, 1, {"op": "place", "client_id": "a"}))
    w.append(_mid(2))
    dropped = w.append(_mid(3))  # channel full: a sample is dropped, keeps the last position
    assert (first, dropped, w.dropped) == (1, 2, 1)
    async with trio.open_nursery() as nursery:
        await nursery.start(w.run)
        await w.committed_through(first)
        assert w.committed >= first
        assert ("order_sent", 1) in _kinds(tmp_path / JOURNAL_NAME)
        batches = w.batches
        await w.committed_through(first)  # already committed: no new batch, no barrier
        assert w.batches == batches
        nursery.cancel_scope.cancel()
    j.close()


async def test_committed_through_raises_when_the_writer_failed(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    j = Journal.open(tmp_path)
    j.next_epoch()
    w = JournalWriter(j)
    other = sqlite3.connect(tmp_path / JOURNAL_NAME)
    other.execute("DROP TABLE records")
    other.close()
    pos = w.append(Record(Kind.ORDER_SENT, 1, {"op": "place", "client_id": "a"}))
    raised: list[BaseException] = []

    async def waiter() -> None:
        try:
            await w.committed_through(pos)
        except JournalError as exc:
            raised.append(exc)

    with pytest.raises(BaseExceptionGroup):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await nursery.start(w.run)
    assert len(raised) == 1 and "stopped" in str(raised[0])
    j.close()
