"""The Hyperliquid connector against the simulated Hyperliquid venue, over real sockets.

One venue (the shipped BTCUSDT recording re-expressed as Hyperliquid's BTC) serves every test
of the module; each test opens its own connector session, as a bot would. Checked: the
instrument, account and clock; order entry over the websocket ``post`` method and the REST
fallback; modify as a cancel-replace (new oid, the core sees one order); a taker fill booked
once on the user stream and in ``userFills``; the dead-man (``scheduleCancel`` fires, the
cancels say so, a trigger is counted); every kind of bad input refused as Hyperliquid does
and mapped to its reject kind; stale snapshots after a stalled stream are BookInvalid.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio

from mmtrio.core.commands import AmendOrder, CancelOrder, PlaceOrder
from mmtrio.core.events import (
    BookInvalid,
    BookSnapshot,
    Event,
    ExecType,
    OrderStatus,
    OrderUpdate,
    Side,
    TimeInForce,
)
from mmtrio.core.rejects import RejectKind
from mmtrio.errors import AuthError, ClockSkewError, ConfigError, RateLimited, VenueError
from mmtrio.sim.hyperliquid import info
from mmtrio.sim.hyperliquid.frontend import HyperliquidFrontEnd
from mmtrio.sim.paper import PaperSpec, build_paper_venue
from mmtrio.sim.server import serve_sim
from mmtrio.venues.hyperliquid.codec_exchange import exchange_payload, place_action
from mmtrio.venues.hyperliquid.codec_info import instrument_of
from mmtrio.venues.hyperliquid.signing import AgentKey
from mmtrio.venues.hyperliquid.venue import HyperliquidSession
from mmtrio.venues.protocol import SessionHooks, SocketHealth, VenueCredentials, VenueSettings
from mmtrio.venues.registry import venue as venue_factory

pytestmark = pytest.mark.integration
DATA = Path(__file__).resolve().parents[2] / "data" / "binance-usdm" / "btcusdt_20240808.gz"
STRANGER = "0x" + "42" * 32


def wall_ms() -> int:
    return time.time_ns() // 1_000_000  # real sockets, a real process clock


class Sink:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def market(self, event: Any) -> None:
        self.events.append(event)

    def status(self, event: Any) -> None:
        self.events.append(event)


@asynccontextmanager
async def hl_sim() -> AsyncIterator[tuple[Any, Any]]:
    sim = build_paper_venue("hyperliquid", PaperSpec(data_files=(DATA,), speed=2.0))
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(serve_sim, sim)
        yield sim, urls
        nursery.cancel_scope.cancel()


def session(sim: Any, urls: Any, key: str | None = None, **options: Any) -> HyperliquidSession:
    creds = sim.front.client_credentials()
    s = venue_factory("hyperliquid").open(
        VenueSettings(
            "hyperliquid", "paper", sim.front.symbol,
            {"rest": urls.rest, "market_ws": urls.ws, "private_ws": urls.ws}, options=options,
        ),
        VenueCredentials(private_key=key or creds["private_key"], account=creds["account"]),
        SessionHooks(clock_ms=wall_ms),
    )  # fmt: skip
    assert isinstance(s, HyperliquidSession)
    return s


def ticks_near(inst: Any, price: str) -> int:
    """The recording's price (on its 0.1 tick) in the session's ticks, rounded down: the
    session's tick is the venue's step at the price level (1 near 61,800)."""
    return int(Decimal(price) // inst.tick_size)


async def wait_until(cond: Any, what: str, timeout_s: float = 10.0) -> None:
    with trio.move_on_after(timeout_s):
        while not cond():  # noqa: ASYNC110 - polling a live venue's state
            await trio.sleep(0.02)
        return
    raise AssertionError(f"timed out waiting for {what}")


async def test_orders_fills_and_the_dead_man_over_the_websocket(tmp_path: Path) -> None:
    async with hl_sim() as (sim, urls):
        s = session(sim, urls, state_dir=str(tmp_path))
        await s.sync_clock()
        inst = await s.load_instrument()
        assert (inst.symbol, inst.sig_figs, inst.quote_asset) == ("BTC", 5, "USDC")
        acct = await s.account()
        assert acct.wallet_balance > 0 and acct.detail["account"] == s.address
        gw = s.gateway
        market, user = Sink(), list[Event]()

        async def collect(ev: Event) -> None:
            user.append(ev)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(s.market_feed(inst).run, market)
            nursery.start_soon(s.user_feed(inst).run, collect)
            await wait_until(lambda: gw.post is not None and gw.post.connected, "the user stream")
            await wait_until(
                lambda: any(isinstance(e, BookSnapshot) for e in market.events), "a book"
            )
            book = [e for e in market.events if isinstance(e, BookSnapshot)][-1]
            assert len(book.bids) <= 20 and all(inst.is_valid_price(p) for p, _ in book.bids)

            # Post-only bid far below the market: rests, over the websocket post method.
            cid = s.client_ids.make(7, 1)
            price = inst.floor_price(book.bids[0][0] * 95 // 100)
            ack = await gw.place(PlaceOrder(cid, "BTC", Side.BUY, price, 1000))
            assert ack.status is OrderStatus.NEW and gw.via_ws == 1 and gw.via_rest == 0
            # the user stream's connection is the order socket (ws="orders" in the metrics)
            assert s.order_socket() == SocketHealth(True, 1, 1)
            (listed,) = await gw.open_orders("BTC")
            assert (listed.client_id, listed.price, listed.qty) == (cid, price, 1000)
            # Modify: a new oid under the same cloid; the core sees one order, amended.
            lower = inst.floor_price(price * 99 // 100)
            amended = await gw.amend(AmendOrder(cid, "BTC", Side.BUY, lower, 1500))
            assert amended.order_id != ack.order_id
            q = await gw.query("BTC", cid)
            assert q is not None and (q.price, q.qty, q.status) == (lower, 1500, OrderStatus.NEW)
            await gw.cancel(CancelOrder(cid, "BTC"))
            with pytest.raises(VenueError) as gone:
                await gw.cancel(CancelOrder(cid, "BTC"))
            assert gone.value.kind is RejectKind.UNKNOWN_ORDER
            await wait_until(
                lambda: any(isinstance(e, OrderUpdate) and e.status is OrderStatus.CANCELED
                            for e in user), "the cancel on the user stream",
            )  # fmt: skip
            # The old leg's cancel never reached the core: every update of the cloid before the
            # real cancel is live.
            mine = [e for e in user if isinstance(e, OrderUpdate) and e.client_id == cid]
            assert [e.status for e in mine].count(OrderStatus.CANCELED) == 1
            assert any(e.exec_type is ExecType.AMENDMENT for e in mine)

            # A taker fill: booked once on the stream, listed by userFills, position agrees.
            taker = s.client_ids.make(7, 2)
            ask = inst.ceil_price(book.asks[0][0] * 101 // 100)
            ack = await gw.place(PlaceOrder(taker, "BTC", Side.BUY, ask, 200, TimeInForce.IOC))
            assert ack.status is OrderStatus.FILLED
            await wait_until(
                lambda: any(isinstance(e, OrderUpdate) and e.fill is not None for e in user),
                "the fill on the user stream",
            )
            fills = [e.fill for e in user if isinstance(e, OrderUpdate) and e.fill is not None]
            assert sum(f.qty for f in fills) == 200 and all(f.client_id == taker for f in fills)
            listed_fills = await gw.user_trades("BTC", None)
            assert {f.trade_id for f in listed_fills} == {f.trade_id for f in fills}
            again = await gw.user_trades("BTC", min(f.trade_id for f in fills))
            assert {f.trade_id for f in again} >= {f.trade_id for f in fills}
            truth = {f["trade_id"] for f in sim.ground_truth()["fills"]}
            assert {f.trade_id for f in fills} <= truth  # the venue's ids, as the bot books them
            assert (await gw.position("BTC"))[0] == 200 == sim.account.position

            # The dead-man: armed 6 s ahead (5 s is the venue's minimum), not refreshed, fires.
            resting = s.client_ids.make(7, 3)
            await gw.place(PlaceOrder(resting, "BTC", Side.BUY, price, 1000))
            await gw.arm_deadman("BTC", 6_000)
            await wait_until(
                lambda: any(isinstance(e, OrderUpdate) and e.client_id == resting
                            and e.status is OrderStatus.CANCELED for e in user),
                "the scheduled cancel", timeout_s=15,
            )  # fmt: skip
            assert sim.front.triggers_today() == 1 and s.tracking.deadman_triggers(wall_ms()) == 1
            assert await gw.open_orders("BTC") == []
            nursery.cancel_scope.cancel()
        await s.aclose()


async def test_bad_input_is_refused_as_hyperliquid_does(tmp_path: Path) -> None:
    async with hl_sim() as (sim, urls):
        s = session(sim, urls)
        inst = await s.load_instrument()
        gw = s.gateway  # no user stream: every action goes over REST /exchange
        bid = (await gw.open_orders("BTC"), sim.book.best()[0])[1]
        assert bid is not None
        price = inst.floor_price(ticks_near(inst, sim.front.grid.px(bid[0])) * 95 // 100)
        ids = iter(range(100))

        def cmd(px: int, qty: int) -> PlaceOrder:
            return PlaceOrder(s.client_ids.make(9, next(ids)), "BTC", Side.BUY, px, qty)

        # Off the significant-figure grid (6 figures): the venue's Tick refusal. The session's
        # tick is the step at the price level (1: every tick is a valid price), so the price
        # goes out on the finest grid (3 decimals) to carry a sixth figure.
        gw.instrument = instrument_of("BTC", 3)
        fine = gw.instrument.price_to_ticks(inst.ticks_to_price(price)) + 1
        with pytest.raises(VenueError) as exc:
            await gw.place(cmd(fine, 1000))
        gw.instrument = inst
        assert exc.value.kind is RejectKind.INVALID_PRICE and gw.via_rest == 1
        # Below the $10 minimum value: one lot (0.001 BTC) at 5000.
        with pytest.raises(VenueError) as exc:
            await gw.place(cmd(inst.price_to_ticks(Decimal(5000)), 1))
        assert exc.value.kind is RejectKind.INVALID_SIZE
        # Post-only through the book.
        ask = sim.book.best()[1]
        through = inst.ceil_price(ticks_near(inst, sim.front.grid.px(ask[0])) * 101 // 100)
        with pytest.raises(VenueError) as exc:
            await gw.place(cmd(through, 1000))
        assert exc.value.kind is RejectKind.WOULD_CROSS

        # A key the account never approved: the recovered signer is a stranger.
        stranger = session(sim, urls, key=STRANGER)
        await stranger.load_instrument()
        with pytest.raises(AuthError) as auth:
            await stranger.gateway.place(cmd(price, 1000))
        assert AgentKey(STRANGER).address in auth.value.msg
        # A nonce used before: the venue refuses it (the same signed action sent twice).
        action = place_action(0, inst, cmd(price, 1000))
        nonce = wall_ms()
        body = exchange_payload(action, nonce, s.signer.sign(action, nonce), None)
        assert "resting" in str(await s.rest.exchange(body))
        with pytest.raises(ClockSkewError):
            from mmtrio.venues.hyperliquid.codec_exchange import parse_order_answer

            parse_order_answer(await s.rest.exchange(body))
        # Trailing zeros in a number are signed over bytes the venue does not hash.
        bad = place_action(0, inst, cmd(price, 1000))
        bad["orders"][0]["p"] += ".0"
        n2 = wall_ms() + 1
        answer = await s.rest.exchange(exchange_payload(bad, n2, s.signer.sign(bad, n2), None))
        assert answer["status"] == "err" and "does not exist" in answer["response"]
        # An unknown coin: refused at start, naming what the venue lists.
        wrong = venue_factory("hyperliquid").open(
            VenueSettings("hyperliquid", "paper", "DOGE",
                          {"rest": urls.rest, "market_ws": urls.ws, "private_ws": urls.ws}),
            VenueCredentials(private_key=sim.front.client_credentials()["private_key"]),
            SessionHooks(clock_ms=wall_ms),
        )  # fmt: skip
        with pytest.raises(ConfigError, match=r"lists no perpetual 'DOGE'.*BTC"):
            await wrong.load_instrument()
        for one in (s, stranger, wrong):
            await one.aclose()
        assert sim.front.rest.internal_errors == 0


async def test_snapshots_held_back_by_a_stalled_stream_are_stale() -> None:
    async with hl_sim() as (sim, urls):
        s = session(sim, urls, snapshot_max_age_ms=1_000)
        inst = await s.load_instrument()
        market = Sink()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(s.market_feed(inst).run, market)
            await wait_until(
                lambda: any(isinstance(e, BookSnapshot) for e in market.events), "a book"
            )
            sim.inject("ws_stall", {"target": "market", "seconds": 2.0})
            await wait_until(
                lambda: any(isinstance(e, BookInvalid) and "stale snapshot" in e.reason
                            for e in market.events), "a stale snapshot", timeout_s=15,
            )  # fmt: skip
            n = len(market.events)
            await wait_until(
                lambda: any(isinstance(e, BookSnapshot) for e in market.events[n:]),
                "a fresh snapshot after the stall",
                timeout_s=15,
            )
            nursery.cancel_scope.cancel()
        await s.aclose()


def test_the_admin_rate_knobs_reach_the_hyperliquid_limiter() -> None:
    # The front end sets Hyperliquid's 1200 IP weight a minute; /admin/config must still
    # move it (benchmarks lift it), which it did not while the limiter held its own copy.
    from mmtrio.sim.admin import configure

    sim = build_paper_venue("hyperliquid", PaperSpec(data_files=(DATA,), speed=2.0))
    assert sim.limiter.config.weight_per_minute == 1200
    configure(sim, {"weight_per_minute": 10**8})
    assert sim.limiter.config.weight_per_minute == 10**8
    assert sim.config.limits is sim.limiter.config


async def test_a_429_on_a_post_holds_every_request_and_a_skewed_clock_is_reread() -> None:
    async with hl_sim() as (sim, urls):
        s = session(sim, urls)
        await s.sync_clock()
        inst = await s.load_instrument()
        gw = s.gateway

        async def ignore(ev: Event) -> None:
            await trio.lowlevel.checkpoint()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(s.user_feed(inst).run, ignore)
            await wait_until(lambda: gw.post is not None and gw.post.connected, "the user stream")
            bid = sim.book.best()[0]
            assert bid is not None
            price = inst.floor_price(ticks_near(inst, sim.front.grid.px(bid[0])) * 95 // 100)
            order = PlaceOrder(s.client_ids.make(5, 1), "BTC", Side.BUY, price, 1000)

            # The venue's clock jumps 8 s ahead of ours: the dead-man's time (6 s ahead by our
            # clock) is in its past; the gateway re-reads the venue's clock and arms.
            sim.inject("clock_skew", {"ms": 8_000})
            await gw.arm_deadman("BTC", 5_000)
            assert gw.deadman_refused == 1 and sim.front.triggers_today() == 0
            await gw.arm_deadman("BTC", 0)

            # A post answered 429: the next requests, post or REST, are held back here (a
            # request sent into the back-off would earn a ban).
            sim.inject("http_429", {"count": 1, "retry_after": 30})
            with pytest.raises(RateLimited) as told:
                await gw.place(order)
            assert told.value.retry_after_s == 30  # the wait the answer states is the one kept
            sent = sim.limiter.requests
            resyncs: list[int] = []
            resync = gw.resync_clock
            assert resync is not None

            async def counted() -> object:
                resyncs.append(1)
                return await resync()

            gw.resync_clock = counted
            with pytest.raises(RateLimited, match="back-off in force"):
                await gw.arm_deadman("BTC", 5_000)
            # a rate limit is no clock's doing: no resync, whose reads rank below the refresh
            # in the budget (DST seed 21: refused for 14 s after a 429)
            assert resyncs == []
            with pytest.raises(RateLimited, match="back-off in force"):
                await gw.cancel(CancelOrder(order.client_id, "BTC"))
            assert sim.limiter.requests == sent and sim.limiter.count_418 == 0
            nursery.cancel_scope.cancel()
        await s.aclose()


async def test_a_post_sent_while_a_429_is_held_back_is_not_banned() -> None:
    async with hl_sim() as (sim, urls):
        s = session(sim, urls)
        await s.sync_clock()
        inst = await s.load_instrument()
        gw = s.gateway

        async def ignore(ev: Event) -> None:
            await trio.lowlevel.checkpoint()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(s.user_feed(inst).run, ignore)
            await wait_until(lambda: gw.post is not None and gw.post.connected, "the user stream")
            # The next answers sit 1.5 s in a latency fault; the first post meets a 429.
            sim.inject("delay", {"count": 2, "ms": 1_500})
            sim.inject("http_429", {"count": 1, "retry_after": 1})
            first = s.client_ids.make(6, 1)
            outcomes: list[BaseException] = []

            async def place(cid: str) -> None:
                try:
                    price = inst.price_to_ticks(Decimal(1))
                    await gw.place(PlaceOrder(cid, "BTC", Side.BUY, price, 1))
                except VenueError as exc:
                    outcomes.append(exc)

            nursery.start_soon(place, first)
            await trio.sleep(0.3)  # the 429 is still held: we cannot know of it yet
            await place(s.client_ids.make(6, 2))
            await wait_until(lambda: len(outcomes) == 2, "both answers")
            assert all(isinstance(o, RateLimited) for o in outcomes)
            assert sim.limiter.count_418 == 0  # in flight, not ignored: no ban
            nursery.cancel_scope.cancel()
        await s.aclose()


@pytest.mark.parametrize("kind", ["userFills", "userFillsByTime"])
def test_an_answer_s_items_weigh_in_the_ip_budget(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Hyperliquid's rate-limit page: one more weight per 20 items these reads return. The
    # sim counted only the base (20), so a client that ignored the per-item weight never
    # met the 429 the venue would have sent it.
    sim = build_paper_venue("hyperliquid", PaperSpec(data_files=(DATA,), speed=2.0))
    monkeypatch.setitem(info.HANDLERS, kind, lambda front, req: [{"tid": i} for i in range(45)])
    body = json.dumps({"type": kind, "user": "0x" + "11" * 20, "startTime": 0}).encode()
    assert isinstance(sim.front, HyperliquidFrontEnd)
    status, _answer, _drop = sim.front.rest.handle("/info", body, 100.0)
    assert status == 200
    assert sim.limiter.weight.current(100.0) == 20 + 2  # 45 items: two whole twenties
