"""The SQLite journal: writing, dedupe, epochs, locking, damage detection, recovery, retention."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from mmtrio.core.commands import CancelOrder, PlaceOrder
from mmtrio.core.events import (
    ExecType,
    Fill,
    OrderStatus,
    OrderUpdate,
    Side,
    TimeInForce,
)
from mmtrio.errors import JournalError, ParameterError
from mmtrio.runtime import journal_schema as js
from mmtrio.runtime.journal import JOURNAL_NAME, Journal, Retention
from mmtrio.runtime.journal_schema import Kind, Record


def _fill(trade_id: int, ts: int = 1_000, side: Side = Side.BUY, cid: str = "c1") -> Fill:
    return Fill("BTCUSDT", trade_id, cid, 7, side, 600_000, 5, Decimal("0.01"), "USDT", True, ts)


def _rows(path: Path) -> list[tuple[int, str, int]]:
    conn = sqlite3.connect(path)
    try:
        return [
            (int(s), str(k), int(e))
            for s, k, e in conn.execute("SELECT seq, kind, session FROM records ORDER BY seq")
        ]
    finally:
        conn.close()


def test_write_batch_commits_in_order_with_session(tmp_path: Path) -> None:
    j = Journal.open(tmp_path)
    epoch = j.next_epoch()
    seqs = j.write_batch(
        [Record(Kind.START, 1, {"pid": 1}), Record(Kind.MID_SAMPLE, 2, {"bid": 1, "ask": 2})]
    )
    j.close()
    assert seqs == sorted(seqs) and len(set(seqs)) == 2
    assert _rows(tmp_path / JOURNAL_NAME) == [
        (seqs[0], "start", epoch),
        (seqs[1], "mid_sample", epoch),
    ]


def test_duplicate_fill_is_a_noop_and_fills_since_is_a_query(tmp_path: Path) -> None:
    j = Journal.open(tmp_path)
    j.next_epoch()
    first = j.write_batch([js.fill(_fill(10), 1), js.fill(_fill(11), 2)])
    again = j.write_batch([js.fill(_fill(10), 3), js.fill(_fill(12), 4)])
    assert first[0] > 0 and again[0] == -1 and again[1] > first[1]
    assert j.fills_since("BTCUSDT", 10) == [11, 12]
    assert j.fills_since("ETHUSDT", 0) == []
    j.close()
    assert [k for _, k, _ in _rows(tmp_path / JOURNAL_NAME)].count("fill") == 3


def test_mixed_batch_stores_exact_payload_text_and_consecutive_seqs(tmp_path: Path) -> None:
    # Runs of ordinary rows go in as one bulk statement, fills and reconciles one by one: the
    # stored columns and the returned seqs must not depend on how the batch was split.
    j = Journal.open(tmp_path)
    epoch = j.next_epoch()
    odd = {"reason": 'quote " back\\slash \u00e9 \n', "qty": Decimal("0.10"), "side": Side.SELL}
    records = [
        Record(Kind.START, 1, {"pid": 7}),
        Record(Kind.STATE_CHANGE, 2, odd, exchange_ts_ms=99),
        js.fill(_fill(5), 3),
        js.fill(_fill(5), 4),  # duplicate within the same batch: skipped
        Record(Kind.MID_SAMPLE, 5, {"bid": 1, "ask": 2}),
        Record(Kind.RECONCILE, 6, {"ok": True}),
        Record(Kind.MID_SAMPLE, 7, {"bid": 1, "ask": 3}),
    ]
    seqs = j.write_batch(records)
    j.close()
    assert seqs[3] == -1
    kept = [s for s in seqs if s != -1]
    assert kept == list(range(kept[0], kept[0] + 6))
    conn = sqlite3.connect(tmp_path / JOURNAL_NAME)
    try:
        rows = conn.execute(
            "SELECT seq, kind, session, local_ts_ms, exchange_ts_ms, payload FROM records"
            " ORDER BY seq"
        ).fetchall()
        fills = conn.execute("SELECT trade_id, seq, reconciled, ts_ms FROM fills").fetchall()
    finally:
        conn.close()
    expected = [r for i, r in enumerate(records) if i != 3]
    assert rows == [
        (seq, str(r.kind), epoch, r.local_ts_ms, r.exchange_ts_ms, js.encode_payload(r.payload))
        for seq, r in zip(kept, expected, strict=True)
    ]
    assert js.encode_payload(odd) == (
        '{"qty":"0.10","reason":"quote \\" back\\\\slash \\u00e9 \\n","side":"SELL"}'
    )
    assert fills == [(5, seqs[2], 1, 3)]  # marked reconciled by the later reconcile ok


def test_unjournalable_records_are_refused_before_any_write(tmp_path: Path) -> None:
    j = Journal.open(tmp_path)
    j.next_epoch()
    with pytest.raises(JournalError, match="cannot journal a fill without"):
        j.write_batch([Record(Kind.START, 1, {}), Record(Kind.FILL, 2, {"symbol": "BTCUSDT"})])
    with pytest.raises(JournalError, match="exchange_ts_ms must be an int"):
        j.write_batch([Record(Kind.START, 1, {}, exchange_ts_ms=True)])
    j.close()
    assert _rows(tmp_path / JOURNAL_NAME) == []


def test_epoch_increments_across_reopen(tmp_path: Path) -> None:
    epochs = []
    for _ in range(3):
        j = Journal.open(tmp_path)
        epochs.append(j.next_epoch())
        j.close()
    assert epochs == [1, 2, 3]
    j = Journal.open(tmp_path)
    assert j.load_recovery_state().epoch == 3
    j.close()


def test_schema_version_and_newer_schema_refused(tmp_path: Path) -> None:
    Journal.open(tmp_path).close()
    conn = sqlite3.connect(tmp_path / JOURNAL_NAME)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == js.SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.execute(f"PRAGMA user_version = {js.SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(JournalError, match="newer than this mmtrio"):
        Journal.open(tmp_path)


def test_second_opener_in_another_process_is_refused_naming_the_pid(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from mmtrio.runtime.journal import Journal; "
            f"j = Journal.open({str(tmp_path)!r}); print('ready', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(JournalError, match=f"pid {holder.pid}"):
            Journal.open(tmp_path)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    # The holder has exited: its lock is gone and we can open.
    Journal.open(tmp_path).close()


def _damaged_copy(tmp_path: Path, mutate: str) -> Path:
    src = tmp_path / "src"
    j = Journal.open(src)
    j.next_epoch()
    j.write_batch(
        [
            Record(Kind.MID_SAMPLE, i, {"symbol": "BTCUSDT", "bid": i, "ask": i + 1})
            for i in range(1, 3000)
        ]
    )
    j.close()
    dst = tmp_path / "dst"
    dst.mkdir()
    data = bytearray((src / JOURNAL_NAME).read_bytes())
    if mutate == "header":
        data[0:16] = b"garbage garbage!"
    elif mutate == "truncate":
        data = data[: len(data) - 1000]
    else:  # overwrite an interior b-tree page with garbage
        page = int.from_bytes(data[16:18], "big")
        data[3 * page : 4 * page] = bytes((i * 37) % 251 for i in range(page))
    (dst / JOURNAL_NAME).write_bytes(bytes(data))
    return dst


@pytest.mark.parametrize("mutate", ["header", "truncate", "page"])
def test_damaged_journal_refused_with_recovery_path(tmp_path: Path, mutate: str) -> None:
    dst = _damaged_copy(tmp_path, mutate)
    with pytest.raises(JournalError) as info:
        Journal.open(dst)
    msg = str(info.value)
    assert "damaged" in msg and f"mv {dst / JOURNAL_NAME}" in msg and "reconciles" in msg
    # The refusal releases the lock and never replaces the damaged file.
    assert (dst / JOURNAL_NAME).stat().st_size > 0
    shutil.move(dst / JOURNAL_NAME, dst / "journal.sqlite3.damaged")
    j = Journal.open(dst)  # the documented recovery: a fresh journal
    assert j.next_epoch() == 1
    j.close()


def _update(cid: str, status: OrderStatus) -> OrderUpdate:
    return OrderUpdate(
        "BTCUSDT",
        cid,
        1,
        Side.BUY,
        ExecType.CANCELED,
        status,
        600_000,
        5,
        0,
        TimeInForce.POST_ONLY,
        False,
        5,
    )


def _outcome(outcome: str, op: str, cid: str) -> Record:
    return Record(Kind.ORDER_OUTCOME, 4, {"outcome": outcome, "op": op, "client_id": cid})


def _position(ts: int, lots: int, entry: str) -> Record:
    payload = {"symbol": "BTCUSDT", "lots": lots, "entry_price": Decimal(entry)}
    return Record(Kind.POSITION, ts, payload)


def test_recovery_state(tmp_path: Path) -> None:
    j = Journal.open(tmp_path)
    assert j.load_recovery_state().last_session_clean is None
    j.next_epoch()
    place = [PlaceOrder(f"c{i}", "BTCUSDT", Side.BUY, 600_000 - i, 5) for i in range(5)]
    j.write_batch(
        [Record(Kind.START, 1, {})]
        + [js.order_sent(p, 2) for p in place]
        + [
            js.order_update(_update("c0", OrderStatus.CANCELED), 3),
            js.order_update(_update("c1", OrderStatus.NEW), 3),
            Record(
                Kind.ORDER_OUTCOME, 4, {"outcome": "rejected", "op": "place", "client_id": "c2"}
            ),
            Record(
                Kind.ORDER_OUTCOME, 4, {"outcome": "not_found", "op": "query", "client_id": "c3"}
            ),
            js.order_sent(CancelOrder("c4", "BTCUSDT"), 5),  # a cancel in flight: still open
            js.fill(_fill(100), 6),
            js.fill(_fill(101), 7),
            Record(
                Kind.POSITION, 8, {"symbol": "BTCUSDT", "lots": 3, "entry_price": Decimal("1.5")}
            ),
            Record(
                Kind.POSITION,
                9,
                {"symbol": "BTCUSDT", "lots": 10, "entry_price": Decimal("60000.0")},
            ),
        ]
    )
    j.close()  # no stop record: the session crashed
    j = Journal.open(tmp_path)
    state = j.load_recovery_state(max_trade_ids=1)
    j.close()
    assert state.epoch == 1
    assert sorted(o.client_id for o in state.open_orders) == ["c1", "c4"]
    assert state.known_trade_ids == {"BTCUSDT": frozenset({101})}
    assert state.last_trade_id == {"BTCUSDT": 101}
    assert state.positions == {"BTCUSDT": (10, "60000.0", 9)}
    assert state.unreconciled_fills == 2
    assert state.last_session_clean is False


def test_retention_prunes_old_but_keeps_session_and_unreconciled_fills(tmp_path: Path) -> None:
    day = 86_400_000
    j = Journal.open(tmp_path)
    j.next_epoch()
    # Session 1: old samples, an old reconciled fill, then an old unreconciled fill.
    j.write_batch([Record(Kind.MID_SAMPLE, i, {"bid": 1, "ask": 2}) for i in range(10)])
    j.write_batch([js.fill(_fill(1), 10), Record(Kind.RECONCILE, 11, {"ok": True})])
    j.write_batch([Record(Kind.MID_SAMPLE, 12 + i, {"bid": 1, "ask": 2}) for i in range(5)])
    j.write_batch([js.fill(_fill(2), 20), Record(Kind.RECONCILE, 21, {"ok": False})])
    j.write_batch([Record(Kind.MID_SAMPLE, 22, {"bid": 1, "ask": 2})])
    j.close()
    j = Journal.open(tmp_path)
    j.next_epoch()
    j.write_batch([Record(Kind.START, 30, {})])  # the current session, also "old"
    retention = Retention(max_age_days=1, max_size_mb=None, batch_rows=4)
    now = 10 * day
    deleted = []
    while (n := j.prune_step(retention, now)) > 0:
        deleted.append(n)
    assert deleted == [4, 4, 4, 4, 1]  # small batches, up to the unreconciled fill
    kinds = [k for _, k, _ in _rows(tmp_path / JOURNAL_NAME)]
    assert kinds == ["fill", "reconcile", "mid_sample", "start"]
    assert j.fills_since("BTCUSDT", 0) == [2]  # the reconciled fill's index row went too
    # A successful reconcile releases the fill; the current session still stays.
    j.write_batch([Record(Kind.RECONCILE, 31, {"ok": True})])
    while j.prune_step(retention, now):
        pass
    assert [k for _, k, _ in _rows(tmp_path / JOURNAL_NAME)] == ["start", "reconcile"]
    j.close()


def test_retention_by_size_prunes_oldest(tmp_path: Path) -> None:
    j = Journal.open(tmp_path)
    j.next_epoch()
    blob = "x" * 1000
    for b in range(5):
        j.write_batch([Record(Kind.MID_SAMPLE, b * 1000 + i, {"pad": blob}) for i in range(1000)])
    before = j.used_bytes()
    j.close()
    j = Journal.open(tmp_path)
    j.next_epoch()
    retention = Retention(max_age_days=None, max_size_mb=2.0, batch_rows=500)
    while j.prune_step(retention, 0):
        pass
    assert before > 4 * 1024 * 1024 >= 2 * 1024 * 1024 >= j.used_bytes()
    first = _rows(tmp_path / JOURNAL_NAME)[0][0]
    assert first > 1  # the oldest went first
    j.close()


def test_retention_validation() -> None:
    with pytest.raises(ParameterError, match="max_age_days"):
        Retention(max_age_days=0)
    with pytest.raises(ParameterError, match="batch_rows"):
        Retention(batch_rows=0)


def test_lock_file_names_our_pid(tmp_path: Path) -> None:
    j = Journal.open(tmp_path)
    assert (tmp_path / "lock").read_text().strip() == str(os.getpid())
    with pytest.raises(JournalError, match=f"pid {os.getpid()}"):
        Journal.open(tmp_path)  # a second opener in the same process: flock is per open file
    j.close()


_FILL_DISK = """
import resource, signal, sys
from pathlib import Path
from mmtrio.errors import JournalError
from mmtrio.runtime.journal import Journal
from mmtrio.runtime.journal_schema import Kind, Record

journal = Journal.open(Path(sys.argv[1]))
journal.write_batch([Record(Kind.START, 1, {"pid": 1})])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))  # the disk is full past here
try:
    for n in range(100):
        journal.write_batch([Record(Kind.START, 2, {"pad": "x" * 2000, "i": i}) for i in range(50)])
except JournalError as exc:
    print(exc)
    print("in transaction:", journal._conn.in_transaction)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_failed_disk_write_names_the_real_cause_and_keeps_committed_records(
    tmp_path: Path,
) -> None:
    """When the disk refuses a write, SQLite rolls the transaction back itself; the journal
    must report that cause (not a second ROLLBACK's "no transaction is active"), leave no
    transaction open, and keep every batch it had committed."""
    done = subprocess.run(
        [sys.executable, "-c", _FILL_DISK, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    message, state = done.stdout.strip().splitlines()
    assert "cannot write 50 record(s)" in message and "free disk space" in message
    assert "no transaction" not in message
    assert state == "in transaction: False"
    kinds = [kind for _, kind, _ in _rows(tmp_path / JOURNAL_NAME)]
    assert kinds[0] == "start" and len(kinds) >= 2  # the first batch and the ones that fit
    assert (len(kinds) - 1) % 50 == 0  # whole batches only: the failed one left nothing


def test_a_journal_set_aside_is_kept_and_a_new_one_starts_under_the_same_lock(
    tmp_path: Path,
) -> None:
    from mmtrio.errors import StateDirInUseError

    j = Journal.open(tmp_path)
    try:
        assert j.next_epoch() == 1
        j.write_batch([Record(Kind.START, 5, {"venue": "binance", "instance": "a"})])
        assert j.load_recovery_state().last_start is not None
        aside = j.set_aside("paper-x")
        assert aside == tmp_path / "journal-paper-x.sqlite3" and aside.exists()
        assert j.next_epoch() == 1  # a new journal: its epochs start over
        assert j.load_recovery_state().last_start is None
        with pytest.raises(StateDirInUseError):
            Journal.open(tmp_path)  # the lock was held throughout
    finally:
        j.close()
    rows = sqlite3.connect(aside).execute("SELECT kind FROM records").fetchall()
    assert rows == [("start",)]  # the old journal, whole


def test_a_journal_set_aside_never_replaces_one_kept_under_the_same_name(
    tmp_path: Path,
) -> None:
    # Two paper restarts in the same second name their set-aside journals alike.
    j = Journal.open(tmp_path)
    try:
        kept = []
        for instance in ("a", "b", "c"):
            j.write_batch([Record(Kind.START, 5, {"venue": "binance", "instance": instance})])
            kept.append(j.set_aside("paper-x"))
    finally:
        j.close()
    assert [p.name for p in kept] == [
        "journal-paper-x.sqlite3",
        "journal-paper-x-2.sqlite3",
        "journal-paper-x-3.sqlite3",
    ]
    for path, instance in zip(kept, "abc", strict=True):
        row = sqlite3.connect(path).execute("SELECT payload FROM records").fetchone()
        assert f'"instance":"{instance}"' in row[0].replace(" ", "")
