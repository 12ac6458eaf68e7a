"""A public trade's time on Extended is when its message was sent, not when it printed.

QA on the Extended paper bot: a recording's sweep prints many trades at one millisecond and
they reach the feed over a second or more while the book runs on. The simulated venue stamped
each publicTrades message with the print's time and the connector took the row's ``T`` as the
trade's time, so the feed-latency guard read a feed seconds late and the bot flapped between
ACTIVE and REDUCING_ONLY (dozens of WARNING lines a second). Binance's trades carry the event
time ``E``; Extended's message carries ``ts``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mmtrio.core.events import Trade
from mmtrio.core.instruments import Instrument
from mmtrio.sim.extended.frontend import FRONT_END
from mmtrio.sim.paper import replay_driver
from mmtrio.sim.venue import SimConfig, SimVenue
from mmtrio.venues.extended.codec_stream import parse_trades
from tests.integration.sim_helpers import DATA, data_instrument


def _message(sent: int, printed: int) -> dict[str, Any]:
    return {
        "ts": sent,
        "seq": 3,
        "data": [
            {"m": "BTC-USD", "S": "BUY", "tT": "TRADE", "T": printed, "p": "100.0",
             "q": "0.002", "i": 7},
        ],
    }  # fmt: skip


def _instrument() -> Instrument:
    return Instrument("BTC-USD", Decimal("0.1"), Decimal("0.001"), 1, 10**6, Decimal(0),
                      base_asset="BTC", quote_asset="USD")  # fmt: skip


def test_a_trade_is_timed_by_its_message_not_its_print() -> None:
    (trade,) = parse_trades(_message(sent=5_000, printed=2_000), _instrument())
    assert trade.ts == 5_000
    assert (trade.trade_id, trade.buyer_is_maker) == (7, False)


def test_the_simulated_venue_sends_a_late_print_at_the_market_clock() -> None:
    venue = SimVenue(replay_driver([DATA], data_instrument(DATA)), SimConfig())
    front = FRONT_END.create(venue)
    sent: list[tuple[str, dict[str, Any]]] = []
    venue.hub.publish = lambda canonical, data: sent.append((canonical, data))  # type: ignore[method-assign]
    venue.market_ts += 3_000  # the book has run on 3 s past the print
    printed = venue.market_ts - 3_000
    front.on_trade(Trade(venue.instrument.symbol, 11, 100, 1, True, printed))
    ((topic, msg),) = sent
    assert topic.startswith("publicTrades:")
    assert msg["ts"] == venue.out_ts()  # sent now
    assert msg["data"][0]["T"] == venue.out_ts(printed)  # printed 3 s ago
