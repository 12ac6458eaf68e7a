"""The Hyperliquid codec: instruments from meta, the significant-figure grid, snapshots judged
by time, trades, asset contexts, fills with increasing neutral trade ids, answers and errors."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmtrio.core.events import BookInvalid, BookSnapshot, Side
from mmtrio.core.rejects import RejectKind
from mmtrio.errors import (
    AuthError,
    ClockSkewError,
    ConfigError,
    OutcomeUnknownError,
    ProtocolError,
    RateLimited,
    VenueError,
)
from mmtrio.venues.hyperliquid import errors as hl_errors
from mmtrio.venues.hyperliquid.client_ids import CloidFormat, valid_cloid
from mmtrio.venues.hyperliquid.codec import (
    fill_trade_id,
    trade_id_time_ms,
    wire_number,
)
from mmtrio.venues.hyperliquid.codec_exchange import (
    parse_cancel_answer,
    parse_cancel_batch,
    parse_default_answer,
    parse_order_answer,
)
from mmtrio.venues.hyperliquid.codec_info import (
    asset_for,
    instrument_of,
    parse_clearinghouse,
    parse_fills,
    parse_meta,
    parse_open_orders,
    parse_order_status,
    parse_rate_limit,
)
from mmtrio.venues.hyperliquid.codec_market import (
    SnapshotSequencer,
    next_funding_ms,
    parse_asset_ctx,
    parse_l2book,
    parse_trades,
)

META = {
    "universe": [
        {"name": "BTC", "szDecimals": 5, "maxLeverage": 40},
        {"name": "ETH", "szDecimals": 4, "maxLeverage": 25},
        {"name": "OLD", "szDecimals": 2, "maxLeverage": 3, "isDelisted": True},
        {"name": "kPEPE", "szDecimals": 0, "maxLeverage": 10},
    ]
}
BTC = instrument_of("BTC", 5)
T0 = 1_750_000_000_000


def test_instruments_come_from_meta() -> None:
    assets = parse_meta(META)
    assert set(assets) == {"BTC", "ETH", "kPEPE"}  # delisted coins are not tradeable
    btc = assets["BTC"]
    assert btc.index == 0 and btc.max_leverage == 40
    inst = btc.instrument
    assert inst.tick_size == Decimal("0.1") and inst.lot_size == Decimal("0.00001")
    assert inst.sig_figs == 5 and inst.quote_asset == "USDC" and inst.min_notional == 10
    assert assets["ETH"].index == 1 and assets["ETH"].instrument.tick_size == Decimal("0.01")
    assert assets["kPEPE"].instrument.tick_size == Decimal("0.000001")
    with pytest.raises(ConfigError, match="lists no perpetual 'DOGE'"):
        asset_for(META, "DOGE")
    with pytest.raises(ProtocolError, match="szDecimals"):
        parse_meta({"universe": [{"name": "X", "szDecimals": 7}]})
    with pytest.raises(ProtocolError, match="universe"):
        parse_meta({"nope": []})


def _valid_on_venue(inst_decimals: int, price: Decimal) -> bool:
    """Hyperliquid's own words: at most 5 significant figures and at most 6 − szDecimals
    decimals; an integer price is always valid."""
    if price == price.to_integral_value():
        return True
    digits = price.normalize().as_tuple()
    decimals = max(0, -int(digits.exponent))
    significant = len(digits.digits)
    return significant <= 5 and decimals <= inst_decimals


@settings(max_examples=400, deadline=None)
@given(sz=st.integers(0, 6), ticks=st.integers(1, 10**12))
def test_quotes_round_outward_onto_the_significant_figure_grid(sz: int, ticks: int) -> None:
    inst = instrument_of("X", sz)
    bid, ask = inst.floor_price(ticks), inst.ceil_price(ticks)
    assert bid <= ticks <= ask  # outward: a bid never rises, an ask never falls
    for p in (bid, ask):
        if p > 0:
            assert _valid_on_venue(6 - sz, inst.ticks_to_price(p)), inst.ticks_to_price(p)
    # Tightest: no valid price lies strictly between the rounded one and the input.
    if bid > 0 and bid < ticks:
        assert not any(inst.is_valid_price(p) for p in range(bid + 1, min(ticks, bid + 50) + 1))
    if ask > ticks:
        assert not any(inst.is_valid_price(p) for p in range(max(ticks, ask - 50), ask))


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        ("60000", "60000"),
        ("60000.0", "60000"),
        ("0.00100", "0.001"),
        ("1E+2", "100"),
        ("123.45000", "123.45"),
        ("0", "0"),
        ("-0.0", "0"),
    ],
)
def test_wire_numbers_have_no_trailing_zeros(value: str, wire: str) -> None:
    assert wire_number(Decimal(value)) == wire


def book(ts: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> dict[str, object]:
    lv = [[{"px": p, "sz": s, "n": 1} for p, s in side] for side in (bids, asks)]
    return {"coin": "BTC", "time": ts, "levels": lv}


def test_l2book_snapshots_are_judged_by_their_time() -> None:
    seq = SnapshotSequencer(max_age_ms=2_000)
    good = parse_l2book(book(T0, [("60000", "0.5"), ("59999", "1")], [("60001", "2")]), BTC)
    assert good.bids == ((600000, 50000), (599990, 100000)) and good.asks == ((600010, 200000),)
    assert seq.on_snapshot(good, T0 + 10) is good
    # Not newer than the last one: dropped (a duplicate or one overtaken after a reconnect).
    assert seq.on_snapshot(good, T0 + 20) is None and seq.dropped == 1
    older = parse_l2book(book(T0 - 5, [("60000", "1")], [("60001", "1")]), BTC)
    assert seq.on_snapshot(older, T0 + 20) is None
    # Too old against the venue clock: the book is invalid, never a quote.
    late = parse_l2book(book(T0 + 100, [("60000", "1")], [("60001", "1")]), BTC)
    out = seq.on_snapshot(late, T0 + 100 + 2_001)
    assert isinstance(out, BookInvalid) and "stale snapshot: 2001 ms old" in out.reason
    fresh = parse_l2book(book(T0 + 200, [("60000", "1")], [("60001", "1")]), BTC)
    assert isinstance(seq.on_snapshot(fresh, T0 + 250), BookSnapshot)


@pytest.mark.parametrize(
    ("bids", "asks", "why"),
    [
        ([], [("60001", "1")], "empty bid side"),
        ([("60000", "1")], [], "empty ask side"),
        ([("60001", "1")], [("60000", "1")], "crossed"),
        ([("60000", "1"), ("60001", "1")], [("60002", "1")], "bids are not in descending"),
        ([("60000", "1")], [("60003", "1"), ("60002", "1")], "asks are not in ascending"),
    ],
)
def test_a_malformed_snapshot_is_book_invalid(
    bids: list[tuple[str, str]], asks: list[tuple[str, str]], why: str
) -> None:
    out = SnapshotSequencer().on_snapshot(parse_l2book(book(T0, bids, asks), BTC), T0)
    assert isinstance(out, BookInvalid) and why in out.reason


@pytest.mark.parametrize(
    "payload",
    [
        {"coin": "ETH", "time": T0, "levels": [[], []]},
        {"coin": "BTC", "time": T0, "levels": [[]]},
        {"coin": "BTC", "time": "x", "levels": [[], []]},
        book(T0, [("60000.05", "1")], [("60001", "1")]),  # off the 0.1 tick
        book(T0, [("60000", "-1")], [("60001", "1")]),
    ],
)
def test_unreadable_snapshots_are_protocol_errors(payload: dict[str, object]) -> None:
    with pytest.raises(ProtocolError):
        parse_l2book(payload, BTC)


def test_trades_and_asset_context() -> None:
    rows = [
        {
            "coin": "BTC",
            "side": "B",
            "px": "60001",
            "sz": "0.1",
            "time": T0,
            "tid": 7,
            "hash": "0x",
        },
        {
            "coin": "BTC",
            "side": "A",
            "px": "60000",
            "sz": "0.2",
            "time": T0,
            "tid": 3,
            "hash": "0x",
        },
        {"coin": "ETH", "side": "A", "px": "3000", "sz": "1", "time": T0, "tid": 4, "hash": "0x"},
    ]
    trades = parse_trades(rows, BTC)
    assert [t.trade_id for t in trades] == [7, 3]
    assert trades[0].aggressor is Side.BUY and trades[1].aggressor is Side.SELL
    ctx = {
        "coin": "BTC",
        "ctx": {
            "markPx": "60000.5",
            "oraclePx": "59990",
            "funding": "0.0000125",
            "openInterest": "1",
            "prevDayPx": "1",
            "dayNtlVlm": "1",
        },
    }
    mark = parse_asset_ctx(ctx, BTC, T0 + 123)
    assert mark.mark_price == Decimal("60000.5") and mark.index_price == Decimal("59990")
    assert mark.funding_rate == Decimal("0.0000125")  # per hour, as the venue states it
    assert mark.next_funding_ts == next_funding_ms(T0 + 123)
    assert mark.next_funding_ts % 3_600_000 == 0 and 0 < mark.next_funding_ts - T0 <= 3_600_000


def fill(time: int, tid: int, cloid: str | None = None, **kw: object) -> dict[str, object]:
    row: dict[str, object] = {
        "coin": "BTC",
        "px": "60000",
        "sz": "0.001",
        "side": "B",
        "time": time,
        "oid": 11,
        "crossed": False,
        "fee": "-0.0006",
        "feeToken": "USDC",
        "tid": tid,
        "hash": "0x",
        "startPosition": "0",
        "dir": "Open Long",
        "closedPnl": "0",
    }
    if cloid is not None:
        row["cloid"] = cloid
    row.update(kw)
    return row


def test_fills_get_increasing_trade_ids_from_time_and_tid() -> None:
    # Hyperliquid's tid does not increase with time (passivbot PR #1428): the neutral id does.
    rows = [
        fill(T0 + 1, 1_109_260_071_634_171),
        fill(T0, 952_357_507_764_053),
        fill(T0 + 1, 5),
        fill(T0, 9, coin="ETH"),
    ]
    fills = parse_fills(rows, BTC)
    assert [f.ts for f in fills] == [T0, T0 + 1, T0 + 1]
    ids = [f.trade_id for f in fills]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert all(trade_id_time_ms(i) == f.ts for i, f in zip(ids, fills, strict=True))
    f = fills[0]
    assert f.is_maker and f.fee == Decimal("-0.0006") and f.qty == 100 and f.price == 600000
    assert fill_trade_id(T0, 5) < fill_trade_id(T0 + 1, 4)
    ten_years = 3_650 * 86_400_000
    assert fill_trade_id(T0 + ten_years, 2**60) < 2**63  # fits SQLite INTEGER until 2041
    with pytest.raises(ProtocolError):
        fill_trade_id(1_000, 1)


def test_clearinghouse_open_orders_and_status() -> None:
    ch = {
        "marginSummary": {
            "accountValue": "10000.5",
            "totalNtlPos": "0",
            "totalRawUsd": "0",
            "totalMarginUsed": "0",
        },
        "withdrawable": "9000",
        "crossMaintenanceMarginUsed": "50",
        "assetPositions": [
            {"type": "oneWay", "position": {"coin": "ETH", "szi": "2", "entryPx": "3000"}},
            {
                "type": "oneWay",
                "position": {
                    "coin": "BTC",
                    "szi": "-0.012",
                    "entryPx": "60010",
                    "liquidationPx": "90000",
                    "leverage": {"type": "cross", "value": 5},
                    "maxLeverage": 40,
                },
            },
        ],
        "time": T0,
    }
    c = parse_clearinghouse(ch, BTC)
    assert c.position_lots == -1200 and c.entry_price == Decimal("60010")
    assert c.account_value == Decimal("10000.5") and c.leverage == 5 and c.time == T0
    cloid = CloidFormat().make(3, 9)
    rows = [
        {
            "coin": "BTC",
            "side": "A",
            "limitPx": "60010",
            "sz": "0.0005",
            "oid": 5,
            "timestamp": T0,
            "origSz": "0.001",
            "cloid": cloid,
        },
        {
            "coin": "ETH",
            "side": "A",
            "limitPx": "3000",
            "sz": "1",
            "oid": 6,
            "timestamp": T0,
            "origSz": "1",
        },
    ]
    (st_,) = parse_open_orders(rows, BTC)
    assert st_.cloid == cloid and st_.filled == 50 and st_.side is Side.SELL
    status = {
        "status": "order",
        "order": {
            "order": {**rows[0], "tif": "Alo"},
            "status": "canceled",
            "statusTimestamp": T0 + 5,
        },
    }
    got = parse_order_status(status, BTC)
    assert got is not None and got.status == "canceled" and got.ts == T0 + 5
    assert parse_order_status({"status": "unknownOid"}, BTC) is None
    assert parse_rate_limit({"cumVlm": "1", "nRequestsUsed": 12, "nRequestsCap": 10_001}) == 9989


def test_cloids_are_128_bit_hex_and_ours_are_recognised() -> None:
    fmt = CloidFormat("mmt")
    cid = fmt.make(0xFFFFFFFF, 0xFFFFFFFFFFFF)
    assert valid_cloid(cid) and len(cid) == 34 and fmt.parse(cid) == (0xFFFFFFFF, 0xFFFFFFFFFFFF)
    assert fmt.parse(fmt.make(7, 42)) == (7, 42)
    assert fmt.parse("0x" + "0" * 32) is None  # not ours
    assert fmt.parse(cid.upper().replace("0X", "0x")) is None
    with pytest.raises(ConfigError):
        CloidFormat("toolong")


def test_exchange_answers() -> None:
    ok = {
        "status": "ok",
        "response": {"type": "order", "data": {"statuses": [{"resting": {"oid": 77}}]}},
    }
    assert parse_order_answer(ok).oid == 77 and parse_order_answer(ok).resting
    filled = {
        "status": "ok",
        "response": {
            "type": "order",
            "data": {"statuses": [{"filled": {"totalSz": "0.02", "avgPx": "1891.4", "oid": 78}}]},
        },
    }
    assert not parse_order_answer(filled).resting
    bad_alo = {
        "status": "ok",
        "response": {
            "type": "order",
            "data": {
                "statuses": [
                    {"error": "Post only order would have immediately matched, bbo was 1/2."}
                ]
            },
        },
    }
    with pytest.raises(VenueError) as exc:
        parse_order_answer(bad_alo)
    assert exc.value.kind is RejectKind.WOULD_CROSS and exc.value.definite
    gone = {
        "status": "ok",
        "response": {
            "type": "cancel",
            "data": {
                "statuses": [{"error": "Order was never placed, already canceled, or filled."}]
            },
        },
    }
    with pytest.raises(VenueError) as exc:
        parse_cancel_answer(gone)
    assert exc.value.kind is RejectKind.UNKNOWN_ORDER
    parse_cancel_answer(
        {"status": "ok", "response": {"type": "cancel", "data": {"statuses": ["success"]}}}
    )
    assert parse_cancel_batch(
        {
            "status": "ok",
            "response": {"type": "cancel", "data": {"statuses": ["success", {"error": "x"}]}},
        }
    ) == [None, "x"]
    parse_default_answer({"status": "ok", "response": {"type": "default"}})
    with pytest.raises(AuthError):
        parse_default_answer(
            {"status": "err", "response": "User or API Wallet 0xabc does not exist."}
        )
    with pytest.raises(ProtocolError):
        parse_order_answer(
            {"status": "ok", "response": {"type": "order", "data": {"statuses": []}}}
        )


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Post only order would have immediately matched, bbo was 1/2.", RejectKind.WOULD_CROSS),
        ("Price must be divisible by tick size.", RejectKind.INVALID_PRICE),
        ("Order has invalid price.", RejectKind.INVALID_PRICE),
        ("Order must have minimum value of $10.", RejectKind.INVALID_SIZE),
        ("Order has zero size.", RejectKind.INVALID_SIZE),
        ("Insufficient margin to place order.", RejectKind.INSUFFICIENT_MARGIN),
        ("Reduce only order would increase position.", RejectKind.REDUCE_ONLY),
        ("Order was never placed, already canceled, or filled.", RejectKind.UNKNOWN_ORDER),
        ("Cannot modify canceled or filled order", RejectKind.UNKNOWN_ORDER),
        ("User or API Wallet 0x12 does not exist.", RejectKind.AUTH),
        ("Unknown asset 999.", RejectKind.UNKNOWN),
        ("Something new the venue says", RejectKind.UNKNOWN),
    ],
)
def test_error_texts_map_to_reject_kinds(text: str, kind: RejectKind) -> None:
    assert hl_errors.kind_of(text) is kind
    err = hl_errors.rejection(text)
    assert err.kind is kind and err.definite and err.msg == text


def test_nonce_and_http_errors() -> None:
    assert isinstance(hl_errors.rejection("Invalid nonce: duplicate nonce"), ClockSkewError)
    limited = hl_errors.http_error(429, "", None)
    assert isinstance(limited, RateLimited) and limited.retry_after_s is None
    assert isinstance(hl_errors.http_error(502, "bad gateway", None), OutcomeUnknownError)
    refused = hl_errors.http_error(422, "Failed to deserialize the JSON body", None)
    assert refused.definite and refused.kind is RejectKind.UNKNOWN
