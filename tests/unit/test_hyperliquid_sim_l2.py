"""The simulated Hyperliquid venue's ``l2Book`` aggregation (``nSigFigs``, ``mantissa``) and its
refusal of reads about a user that is no address.

The expectation is computed independently, in decimal prices: a level's bucket is
``mantissa × 10^(e − nSigFigs + 1)`` where ``e`` is the exponent of its price's first
figure; bids go down to their bucket, asks up; sizes and counts are summed; the best 20 a side.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmtrio.core.events import BookDelta, BookSnapshot
from mmtrio.core.instruments import Instrument
from mmtrio.sim.book import PublicBook
from mmtrio.sim.errors import SimBadRequest
from mmtrio.sim.hyperliquid import info
from mmtrio.sim.hyperliquid.frontend import FRONT_END, HyperliquidFrontEnd
from mmtrio.sim.hyperliquid.grid import LEVELS, Grid
from mmtrio.sim.hyperliquid.l2 import Aggregation, aggregation
from mmtrio.sim.paper import replay_driver
from mmtrio.sim.venue import SimConfig, SimVenue
from tests.integration.sim_helpers import DATA, data_instrument

ENGINE = Instrument("BTCUSDT", Decimal("0.1"), Decimal("0.001"), 1, 10**6, Decimal(5))
TICK = Decimal("0.1")
STRANGER = "0x" + "ab" * 20


def reference(
    levels: list[tuple[int, int]], sig_figs: int, mantissa: int, up: bool
) -> list[tuple[Decimal, int, int]]:
    """(price, lots, n) per bucket, best first, every raw level counted (no shortcut)."""
    cells: dict[Decimal, list[int]] = {}
    for ticks, lots in levels:
        price = ticks * TICK
        bucket = max(TICK, mantissa * Decimal(10) ** (price.adjusted() - sig_figs + 1))
        rounding = ROUND_CEILING if up else ROUND_FLOOR
        key = (price / bucket).to_integral_value(rounding=rounding) * bucket
        cell = cells.setdefault(key.normalize(), [0, 0])
        cell[0] += lots
        cell[1] += 1
    ordered = sorted(cells.items(), reverse=not up)[:LEVELS]
    return [(p, v[0], v[1]) for p, v in ordered]


def as_decimal(side: list[tuple[int, int, int]]) -> list[tuple[Decimal, int, int]]:
    return [((p * TICK).normalize(), q, n) for p, q, n in side]


# prices across a power of ten (9,000.0 .. 11,000.0) and around the recording's 60,000s
prices = st.sets(
    st.one_of(st.integers(90_000, 110_000), st.integers(590_000, 640_000)), max_size=150
)


@settings(max_examples=200, deadline=None)
@given(
    bid_px=prices,
    ask_px=prices,
    sizes=st.lists(st.integers(1, 5_000), min_size=300, max_size=300),
    agg=st.sampled_from([(2, 1), (3, 1), (4, 1), (5, 1), (5, 2), (5, 5)]),
)
def test_the_aggregated_book_equals_the_decimal_reference(
    bid_px: set[int], ask_px: set[int], sizes: list[int], agg: tuple[int, int]
) -> None:
    bids = [(p, sizes[i]) for i, p in enumerate(sorted(bid_px, reverse=True))]
    asks = [(p, sizes[150 + i]) for i, p in enumerate(sorted(ask_px))]
    # an uncrossed book (the aggregation never crosses an uncrossed one)
    if bids and asks and bids[0][0] >= asks[0][0]:
        asks = [(p, q) for p, q in asks if p > bids[0][0]]
    sig_figs, mantissa = agg
    aggregated = Aggregation(sig_figs, None if mantissa == 1 else mantissa)
    b, a = Grid(ENGINE).book(bids, asks, ({}, {}), aggregated.rounding())
    assert as_decimal(b) == reference(bids, sig_figs, mantissa, up=False)
    expected_asks = reference(asks, sig_figs, mantissa, up=True)
    best_bid = max((p for p, _, _ in as_decimal(b)), default=None)
    if best_bid is not None:
        expected_asks = [row for row in expected_asks if row[0] > best_bid]
    assert as_decimal(a) == expected_asks


def front_with_book(bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> Any:
    venue = SimVenue(replay_driver([DATA], data_instrument(DATA)), SimConfig())
    front = FRONT_END.create(venue)
    venue.book = PublicBook(venue.instrument, BookSnapshot("BTCUSDT", tuple(bids), tuple(asks), 0))
    return front


# bids 61812.3 (1.000), 61799.9 (0.500), 61750.0 (0.250), 61699.9 (2.000);
# asks 61812.4 (1.000), 61850.0 (0.500), 61900.1 (0.300)
BIDS = [(618123, 1000), (617999, 500), (617500, 250), (616999, 2000)]
ASKS = [(618124, 1000), (618500, 500), (619001, 300)]


def levels(book: Any) -> list[list[tuple[str, str, int]]]:
    return [[(x["px"], x["sz"], x["n"]) for x in side] for side in book["levels"]]


def test_l2book_with_nsigfigs_3_sums_each_hundred() -> None:
    front = front_with_book(BIDS, ASKS)
    book, _ = info.answer(front, {"type": "l2Book", "coin": "BTC", "nSigFigs": 3})
    assert levels(book) == [
        [("61800", "1", 1), ("61700", "0.75", 2), ("61600", "2", 1)],
        [("61900", "1.5", 2), ("62000", "0.3", 1)],
    ]


def test_l2book_with_mantissa_5_sums_each_five_dollars() -> None:
    front = front_with_book(BIDS, ASKS)
    body = {"type": "l2Book", "coin": "BTC", "nSigFigs": 5, "mantissa": 5}
    book, _ = info.answer(front, body)
    assert levels(book) == [
        [("61810", "1", 1), ("61795", "0.5", 1), ("61750", "0.25", 1), ("61695", "2", 1)],
        [("61815", "1", 1), ("61850", "0.5", 1), ("61905", "0.3", 1)],
    ]
    # nSigFigs 5 alone (and mantissa 1) is the full-precision grid of this price
    full, _ = info.answer(front, {"type": "l2Book", "coin": "BTC"})
    for extra in ({"nSigFigs": 5}, {"nSigFigs": 5, "mantissa": 1}, {"nSigFigs": None}):
        same, _ = info.answer(front, {"type": "l2Book", "coin": "BTC", **extra})
        assert levels(same) == levels(full)


@pytest.mark.parametrize(
    "extra",
    [
        {"nSigFigs": 1},
        {"nSigFigs": 6},
        {"nSigFigs": "3"},
        {"nSigFigs": True},
        {"nSigFigs": 3.0},
        {"nSigFigs": 4, "mantissa": 2},
        {"nSigFigs": 5, "mantissa": 3},
        {"mantissa": 2},
        {"nSigFigs": 5, "mantissa": "5"},
    ],
)
def test_invalid_aggregation_is_a_422(extra: dict[str, Any]) -> None:
    front = front_with_book(BIDS, ASKS)
    with pytest.raises(SimBadRequest) as err:
        info.answer(front, {"type": "l2Book", "coin": "BTC", **extra})
    assert err.value.status == 422
    assert str(err.value).startswith("Failed to deserialize the JSON body into the target type")
    with pytest.raises(SimBadRequest):
        aggregation(extra)


def test_l2book_without_a_coin_is_a_422_and_an_unknown_coin_null() -> None:
    front = front_with_book(BIDS, ASKS)
    with pytest.raises(SimBadRequest, match="missing field `coin`"):
        info.answer(front, {"type": "l2Book"})
    assert info.answer(front, {"type": "l2Book", "coin": "FOO"})[0] is None


USER_KEYED = ["clearinghouseState", "openOrders", "frontendOpenOrders", "userFills",
              "userRateLimit", "userFees", "spotClearinghouseState"]  # fmt: skip


@pytest.mark.parametrize("kind", USER_KEYED)
@pytest.mark.parametrize("user", [None, "nothex", "0x" + "ab" * 19, 42, "0x" + "zz" * 20])
def test_a_read_about_no_address_is_a_422(kind: str, user: Any) -> None:
    front = front_with_book(BIDS, ASKS)
    body = {"type": kind} if user is None else {"type": kind, "user": user}
    with pytest.raises(SimBadRequest) as err:
        info.answer(front, body)
    assert err.value.status == 422
    want = "missing field `user`" if user is None else "user: invalid value"
    assert want in str(err.value)


def test_a_valid_address_reads_its_state_in_any_case() -> None:
    front = front_with_book(BIDS, ASKS)
    stranger, _ = info.answer(front, {"type": "clearinghouseState", "user": STRANGER})
    assert stranger["marginSummary"]["accountValue"] == "0.0"
    mine, _ = info.answer(
        front,
        {"type": "clearinghouseState", "user": front.accounts.account.upper().replace("0X", "0x")},
    )
    assert Decimal(mine["marginSummary"]["accountValue"]) == front.venue.account.balance


@pytest.mark.parametrize("oid", [10**30, -1, True, None, 1.5, ["0x1"]])
def test_order_status_with_an_oid_that_is_neither_id_nor_cloid_is_a_422(oid: Any) -> None:
    front = front_with_book(BIDS, ASKS)
    body = {"type": "orderStatus", "user": front.accounts.account, "oid": oid}
    with pytest.raises(SimBadRequest, match="oid: invalid value") as err:
        info.answer(front, body)
    assert err.value.status == 422
    ok, _ = info.answer(front, {**body, "oid": 12345})
    assert ok == {"status": "unknownOid"}


def sub(front: HyperliquidFrontEnd, **fields: Any) -> Any:
    return {"method": "subscribe", "subscription": {"type": "l2Book", "coin": front.coin, **fields}}


async def test_an_aggregated_subscription_gets_its_own_snapshots() -> None:
    import json

    front = front_with_book(BIDS, ASKS)
    full_conn, agg_conn = front.ws.open("/ws"), front.ws.open("/ws")
    front.venue.hub.add(full_conn)
    front.venue.hub.add(agg_conn)
    (_, first) = await front.ws.on_message(full_conn, json.dumps(sub(front)))
    (echo, agg_first) = await front.ws.on_message(agg_conn, json.dumps(sub(front, nSigFigs=3)))
    assert json.loads(echo)["data"]["subscription"]["nSigFigs"] == 3
    assert levels(json.loads(agg_first)["data"])[0][0] == ("61800", "1", 1)
    assert levels(json.loads(first)["data"])[0][0] == ("61812", "1", 1)

    # a new level in the 61800 bucket: each connection gets the book as it subscribed to it
    delta = BookDelta("BTCUSDT", ((618050, 3000),), (), 1, 1)
    front.venue.book.publish(delta, {}, {})
    front.on_book(delta)
    agg_msg = json.loads(agg_conn.receive.receive_nowait()[1])
    full_msg = json.loads(full_conn.receive.receive_nowait()[1])
    assert levels(agg_msg["data"])[0][0] == ("61800", "4", 2)
    assert levels(full_msg["data"])[0][:2] == [("61812", "1", 1), ("61805", "3", 1)]

    for bad in ({"nSigFigs": 7}, {"nSigFigs": 3, "mantissa": 2}):
        (reply,) = await front.ws.on_message(agg_conn, json.dumps(sub(front, **bad)))
        assert json.loads(reply)["channel"] == "error"
        assert json.loads(reply)["data"].startswith("Invalid subscription")


async def test_a_user_channel_for_no_address_is_an_invalid_subscription() -> None:
    import json

    front = front_with_book(BIDS, ASKS)
    conn = front.ws.open("/ws")
    front.venue.hub.add(conn)
    for user in ("nothex", "0x123", None):
        msg = {"method": "subscribe", "subscription": {"type": "userFills", "user": user}}
        (reply,) = await front.ws.on_message(conn, json.dumps(msg))
        assert json.loads(reply)["channel"] == "error"
