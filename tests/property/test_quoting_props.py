"""Quoting invariants for ANY book, inventory, model inputs and parameters."""

from __future__ import annotations

import itertools

from hypothesis import assume, given
from hypothesis import strategies as st

from mmtrio.core.events import Side
from mmtrio.core.instruments import BTCUSDT, Instrument
from mmtrio.core.quote_params import MarketView, ModelInputs, QuoteModel, QuoteParams
from mmtrio.core.quoting import CannotQuote, QuoteSet, _distances, quote
from tests.strategies import (
    any_model_inputs,
    broken_market_views,
    custom_instruments,
    funding_rates,
    instruments,
    market_views,
    quote_inventories,
    quote_params,
    sane_model_inputs,
)


def check_invariants(
    inst: Instrument, view: MarketView, params: QuoteParams, safety: int, res: QuoteSet
) -> None:
    assert view.best_bid is not None and view.best_ask is not None
    assert res.bids or res.asks
    if not params.allow_bid:
        assert res.bids == ()
    if not params.allow_ask:
        assert res.asks == ()
    for i, b in enumerate(res.bids):
        assert b.side is Side.BUY and b.level == i
        assert isinstance(b.price_ticks, int) and isinstance(b.qty_lots, int)
        assert b.price_ticks <= view.best_ask - 1 - safety  # post-only safe
    for i, a in enumerate(res.asks):
        assert a.side is Side.SELL and a.level == i
        assert isinstance(a.price_ticks, int) and isinstance(a.qty_lots, int)
        assert a.price_ticks >= view.best_bid + 1 + safety
    bid_px = [b.price_ticks for b in res.bids]
    ask_px = [a.price_ticks for a in res.asks]
    assert all(x > y for x, y in itertools.pairwise(bid_px))  # best first, distinct
    assert all(x < y for x, y in itertools.pairwise(ask_px))
    if bid_px and ask_px:
        assert bid_px[0] < ask_px[0]
    for qt in (*res.bids, *res.asks):
        # price filter, qty range and min notional in one venue-identical check
        inst.check_order(qt.price_ticks, qt.qty_lots)


@given(
    inst=instruments | custom_instruments(),
    data=st.data(),
    params=quote_params(),
    inputs=any_model_inputs | sane_model_inputs,
    inventory=quote_inventories,
    funding=funding_rates,
    safety=st.none() | st.integers(min_value=0, max_value=50),
)
def test_any_quote_satisfies_the_invariants(
    inst: Instrument,
    data: st.DataObject,
    params: QuoteParams,
    inputs: ModelInputs,
    inventory: int,
    funding: float,
    safety: int | None,
) -> None:
    view = data.draw(market_views(inst))
    res = quote(
        inst,
        view,
        inventory_lots=inventory,
        inputs=inputs,
        params=params,
        funding_rate=funding,
        safety_ticks=safety,
    )
    if isinstance(res, CannotQuote):
        assert res.reason
        return
    check_invariants(
        inst, view, params, params.post_only_safety_ticks if safety is None else safety, res
    )


@given(
    view=broken_market_views,
    params=quote_params(),
    inputs=sane_model_inputs,
    inventory=quote_inventories,
)
def test_unusable_books_never_quote(
    view: MarketView, params: QuoteParams, inputs: ModelInputs, inventory: int
) -> None:
    res = quote(
        BTCUSDT, view, inventory_lots=inventory, inputs=inputs, params=params, funding_rate=0.0
    )
    assert isinstance(res, CannotQuote) and res.reason


@given(
    data=st.data(),
    model=st.sampled_from(QuoteModel),
    gamma=st.floats(min_value=1e-4, max_value=1.0),
    sigma=st.floats(min_value=0.0, max_value=50.0),
    k=st.floats(min_value=0.01, max_value=5.0),
    a=st.floats(min_value=0.1, max_value=100.0),
    inventory=st.integers(min_value=-50, max_value=50),
)
def test_sane_market_and_inputs_always_quote_both_sides(
    data: st.DataObject,
    model: QuoteModel,
    gamma: float,
    sigma: float,
    k: float,
    a: float,
    inventory: int,
) -> None:
    # a book well inside BTCUSDT's price filter, so a ladder fits on both sides
    bid = data.draw(st.integers(min_value=100_000, max_value=7_000_000))
    ask = bid + data.draw(st.integers(min_value=1, max_value=50))
    micro = bid + data.draw(st.floats(min_value=0.0, max_value=1.0)) * (ask - bid)
    view = MarketView(bid, ask, (bid + ask) / 2, micro)
    params = QuoteParams(
        model=model,
        gamma=gamma,
        base_size_lots=10,
        max_inventory_lots=100,
        horizon_s=60.0,
        max_half_spread_ticks=1_000.0,
    )
    res = quote(
        BTCUSDT,
        view,
        inventory_lots=inventory,
        inputs=ModelInputs(sigma, a, k),
        params=params,
        funding_rate=0.0001,
    )
    assert isinstance(res, QuoteSet), res
    # Both sides are quoted, except a side the model itself prices outside the instrument's
    # price filter (a large inventory skew can push the bid below minPrice): that side is
    # withdrawn, never clamped into range.
    dist = _distances(params, inventory / params.base_size_lots, ModelInputs(sigma, a, k))
    model_bid = res.reference - dist.bid
    model_ask = res.reference + dist.ask
    if model_bid >= BTCUSDT.min_price_ticks:
        assert len(res.bids) == 1, (model_bid, res)
    else:
        assert res.bids == ()
    if model_ask <= BTCUSDT.max_price_ticks:
        assert len(res.asks) == 1, (model_ask, res)
    else:
        assert res.asks == ()
    assert res.bids or res.asks
    check_invariants(BTCUSDT, view, params, 0, res)


@given(
    data=st.data(),
    params=quote_params(model=QuoteModel.GLFT) | quote_params(model=QuoteModel.AS),
    inputs=sane_model_inputs,
    inventory=st.integers(min_value=-(10**6), max_value=10**6),
    more=st.integers(min_value=1, max_value=10**6),
)
def test_more_long_inventory_never_raises_the_quotes(
    data: st.DataObject, params: QuoteParams, inputs: ModelInputs, inventory: int, more: int
) -> None:
    """Inventory aversion: buying more never makes us bid or offer higher."""
    view = data.draw(market_views(BTCUSDT))
    kw = {"inputs": inputs, "params": params, "funding_rate": 0.0}
    lo = quote(BTCUSDT, view, inventory_lots=inventory, **kw)  # type: ignore[arg-type]
    hi = quote(BTCUSDT, view, inventory_lots=inventory + more, **kw)  # type: ignore[arg-type]
    assume(isinstance(lo, QuoteSet) and isinstance(hi, QuoteSet))
    assert isinstance(lo, QuoteSet) and isinstance(hi, QuoteSet)
    if lo.bids and hi.bids:
        assert hi.bids[0].price_ticks <= lo.bids[0].price_ticks
    if lo.asks and hi.asks:
        assert hi.asks[0].price_ticks <= lo.asks[0].price_ticks
