"""MarketMaker on ~30 s of the shipped BTCUSDT recording, against a fake venue that acks all.

The recording is read by the Binance recording reader (the live codec and depth sequencer),
so the strategy receives exactly the neutral events the live connector would deliver.

The fake venue also fills our resting quotes when a recorded trade prints at or through them
(simplified: the whole trade qty is available to us), so the position moves and the limits
are exercised, not just the quoting.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from mmtrio.core.client_ids import ClientIdGenerator
from mmtrio.core.commands import AmendOrder, CancelAll, CancelOrder, Command, PlaceOrder
from mmtrio.core.events import (
    AmendAccepted,
    BookDelta,
    BookSnapshot,
    CancelAccepted,
    Event,
    ExecType,
    Fill,
    OrderStatus,
    OrderUpdate,
    PlaceAccepted,
    Side,
    TimeInForce,
    Trade,
)
from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.orders import OrderState
from mmtrio.core.strategy import MarketMaker
from mmtrio.venues.binance.client_ids import client_id_format
from mmtrio.venues.binance.recording import RecordingReader
from tests.unit.test_strategy import make_config

DATA = Path(__file__).resolve().parents[2] / "data" / "binance-usdm" / "btcusdt_20240808.gz"
SECONDS = 30


def recorded_events(seconds: int) -> list[Event]:
    """Snapshot, deltas and trades up to ``seconds`` after the snapshot, in file order."""
    out: list[Event] = []
    start: int | None = None
    for local_ns, event in RecordingReader([DATA], BTCUSDT, book_ticker=False):
        assert isinstance(event, BookSnapshot | BookDelta | Trade), event  # no gap in the file
        if isinstance(event, BookSnapshot):
            start = local_ns
        out.append(event)
        if start is not None and local_ns - start > seconds * 1_000_000_000:
            break
    return out


class AckVenue:
    """Acks every request at once; fills resting quotes that a recorded trade reaches."""

    def __init__(self) -> None:
        self.resting: dict[str, list[int]] = {}  # cid -> [side sign, price, qty, filled]
        self.trade_id = 10**12

    def answer(self, cmds: list[Command], now: int) -> list[Event]:
        events: list[Event] = []
        for cmd in cmds:
            if isinstance(cmd, PlaceOrder):
                self.resting[cmd.client_id] = [cmd.side.sign, cmd.price, cmd.qty, 0]
                events.append(PlaceAccepted(cmd.client_id, 1, now))
            elif isinstance(cmd, AmendOrder):
                rec = self.resting[cmd.client_id]
                rec[1], rec[2] = cmd.price, cmd.qty
                events.append(AmendAccepted(cmd.client_id, cmd.price, cmd.qty, now))
            elif isinstance(cmd, CancelOrder):
                self.resting.pop(cmd.client_id, None)
                events.append(CancelAccepted(cmd.client_id, now))
            elif isinstance(cmd, CancelAll):
                for cid, rec in self.resting.items():
                    events.append(self._update(cid, rec, now, ExecType.CANCELED, None))
                self.resting.clear()
        return events

    def _update(
        self, cid: str, rec: list[int], now: int, exec_type: ExecType, fill: Fill | None
    ) -> OrderUpdate:
        side = Side.BUY if rec[0] > 0 else Side.SELL
        if exec_type is ExecType.CANCELED:
            status = OrderStatus.CANCELED
        elif rec[3] >= rec[2]:
            status = OrderStatus.FILLED
        else:
            status = OrderStatus.PARTIALLY_FILLED
        return OrderUpdate("BTCUSDT", cid, 1, side, exec_type, status, rec[1], rec[2], rec[3],
                           TimeInForce.POST_ONLY, False, now, fill)  # fmt: skip

    def on_trade(self, trade: Trade, now: int) -> list[Event]:
        events: list[Event] = []
        for cid, rec in list(self.resting.items()):
            sign, price, qty, filled = rec
            hit = (sign > 0 and trade.buyer_is_maker and trade.price <= price) or (
                sign < 0 and not trade.buyer_is_maker and trade.price >= price
            )
            if not hit:
                continue
            lots = min(qty - filled, trade.qty)
            rec[3] += lots
            self.trade_id += 1
            side = Side.BUY if sign > 0 else Side.SELL
            fill = Fill("BTCUSDT", self.trade_id, cid, 1, side, price, lots, Decimal("-0.001"),
                        "USDT", True, now)  # fmt: skip
            events.append(self._update(cid, rec, now, ExecType.TRADE, fill))
            if rec[3] >= qty:
                del self.resting[cid]
        return events


def test_replay_quotes_never_crosses_and_stays_within_limits() -> None:
    mm = MarketMaker(make_config(), ClientIdGenerator(client_id_format("r"), 1))
    venue = AckVenue()
    max_pos = mm.config.limits.max_position_lots
    now = 0
    places = fills = quoted_steps = market_steps = 0

    def run(event: Event) -> None:
        nonlocal places, now
        cmds = mm.step(event, now)
        bid, ask = mm.book.best_bid(), mm.book.best_ask()
        for cmd in cmds:
            if isinstance(cmd, PlaceOrder | AmendOrder):
                assert isinstance(cmd.price, int) and cmd.qty >= BTCUSDT.min_qty
                assert bid is not None and ask is not None
                if cmd.side is Side.BUY:
                    assert cmd.price < ask[0]
                else:
                    assert cmd.price > bid[0]
                places += 1
        live = [o for o in mm.orders.live_orders() if o.state is not OrderState.CANCELED]
        buys = [o.price for o in live if o.side is Side.BUY]
        sells = [o.price for o in live if o.side is Side.SELL]
        if buys and sells:
            assert max(buys) < min(sells)
        pos = mm.ledger.position_lots
        exp_buy, exp_sell = mm.orders.worst_case_exposure()
        assert abs(pos) <= max_pos
        assert pos + exp_buy <= max_pos and pos - exp_sell >= -max_pos
        for ev in venue.answer(cmds, now):
            run(ev)

    for event in recorded_events(SECONDS):
        if isinstance(event, BookSnapshot | BookDelta | Trade):
            now = max(now, event.ts)
        run(event)
        if isinstance(event, Trade):
            for ev in venue.on_trade(event, now):
                fills += 1
                run(ev)
        if isinstance(event, BookDelta) and mm.book.synced:
            market_steps += 1
            sides = {o.side for o in mm.orders.live_orders()}
            quoted_steps += sides == {Side.BUY, Side.SELL}

    assert market_steps > 300
    assert places > 10
    assert fills > 0 and mm.ledger.snapshot().fills > 0
    # Two-sided most of the time (one side pauses while a fill refills or limits bind).
    assert quoted_steps > market_steps // 2
    assert mm.status(now).cannot_quote == ""
