"""The market recorder's bounded memory: drops are counted for the whole recording, and each
overflow (a run of drops between two flushes) asks the feed for one resync."""

from __future__ import annotations

from mmtrio.core.events import Event
from mmtrio.data.record import Recorder


def _recorder(resyncs: list[int]) -> Recorder:
    rec = Recorder(lambda ns, ev: b"line", lambda: 1, max_pending=2)
    rec.on_overflow = lambda: resyncs.append(1)
    return rec


def test_drops_are_counted_across_flushes_and_each_overflow_resyncs_once() -> None:
    resyncs: list[int] = []
    rec = _recorder(resyncs)
    ev: Event = object()  # type: ignore[assignment]  # the encoder above ignores it
    for _ in range(5):  # 2 kept, 3 dropped: one overflow
        rec.market(ev)
    assert len(rec.take()) == 2
    for _ in range(4):  # 2 kept, 2 dropped: a second overflow
        rec.market(ev)
    assert len(rec.take()) == 2
    assert rec.dropped_total == 5
    assert rec.overflows == 2
    assert len(resyncs) == 2
    assert rec.dropped == 0


def test_no_drop_no_overflow() -> None:
    resyncs: list[int] = []
    rec = _recorder(resyncs)
    ev: Event = object()  # type: ignore[assignment]
    rec.market(ev)
    rec.take()
    rec.market(ev)
    assert (rec.dropped_total, rec.overflows, resyncs) == (0, 0, [])
