"""The process harness stamps each venue snapshot with the venue's time of that state.

Chaos seed 1817 on Hyperliquid (issue #17's 50-run campaign, run on a harness that stamped a
snapshot with the time its answer *arrived*): the venue read its state (position -6 lots, no
fill for 3.5 s) just before it made a sell; the bot booked and logged that fill ("position
-0.008 BTC") 22 ms before the harness received the older state, which it stamped after the
bot's line, so the judge compared -8 with -6 at a "quiescent" point 0.14 s before the next
fill closed the gap. Seed 1803 (bot 4 / venue 2, the fill booked 29 ms before the stamp) was
the same. The harness now takes the venue's ``wall_ms``; these tests replay that timeline
through :meth:`Harness._snapshot` with both clocks under the test's control.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from mmtrio.chaos import harness as harness_mod
from mmtrio.chaos.botconfig import ChaosHarnessError
from mmtrio.chaos.harness import Harness
from mmtrio.chaos.invariants import (
    JournalRecord,
    Snapshot,
    check_positions,
    position_samples,
)
from mmtrio.chaos.logs import log_positions

BASE = 1_796_309_513_736  # seed 1817's last quiescent read was at BASE + 3_900
SETTLE_MS = 3_500  # the judge's settle window: reconcile interval 2 s + grace 1.5 s
POLLS = 14  # every 300 ms: BASE .. BASE + 3_900
LAST_READ = BASE + 300 * (POLLS - 1)
FILL_BOOKED = LAST_READ + 22  # the venue's sell came after its last read; the bot logged it
ARRIVED_LATE_MS = 40  # the last answer reached the loaded harness this long after the read
LOT = Decimal("0.001")


def truth(wall_ms: int | None) -> dict[str, Any]:
    state: dict[str, Any] = {
        "open_orders": [],
        "position": {"lots": -6},
        "fills": [{"trade_id": n} for n in range(42)],
    }
    if wall_ms is not None:
        state["wall_ms"] = wall_ms
    return state


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    h = Harness(1817, 12.0, tmp_path, venue="hyperliquid")
    monkeypatch.setattr(Harness, "bot", property(lambda self: object()))  # a live bot
    h.r.urls = {"admin": "http://venue.test"}
    try:
        yield h
    finally:
        h.http.close()
        h.sock_dir.rmdir()


def serve(h: Harness, answers: list[dict[str, Any]]) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/admin/state"
        return httpx.Response(200, json=answers.pop(0))

    h.http.close()
    h.http = httpx.Client(transport=httpx.MockTransport(handle))


def test_a_state_read_before_a_fill_is_judged_at_its_read_not_its_arrival(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = [BASE + 300 * k for k in range(POLLS)]
    arrivals = [t + 5 for t in reads[:-1]] + [LAST_READ + ARRIVED_LATE_MS]
    serve(harness, [truth(t) for t in reads])
    clock = iter(arrivals)
    now = {"ms": 0}

    def harness_now() -> int:  # the harness's clock: when each answer arrived
        return now["ms"]

    monkeypatch.setattr(harness_mod, "_now_ms", harness_now)
    for _ in reads:
        now["ms"] = next(clock)
        harness._snapshot()
    snaps = harness.r.snapshots
    assert [s.wall_ms for s in snaps] == reads

    # The bot: -6 from its reconciliation, then the sell booked after the venue's last read.
    records = [JournalRecord(1, "reconcile", BASE + 100, {"position_lots": -6})]
    line = (
        "mmtrio.runtime.trading:_log:299 - fill SELL 0.002 BTC @ 60011.000 "
        "(0x6d6d7400000002000000000001000000); position -0.008 BTC"
    )
    logged = log_positions([(FILL_BOOKED, line)], LOT)
    assert logged == [(FILL_BOOKED, -8)]
    starts = [BASE - 10_000]
    samples = position_samples(snaps, records, SETTLE_MS, logged, starts)
    assert samples[-1] == (LAST_READ, -6, -6)
    assert check_positions(samples) == []

    # The same evidence stamped on arrival is seed 1817's finding: the check can fail.
    on_arrival = [
        Snapshot(a, s.open_orders, s.position_lots, s.n_fills, s.bot_alive)
        for a, s in zip(arrivals, snaps, strict=True)
    ]
    found = check_positions(position_samples(on_arrival, records, SETTLE_MS, logged, starts))
    assert [v.message for v in found] == [
        "position mismatch at quiescence: bot -8 lots, venue -6 lots"
    ]
    assert found[0].at_ms == LAST_READ + ARRIVED_LATE_MS


@pytest.mark.parametrize("wall", [None, "1796309513736", True])
def test_a_state_without_its_time_is_a_harness_error(harness: Harness, wall: Any) -> None:
    state = truth(None)
    if wall is not None:
        state["wall_ms"] = wall
    serve(harness, [state])
    with pytest.raises(ChaosHarnessError, match="wall_ms"):
        harness._snapshot()
    assert harness.r.snapshots == []
