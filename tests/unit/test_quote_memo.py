"""Quoting's memo belongs to its caller: several planners in one process never share it.

Two planners with different parameters (several symbols in one process, a backtest sweep,
tests) interleaved give the very quotes each gives alone, and each keeps its own memo hits:
a repeated plan returns the same ladders and the same desired dict, whatever the other
planner quoted in between.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from mmtrio.core.book import OrderBook
from mmtrio.core.events import BookSnapshot
from mmtrio.core.guards import TradingState
from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.notice_log import NoticeLog
from mmtrio.core.orders import Slot
from mmtrio.core.planner import QuotePlanner
from mmtrio.core.quote_params import MarketView, ModelInputs, QuoteModel, QuoteParams
from mmtrio.core.quoting import Quote, QuoteMemo, QuoteResult, QuoteSet, quote
from mmtrio.core.risk import RiskView
from mmtrio.core.risk_limits import InventoryBand
from tests.unit.test_strategy import MID, SYM, make_config

GLFT = QuoteParams(
    model=QuoteModel.GLFT,
    gamma=0.01,
    base_size_lots=3,
    max_inventory_lots=20,
    levels=3,
    min_half_spread_ticks=2.0,
    max_half_spread_ticks=50.0,
    use_microprice=False,
)
AS = QuoteParams(
    model=QuoteModel.AS,
    gamma=0.1,
    base_size_lots=2,
    max_inventory_lots=10,
    levels=2,
    level_spacing_ticks=2,
    size_multiplier=1.5,
    inventory_size_reduction=0.5,
    min_half_spread_ticks=1.0,
    max_half_spread_ticks=40.0,
    use_microprice=False,
)
INPUTS = ModelInputs(sigma=4.0, a=1.0, k=0.5)

# (best bid, best ask, inventory lots), repeats included: a repeat is a memo hit.
STEPS = [
    (MID - 1, MID + 1, 0),
    (MID - 1, MID + 1, 0),
    (MID - 3, MID + 1, 0),
    (MID - 3, MID + 1, 4),
    (MID - 3, MID + 1, 4),
    (MID + 2, MID + 6, 4),
    (MID + 2, MID + 6, -6),
    (MID + 2, MID + 6, -6),
    (MID - 1, MID + 1, 0),
]


def _quote(params: QuoteParams, step: tuple[int, int, int], memo: QuoteMemo | None) -> QuoteResult:
    bid, ask, inv = step
    mid = (bid + ask) / 2
    return quote(
        BTCUSDT,
        MarketView(bid, ask, mid, mid),
        inventory_lots=inv,
        inputs=INPUTS,
        params=params,
        funding_rate=0.0,
        memo=memo,
    )


def test_quote_with_a_memo_equals_quote_without_one() -> None:
    memo = QuoteMemo()
    for step in STEPS:
        assert _quote(GLFT, step, memo) == _quote(GLFT, step, None)


def test_two_memos_interleaved_quote_as_each_alone_and_keep_their_hits() -> None:
    alone = {p: [_quote(p, s, QuoteMemo()) for s in STEPS] for p in (GLFT, AS)}
    memos = {GLFT: QuoteMemo(), AS: QuoteMemo()}
    last: dict[QuoteParams, QuoteSet] = {}
    for i, step in enumerate(STEPS):
        for p in (GLFT, AS):
            res = _quote(p, step, memos[p])
            assert res == alone[p][i]
            assert isinstance(res, QuoteSet), res
            if i > 0 and step == STEPS[i - 1]:
                # The other params quoted in between; this memo still has the ladders.
                assert res.bids is last[p].bids
                assert res.asks is last[p].asks
            last[p] = res
    assert alone[GLFT] != alone[AS]  # the two really quote differently


def _view(position: int) -> RiskView:
    return RiskView(
        ts=0,
        state=TradingState.ACTIVE,
        reason="",
        band=InventoryBand.NORMAL,
        position_lots=position,
        allow_bid=True,
        allow_ask=True,
        bid_size_multiplier=1.0,
        ask_size_multiplier=1.0,
        flatten=False,
        drawdown=Decimal(0),
        peak_equity=None,
        quote_to_trade=0.0,
        warnings=(),
        change=None,
    )


class Desk:
    """One planner on its own book, stepped through ``STEPS``."""

    def __init__(self, params: QuoteParams) -> None:
        self.book = OrderBook(SYM)
        self.planner = QuotePlanner(
            make_config(quote=replace(params, use_microprice=False)), self.book, NoticeLog()
        )
        self.seq = 100
        self.now = 1_000

    def plan(self, step: tuple[int, int, int]) -> dict[Slot, Quote]:
        bid, ask, inv = step
        self.seq += 1
        self.now += 100
        self.book.apply_snapshot(BookSnapshot(SYM, ((bid, 10),), ((ask, 10),), 0, seq=self.seq))
        inputs = self.planner.inputs(self.now, self.now)
        return self.planner.desired(_view(inv), inputs, self.now)


def test_two_planners_interleaved_plan_as_each_alone_and_keep_their_hits() -> None:
    alone = {}
    for p in (GLFT, AS):
        desk = Desk(p)
        alone[p] = [dict(desk.plan(s)) for s in STEPS]
    desks = {GLFT: Desk(GLFT), AS: Desk(AS)}
    last: dict[QuoteParams, dict[Slot, Quote]] = {}
    for i, step in enumerate(STEPS):
        for p in (GLFT, AS):
            desired = desks[p].plan(step)
            assert desired == alone[p][i]
            assert desired, f"no quotes at step {i}"
            if i > 0 and step == STEPS[i - 1]:
                # Unchanged inputs: the very same ladders, hence the very same desired dict,
                # although the other planner quoted in between.
                assert desired is last[p]
            last[p] = desired
    assert alone[GLFT] != alone[AS]
