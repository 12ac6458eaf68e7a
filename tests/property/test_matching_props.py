"""Matching engine properties over random scripts of orders and market data."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given

from mmtrio.core.events import (
    BookDelta,
    BookSnapshot,
    ExecType,
    OrderUpdate,
    Side,
    TimeInForce,
    Trade,
)
from mmtrio.core.instruments import BTCUSDT
from mmtrio.exchange.matching import MatchingEngine, MatchingReject, NewOrder, QueueModel
from tests.strategies import MATCH_MID, matching_actions


def run(
    script: list[tuple[object, ...]], model: QueueModel = QueueModel.PROBABILISTIC
) -> tuple[MatchingEngine, list[OrderUpdate], dict[str, TimeInForce]]:
    eng = MatchingEngine(BTCUSDT, queue_model=model)
    eng.on_snapshot(
        BookSnapshot(
            "BTCUSDT",
            bids=tuple((MATCH_MID - i, 10 + i) for i in range(5)),
            asks=tuple((MATCH_MID + 1 + i, 10 + i) for i in range(5)),
            ts=0,
            seq=1,
        )
    )
    out: list[OrderUpdate] = []
    tifs: dict[str, TimeInForce] = {}
    uid, tid = 1, 1
    for ts, act in enumerate(script, 1):
        kind = act[0]
        try:
            if kind == "place":
                _, cid, side, price, qty, tif = act
                assert (
                    isinstance(cid, str) and isinstance(side, Side) and isinstance(tif, TimeInForce)
                )
                assert isinstance(price, int) and isinstance(qty, int)
                ups = eng.place(NewOrder(cid, side, price, qty, tif), ts)
                tifs[cid] = tif
                out.extend(ups)
            elif kind == "amend":
                _, cid, price, qty = act
                assert isinstance(cid, str) and isinstance(price, int) and isinstance(qty, int)
                out.extend(eng.amend(cid, price, qty, ts))
            elif kind == "cancel":
                assert isinstance(act[1], str)
                out.extend(eng.cancel(act[1], ts))
        except MatchingReject:
            continue
        if kind == "diff":
            _, side, price, qty = act
            assert isinstance(price, int) and isinstance(qty, int)
            level = ((price, qty),)
            bids, asks = (level, ()) if side is Side.BUY else ((), level)
            out.extend(eng.on_delta(BookDelta("BTCUSDT", bids, asks, ts, uid + 1, uid, uid + 1)))
            uid += 1
        elif kind == "trade":
            _, price, qty, bim = act
            assert isinstance(price, int) and isinstance(qty, int) and isinstance(bim, bool)
            out.extend(eng.on_trade(Trade("BTCUSDT", tid, price, qty, bim, ts)))
            tid += 1
    return eng, out, tifs


@given(matching_actions())
def test_post_only_never_takes(script: list[tuple[object, ...]]) -> None:
    _, ups, _ = run(script)
    for u in ups:
        if u.fill is not None and u.time_in_force is TimeInForce.POST_ONLY:
            assert u.fill.is_maker


@given(matching_actions())
def test_cum_qty_bounded_and_fills_conserve_quantity(script: list[tuple[object, ...]]) -> None:
    eng, ups, _ = run(script)
    filled: dict[tuple[str, int], int] = defaultdict(int)
    trade_ids = []
    for u in ups:
        assert 0 <= u.cum_qty <= u.qty
        assert (u.fill is not None) == (u.exec_type is ExecType.TRADE)
        if u.fill is not None:
            assert u.fill.qty > 0
            filled[(u.client_id, u.order_id)] += u.fill.qty
            assert filled[(u.client_id, u.order_id)] == u.cum_qty
            trade_ids.append(u.fill.trade_id)
    assert trade_ids == sorted(set(trade_ids))
    # The engine's position is exactly the signed sum of the fills it reported.
    pos = sum(u.fill.qty * u.side.sign for u in ups if u.fill is not None)
    assert eng.position == pos
    # Our resting overlay is what the open orders have left.
    for side in (Side.BUY, Side.SELL):
        left: dict[int, int] = defaultdict(int)
        for v in eng.open_orders():
            if v.side is side:
                left[v.price] += v.qty - v.cum_qty
        assert eng.our_levels(side) == dict(left)


@given(matching_actions())
def test_engine_is_deterministic(script: list[tuple[object, ...]]) -> None:
    for model in QueueModel:
        _, a, _ = run(script, model)
        _, b, _ = run(script, model)
        assert a == b


@given(matching_actions())
def test_our_resting_orders_never_cross_the_market(script: list[tuple[object, ...]]) -> None:
    eng, _, _ = run(script)
    best_ask, best_bid = eng.best_ask(), eng.best_bid()
    for v in eng.open_orders():
        if v.side is Side.BUY and best_ask is not None:
            assert v.price < best_ask[0]
        if v.side is Side.SELL and best_bid is not None:
            assert v.price > best_bid[0]
