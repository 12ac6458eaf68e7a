"""Extended's order-book continuity: seq + 1, size changes made absolute, gaps resync."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from mmtrio.core.events import BookDelta, BookSnapshot
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ProtocolError
from mmtrio.venues.extended.sequencer import BookSequencer, parse_book

INST = Instrument("BTC-USD", Decimal("1"), Decimal("0.001"), 1, 10**9, Decimal(0))


def msg(kind: str, seq: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> Any:
    def side(rows: list[tuple[str, str]]) -> list[dict[str, str]]:
        return [{"p": p, "q": q} for p, q in rows]

    return {"type": kind, "seq": seq, "ts": 1000 + seq,
            "data": {"m": "BTC-USD", "b": side(bids), "a": side(asks)}}  # fmt: skip


def feed(seq: BookSequencer, raw: Any) -> tuple[Any, str]:
    return seq.on_message(parse_book(raw, INST))


def test_snapshot_then_additive_deltas_become_absolute_levels() -> None:
    s = BookSequencer("BTC-USD")
    ev, gap = feed(s, msg("SNAPSHOT", 1, [("100", "1.0"), ("99", "2.0")], [("101", "0.5")]))
    assert gap == "" and isinstance(ev, BookSnapshot)
    assert ev.bids == ((100, 1000), (99, 2000)) and ev.asks == ((101, 500),) and ev.seq == 1
    ev, gap = feed(s, msg("DELTA", 2, [("100", "-0.4"), ("98", "3")], [("101", "-0.5")]))
    assert gap == "" and isinstance(ev, BookDelta)
    assert dict(ev.bids) == {100: 600, 98: 3000} and dict(ev.asks) == {101: 0}
    assert (ev.seq, ev.prev_seq, ev.first_seq) == (2, 1, 2)
    # two changes of one level in one message add up
    ev, gap = feed(s, msg("DELTA", 3, [("100", "0.1"), ("100", "0.2")], []))
    assert gap == "" and isinstance(ev, BookDelta) and dict(ev.bids) == {100: 900}


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (msg("DELTA", 3, [("100", "1")], []), "does not follow seq 1"),
        (msg("DELTA", 1, [("100", "1")], []), "does not follow seq 1"),
        (msg("DELTA", 2, [("100", "-1.5")], []), "negative size"),
        (msg("DELTA", 2, [("97", "-0.001")], []), "negative size"),
    ],
)
def test_gaps_reset_the_book(raw: Any, why: str) -> None:
    s = BookSequencer("BTC-USD")
    feed(s, msg("SNAPSHOT", 1, [("100", "1.0")], [("101", "1.0")]))
    ev, gap = feed(s, raw)
    assert ev is None and why in gap and not s.synced and s.gaps == 1
    # a delta after the gap is refused until a new snapshot arrives
    ev, gap = feed(s, msg("DELTA", 4, [], []))
    assert ev is None and "before any snapshot" in gap
    ev, gap = feed(s, msg("SNAPSHOT", 9, [("100", "1.0")], [("101", "1.0")]))
    assert isinstance(ev, BookSnapshot) and s.last_seq == 9
    ev, gap = feed(s, msg("DELTA", 10, [("100", "-1")], []))
    assert isinstance(ev, BookDelta) and dict(ev.bids) == {100: 0}


def test_a_periodic_snapshot_restarts_the_chain() -> None:
    s = BookSequencer("BTC-USD")
    feed(s, msg("SNAPSHOT", 1, [("100", "1")], []))
    ev, _ = feed(s, msg("SNAPSHOT", 600, [("99", "2")], []))
    assert isinstance(ev, BookSnapshot) and ev.bids == ((99, 2000),)
    ev, gap = feed(s, msg("DELTA", 601, [("99", "-2")], []))
    assert isinstance(ev, BookDelta) and gap == ""


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "UPDATE", "seq": 1, "ts": 1, "data": {"m": "BTC-USD", "b": [], "a": []}},
        {"type": "DELTA", "ts": 1, "data": {"m": "BTC-USD", "b": [], "a": []}},
        {"type": "DELTA", "seq": 2, "ts": 1, "data": {"m": "ETH-USD", "b": [], "a": []}},
        {
            "type": "DELTA",
            "seq": 2,
            "ts": 1,
            "data": {"m": "BTC-USD", "b": [{"p": "1.5", "q": "1"}], "a": []},
        },
        {"type": "DELTA", "seq": 2, "ts": 1, "data": {"m": "BTC-USD", "b": [{"p": "1"}], "a": []}},
        {
            "type": "DELTA",
            "seq": 2,
            "ts": 1,
            "data": {"m": "BTC-USD", "b": [{"p": "1", "q": "x"}], "a": []},
        },
    ],
)
def test_malformed_messages_are_protocol_errors(raw: Any) -> None:
    with pytest.raises(ProtocolError):
        parse_book(raw, INST)
