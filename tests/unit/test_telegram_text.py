"""The Telegram messages' words (runtime/telegram_text.py): figures rounded, no reprs."""

from __future__ import annotations

from decimal import Decimal

from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.notices import Notice, NoticeValue
from mmtrio.runtime.telegram_text import FillTally, daily_text, fills_text, pnl_text, utc
from tests.strategies import sample_status
from tests.unit.test_operator_text import reprs_in


def test_the_tally_counts_sides_and_lots_and_skips_what_it_cannot_read() -> None:
    tally = FillTally()
    fills: list[dict[str, NoticeValue]] = [
        {"side": "BUY", "qty": 2},
        {"side": "SELL", "qty": 3},
        {"side": None},
    ]
    for data in fills:
        tally.add(Notice("fill", 0, "fill", data))
    assert (tally.count, tally.buys, tally.sells, tally.lots) == (3, 1, 1, 5)


def test_the_fills_summary_and_the_daily_message_are_words() -> None:
    st = sample_status().strategy
    assert st is not None
    tally = FillTally(count=3, buys=2, sells=1, lots=6)
    fills = fills_text("btc-a", BTCUSDT, tally, st)
    assert fills.startswith("btc-a BTCUSDT: 3 fill(s) (buy 2 / sell 1, 0.006 BTC); position ")
    assert fills.endswith(pnl_text(BTCUSDT, st))
    day = daily_text("btc-a", BTCUSDT, Decimal("-1.234"), st)
    assert day.startswith("btc-a BTCUSDT daily: -1.23 USDT since the last daily message; ")
    assert day.endswith(f"state {st.trading_state.value}")
    for text in (fills, day):
        assert reprs_in(text) == [] and "Decimal" not in text and "TradingState" not in text


def test_utc() -> None:
    assert utc(1_723_161_600) == "2024-08-09 00:00:00 UTC"
