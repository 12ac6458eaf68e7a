"""The sim's trade tape: candles on whole minutes of the wire clock, bounded memory."""

from __future__ import annotations

from mmtrio.core.events import Trade
from mmtrio.sim.tape import MINUTE_MS, MINUTES_KEPT, TRADES_KEPT, TradeTape


def _t(tid: int, ts: int, price: int, qty: int = 1, buyer_is_maker: bool = False) -> Trade:
    return Trade("BTCUSDT", tid, price, qty, buyer_is_maker, ts)


def test_minutes_open_on_the_wire_clock_and_aggregate_into_longer_candles() -> None:
    offset = 1_700_000_000_123  # market clock + offset = wire clock
    tape = TradeTape(offset)
    base = 10 * MINUTE_MS - offset % MINUTE_MS  # a whole minute of the wire clock
    tape.on_trade(_t(1, base, 100))
    tape.on_trade(_t(2, base + 30_000, 105, qty=2, buyer_is_maker=True))
    tape.on_trade(_t(3, base + MINUTE_MS, 95, qty=3))
    assert [(m.open_ms + offset) % MINUTE_MS for m in tape.minutes] == [0, 0]
    first = tape.minutes[0]
    assert (first.open, first.high, first.low, first.close) == (100, 105, 100, 105)
    assert (first.volume, first.taker_buy_volume, first.trades) == (3, 1, 2)
    (five,) = tape.candles(5 * MINUTE_MS, None, None)
    assert (five.open, five.high, five.low, five.close, five.volume) == (100, 105, 95, 95, 6)
    assert (five.first_id, five.last_id) == (1, 3)
    window = tape.window(base + MINUTE_MS)
    assert window is not None and window.trades == 1 and window.open == 95


def test_the_tape_is_bounded() -> None:
    tape = TradeTape()
    for i in range(MINUTES_KEPT + 10):
        tape.on_trade(_t(i, i * MINUTE_MS, 100))
    assert len(tape.minutes) == MINUTES_KEPT and len(tape.trades) == TRADES_KEPT
