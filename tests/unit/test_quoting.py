"""Quoting edge cases: bad books, tight books, extreme inventory, tiny sizes, shaping, safety."""

from __future__ import annotations

import dataclasses
import math

import pytest

from mmtrio.core.events import Side
from mmtrio.core.instruments import BTCUSDT, ETHUSDT
from mmtrio.core.models import glft_distances
from mmtrio.core.post_only import PostOnlySafety
from mmtrio.core.quote_params import MarketView, ModelInputs, QuoteModel, QuoteParams
from mmtrio.core.quoting import CannotQuote, QuoteSet, quote
from mmtrio.errors import ParameterError

INPUTS = ModelInputs(sigma=3.0, a=1.0, k=0.3)
PARAMS = QuoteParams(model=QuoteModel.GLFT, gamma=0.01, base_size_lots=10, max_inventory_lots=100)


def view(bb: int | None, ba: int | None, micro: float | None = None) -> MarketView:
    mid = (bb + ba) / 2 if bb is not None and ba is not None else math.nan
    return MarketView(bb, ba, mid, mid if micro is None else micro)


def q(
    v: MarketView,
    inv: int = 0,
    params: QuoteParams = PARAMS,
    inputs: ModelInputs = INPUTS,
    funding: float = 0.0,
    safety: int | None = None,
) -> QuoteSet | CannotQuote:
    return quote(
        BTCUSDT,
        v,
        inventory_lots=inv,
        inputs=inputs,
        params=params,
        funding_rate=funding,
        safety_ticks=safety,
    )


def ok(result: QuoteSet | CannotQuote) -> QuoteSet:
    assert isinstance(result, QuoteSet), result
    return result


@pytest.mark.parametrize(
    ("v", "fragment"),
    [
        (view(None, 600_010), "empty"),
        (view(600_000, None), "empty"),
        (MarketView(600_010, 600_000, 600_005.0, 600_005.0), "crossed"),
        (MarketView(600_000, 600_000, 600_000.0, 600_000.0), "locked"),
        (view(600_000, 600_010, math.nan), "microprice"),
        (view(600_000, 600_010, math.inf), "microprice"),
    ],
)
def test_unusable_book_cannot_quote(v: MarketView, fragment: str) -> None:
    result = q(v)
    assert isinstance(result, CannotQuote)
    assert fragment in result.reason


@pytest.mark.parametrize("field", ["sigma", "a", "k"])
def test_nan_model_input_cannot_quote_and_names_it(field: str) -> None:
    bad = dataclasses.replace(INPUTS, **{field: math.nan})
    result = q(view(600_000, 600_010), inputs=bad)
    assert isinstance(result, CannotQuote)
    assert {"a": "A"}.get(field, field) in result.reason


def test_nan_funding_cannot_quote() -> None:
    assert isinstance(q(view(600_000, 600_010), funding=math.nan), CannotQuote)


def test_no_side_allowed_cannot_quote() -> None:
    p = dataclasses.replace(PARAMS, allow_bid=False, allow_ask=False)
    result = q(view(600_000, 600_010), params=p)
    assert isinstance(result, CannotQuote) and "neither side" in result.reason


def test_flat_inventory_quotes_model_prices_rounded_outward() -> None:
    res = ok(q(view(600_000, 600_100)))
    d = glft_distances(0.0, 0.01, 3.0, 0.3, 1.0)
    assert res.bids[0].price_ticks == math.floor(600_050 - d.bid)
    assert res.asks[0].price_ticks == math.ceil(600_050 + d.ask)
    assert res.bids[0].side is Side.BUY and res.asks[0].side is Side.SELL


def test_one_tick_spread_never_crosses() -> None:
    tight = ModelInputs(sigma=0.01, a=50.0, k=50.0)  # model wants ~0.02 tick from the mid
    res = ok(q(view(600_000, 600_001), inputs=tight))
    assert res.bids[0].price_ticks == 600_000
    assert res.asks[0].price_ticks == 600_001
    safe = ok(q(view(600_000, 600_001), inputs=tight, safety=2))
    assert safe.bids[0].price_ticks == 600_001 - 1 - 2
    assert safe.asks[0].price_ticks == 600_000 + 1 + 2


def test_huge_long_inventory_leans_on_the_ask_within_post_only() -> None:
    res = ok(q(view(600_000, 600_010), inv=10**7))
    # the model wants to sell far below the bid: clamped to the best bid + 1
    assert res.asks[0].price_ticks == 600_001
    # the bid is either gone (price filter) or far below the book
    assert all(b.price_ticks < 590_000 for b in res.bids)


def test_huge_short_inventory_leans_on_the_bid() -> None:
    res = ok(q(view(600_000, 600_010), inv=-(10**7)))
    assert res.bids[0].price_ticks == 600_009
    assert all(a.price_ticks > 610_000 for a in res.asks)


def test_tiny_base_size_is_raised_to_min_notional() -> None:
    p = dataclasses.replace(PARAMS, base_size_lots=1)
    res = ok(q(view(600_000, 600_010), params=p))  # 0.001 BTC at 60 000 = 60 USDT < 100
    for quote_ in (*res.bids, *res.asks):
        need = BTCUSDT.min_lots_for_notional(quote_.price_ticks)
        assert quote_.qty_lots == need == 2
        BTCUSDT.check_order(quote_.price_ticks, quote_.qty_lots)


def test_size_above_max_qty_is_capped() -> None:
    p = dataclasses.replace(PARAMS, base_size_lots=5_000_000, max_inventory_lots=10**8)
    res = ok(q(view(600_000, 600_010), params=p))
    assert all(x.qty_lots == BTCUSDT.max_qty for x in (*res.bids, *res.asks))


def test_ladder_levels_spacing_and_size_multiplier() -> None:
    p = dataclasses.replace(PARAMS, levels=3, level_spacing_ticks=5, size_multiplier=2.0)
    res = ok(q(view(600_000, 600_100), params=p))
    assert [b.level for b in res.bids] == [0, 1, 2]
    top_b, top_a = res.bids[0].price_ticks, res.asks[0].price_ticks
    assert [b.price_ticks for b in res.bids] == [top_b, top_b - 5, top_b - 10]
    assert [a.price_ticks for a in res.asks] == [top_a, top_a + 5, top_a + 10]
    assert [b.qty_lots for b in res.bids] == [10, 20, 40]


def test_inventory_size_reduction_only_on_the_growing_side() -> None:
    p = dataclasses.replace(PARAMS, inventory_size_reduction=0.5)
    res = ok(q(view(600_000, 600_100), inv=50, params=p))  # half of max inventory, long
    assert res.bids[0].qty_lots == 7  # floor(10 · (1 − 0.5·0.5))
    assert res.asks[0].qty_lots == 10
    full = dataclasses.replace(PARAMS, inventory_size_reduction=1.0)
    at_max = ok(q(view(600_000, 600_100), inv=100, params=full))
    assert at_max.bids == () and at_max.asks


def test_as_infinite_at_inventory_bound_quotes_only_the_unwind_side() -> None:
    p = dataclasses.replace(PARAMS, model=QuoteModel.AS_INFINITE, gamma=0.05)
    res = ok(q(view(600_000, 600_100), inv=100, params=p))
    assert res.bids == () and len(res.asks) == 1
    beyond = ok(q(view(600_000, 600_100), inv=500, params=p))
    assert beyond.bids == () and beyond.asks == res.asks


def test_inventory_skew_zero_ignores_inventory() -> None:
    p = dataclasses.replace(PARAMS, inventory_skew=0.0)
    assert (
        ok(q(view(600_000, 600_100), inv=80, params=p)).bids
        == ok(q(view(600_000, 600_100), inv=0, params=p)).bids
    )


def test_positive_funding_biases_toward_selling() -> None:
    p = dataclasses.replace(PARAMS, funding_bias=10.0)
    base = ok(q(view(600_000, 600_100), params=p))
    # shift = −0.0001 · 10 · 600 050 ≈ −600 ticks; the ask is then held by post-only
    pos = ok(q(view(600_000, 600_100), params=p, funding=0.0001))
    assert pos.reference < base.reference
    assert pos.asks[0].price_ticks < base.asks[0].price_ticks
    assert pos.bids[0].price_ticks < base.bids[0].price_ticks


def test_half_spread_clamps() -> None:
    wide = dataclasses.replace(PARAMS, min_half_spread_ticks=40.0)
    res = ok(q(view(600_000, 600_100), params=wide))
    assert res.bids[0].price_ticks <= 600_050 - 40 and res.asks[0].price_ticks >= 600_050 + 40
    narrow = dataclasses.replace(PARAMS, max_half_spread_ticks=1.0)
    res = ok(q(view(600_000, 600_100), params=narrow))
    assert res.bids[0].price_ticks == 600_049 and res.asks[0].price_ticks == 600_051


def test_risk_flags_remove_a_side() -> None:
    res = ok(q(view(600_000, 600_100), params=dataclasses.replace(PARAMS, allow_bid=False)))
    assert res.bids == () and res.asks


def test_mid_reference_option() -> None:
    p = dataclasses.replace(PARAMS, use_microprice=False)
    res = ok(q(view(600_000, 600_100, micro=600_090.0), params=p))
    assert res.reference == 600_050.0
    assert ok(q(view(600_000, 600_100, micro=600_090.0))).reference == 600_090.0


def test_eth_prices_respect_the_price_filter() -> None:
    # near ETH's minimum price, deep bid levels fall below it and are dropped, not bent
    p = dataclasses.replace(PARAMS, levels=5, level_spacing_ticks=50)
    res = quote(
        ETHUSDT,
        view(4_000, 4_010),
        inventory_lots=0,
        inputs=INPUTS,
        params=p,
        funding_rate=0.0,
    )
    assert isinstance(res, QuoteSet)
    assert all(b.price_ticks >= ETHUSDT.min_price_ticks for b in res.bids)
    assert len(res.bids) < 5 and len(res.asks) == 5


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"gamma": 0.0}, "gamma"),
        ({"gamma": math.nan}, "gamma"),
        ({"base_size_lots": 0}, "base_size_lots"),
        ({"levels": 0}, "levels"),
        ({"level_spacing_ticks": 0}, "level_spacing_ticks"),
        ({"inventory_size_reduction": 1.5}, "inventory_size_reduction"),
        ({"min_half_spread_ticks": 5.0, "max_half_spread_ticks": 1.0}, "min_half_spread"),
        ({"post_only_safety_ticks": -1}, "post_only_safety_ticks"),
        ({"model": "GLFT"}, "model"),
        ({"levels": 2.0}, "levels"),
    ],
)
def test_quote_params_validation(change: dict[str, object], fragment: str) -> None:
    with pytest.raises(ParameterError, match=fragment):
        dataclasses.replace(PARAMS, **change)  # type: ignore[arg-type]


def test_post_only_safety_grows_caps_and_decays() -> None:
    s = PostOnlySafety(base_ticks=0, max_ticks=6, decay_after=3)
    assert s.ticks == 0
    s.on_reject()
    assert s.ticks == 1  # from zero: at least one tick
    s.on_reject()
    s.on_reject()
    assert s.ticks == 4
    s.on_reject()
    assert s.ticks == 6  # capped
    s.on_success()
    s.on_success()
    assert s.ticks == 6
    s.on_success()
    assert s.ticks == 5  # one tick per three successes
    s.on_success()
    s.on_success()
    s.on_reject()  # a rejection resets the success count
    assert s.ticks == 6
    for _ in range(3 * 10):
        s.on_success()
    assert s.ticks == 0  # never below base


def test_post_only_safety_validation() -> None:
    with pytest.raises(ParameterError):
        PostOnlySafety(base_ticks=5, max_ticks=2, decay_after=3)
    with pytest.raises(ParameterError):
        PostOnlySafety(base_ticks=0, max_ticks=2, decay_after=0)
