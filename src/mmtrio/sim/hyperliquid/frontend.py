"""The Hyperliquid front end: the shared engine's happenings in Hyperliquid's protocol.

Serves ``POST /info`` and ``POST /exchange`` (:mod:`.rest`, :mod:`.info`, :mod:`.exchange`)
and the websocket ``/ws`` (:mod:`.ws`: subscriptions and the ``post`` method) over the shared
servers. Market data re-expresses the replayed recording in Hyperliquid's terms
(:mod:`.grid`: the coin name, size decimals, 20-level ``l2Book`` snapshots on the
5-significant-figure grid, one per block in which the published book changed; ``trades``;
``activeAssetCtx`` with the mark and the hourly funding rate). The user channels
(``orderUpdates``, ``userFills``, ``userEvents``) carry the paper account's orders, fills and
funding; every action's signature is verified by recovering its signer (:mod:`.auth`).

Funding is settled hourly (Hyperliquid's interval) at the recorded 8-hour rate scaled to the
hour. The dead-man is ``scheduleCancel``: the engine's countdown, armed to the requested
time; when it fires, the cancels say ``scheduledCancel`` and a trigger is counted against
the venue's 10 a day.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import trio

from mmtrio.core.events import BookDelta, ExecType, Fill, OrderStatus, OrderUpdate, Trade
from mmtrio.errors import ConfigError
from mmtrio.sim.frontend import AccountCause, AsgiApp, FrontEndFactory
from mmtrio.sim.hub import StreamConn
from mmtrio.sim.hyperliquid.auth import Accounts
from mmtrio.sim.hyperliquid.candles import CandleFeed
from mmtrio.sim.hyperliquid.grid import Grid, coin_of
from mmtrio.sim.hyperliquid.l2 import FULL, Aggregation
from mmtrio.sim.hyperliquid.orders import Legs, fill_json, order_json, side_word, tid_of, tx_hash
from mmtrio.sim.limits import LimitConfig
from mmtrio.sim.wsserve import serve_ws_connection
from mmtrio.venues.hyperliquid.codec import fill_trade_id

if TYPE_CHECKING:
    from mmtrio.sim.venue import SimVenue

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
RAW_LEVELS = 400  # recorded levels read to fill 20 levels a side on the coarser grid
AGGREGATED_RAW_LEVELS = 5000  # read for nSigFigs buckets (the recording's whole depth)
IP_WEIGHT_PER_MINUTE = 1200
INITIAL_ACTIONS = 10_000
DAILY_TRIGGERS = 10


@dataclass
class Budget:
    """The address's action budget: 10,000 + 1 per USDC traded (``userRateLimit``)."""

    used: int = 0
    volume: Decimal = Decimal(0)

    @property
    def cap(self) -> int:
        return INITIAL_ACTIONS + int(self.volume)


MAINT_MARGIN_RATE = Decimal("0.0125")


class HyperliquidFrontEnd:
    """:class:`~mmtrio.sim.frontend.FrontEnd` for Hyperliquid perpetuals."""

    name = "hyperliquid"
    # The official SDK opens its websocket at the REST base + "/ws" (as on the venue, one
    # host): the REST port serves /ws too (mmtrio.sim.door), besides the websocket port.
    ws_on_rest_port = True

    def __init__(self, venue: SimVenue, accounts: Accounts) -> None:
        from mmtrio.sim.hyperliquid.rest import RestApp
        from mmtrio.sim.hyperliquid.ws import HyperliquidWs

        self.venue = venue
        self.accounts = accounts
        self.grid = Grid(venue.instrument)
        self.coin = self.grid.coin
        self.symbol = self.coin  # the instrument's name in this protocol
        self.legs = Legs()
        self.budget = Budget()
        self.ws = HyperliquidWs(self)
        self.rest = RestApp(self)
        self._l2_topics: dict[str, Aggregation] = {self.topic("l2Book"): FULL}
        self._last_book: dict[str, tuple[Any, Any]] = {}  # topic -> the last book published
        self.candle_feeds: dict[str, CandleFeed] = {}  # topic -> its interval's candle
        self._last_mid: str | None = None
        self.book_msg: dict[str, Any] | None = None  # the last l2Book published
        self._armed_deadline: float | None = None
        self._fired_deadline: float | None = None
        self.triggers: dict[int, int] = {}  # UTC day -> scheduleCancel triggers
        self.leverage = 40  # cross, 1..maxLeverage: `updateLeverage` (exchange.py) sets it
        self._scheduled: OrderedDict[str, None] = OrderedDict()  # cancelled by the dead-man
        # One object for the venue's config and its limiter: the admin API's rate knobs
        # (/admin/config weight_per_minute, ...) change venue.config.limits in place.
        venue.config.limits = venue.limiter.config = LimitConfig(
            weight_per_minute=IP_WEIGHT_PER_MINUTE,
            orders_per_10s=10**9,  # Hyperliquid counts actions per address, not orders per IP
            orders_per_minute=10**9,
            ban_seconds=venue.limiter.config.ban_seconds,
            inflight_grace_s=venue.limiter.config.inflight_grace_s,
        )
        venue.set_funding_interval(HOUR_MS)
        # maintenance margin at half the initial margin of its 40x maximum leverage (the
        # clearinghouse answer's figures): the liquidation price follows from it
        venue.maint_margin_rate = MAINT_MARGIN_RATE
        venue.attach(self)

    # --- topics ----------------------------------------------------------------------------
    def topic(self, kind: str) -> str:
        return f"{kind}:{self.coin}"

    # --- engine -> front end ---------------------------------------------------------------
    def book_payload(self, agg: Aggregation = FULL) -> dict[str, Any]:
        """An ``l2Book`` snapshot: the grid book, or aggregated as ``agg`` says (:mod:`.l2`)."""
        v = self.venue
        bids, asks = v.book.top(RAW_LEVELS if agg.full else AGGREGATED_RAW_LEVELS)
        ours = (v.book.our_bids, v.book.our_asks)
        b, a = self.grid.book(bids, asks, ours, None if agg.full else agg.rounding())
        g = self.grid
        return {
            "coin": self.coin,
            "time": v.out_ts(),
            "levels": [
                [{"px": g.px(p), "sz": g.sz(q), "n": n} for p, q, n in b],
                [{"px": g.px(p), "sz": g.sz(q), "n": n} for p, q, n in a],
            ],
        }

    def l2_topic(self, agg: Aggregation) -> str:
        """The websocket topic of ``l2Book`` snapshots aggregated as ``agg`` (remembered, so
        each book change publishes every aggregation someone subscribed to)."""
        topic = self.topic("l2Book") + agg.suffix()
        self._l2_topics.setdefault(topic, agg)  # bounded: the valid aggregations are few
        return topic

    def candle_topic(self, interval: str) -> str:
        """The ``candle`` topic of an interval (its feed kept: at most one per interval)."""
        topic = f"{self.topic('candle')}:{interval}"
        if topic not in self.candle_feeds:
            self.candle_feeds[topic] = CandleFeed(self, interval)
        return topic

    def all_mids(self) -> dict[str, Any]:
        ctx = self.asset_ctx()
        return {self.coin: ctx["midPx"] or ctx["markPx"]}

    def on_book(self, delta: BookDelta) -> None:
        hub = self.venue.hub
        if hub.has_subscribers("allMids"):
            mids = self.all_mids()
            if mids[self.coin] != self._last_mid:  # a block that moved no mid sends none
                self._last_mid = mids[self.coin]
                hub.publish("allMids", {"channel": "allMids", "data": {"mids": mids}})
        for topic, agg in self._l2_topics.items():
            if not hub.has_subscribers(topic):
                self._last_book.pop(topic, None)
                continue
            data = self.book_payload(agg)
            key = (tuple((x["px"], x["sz"]) for x in data["levels"][0]),
                   tuple((x["px"], x["sz"]) for x in data["levels"][1]))  # fmt: skip
            if key == self._last_book.get(topic):
                continue  # a block that changed nothing in the top 20 publishes nothing
            self._last_book[topic] = key
            msg = {"channel": "l2Book", "data": data}
            if agg.full:
                self.book_msg = msg
            hub.publish_book(topic, msg)

    def on_trade(self, trade: Trade) -> None:
        for candle_topic, feed in self.candle_feeds.items():
            if self.venue.hub.has_subscribers(candle_topic):
                row = feed.on_trade(trade)
                if row is not None:
                    self.venue.hub.publish(candle_topic, {"channel": "candle", "data": row})
            else:
                feed.current = None
        topic = self.topic("trades")
        if not self.venue.hub.has_subscribers(topic):
            return
        g = self.grid
        data = [
            {
                "coin": self.coin,
                "side": side_word(trade.aggressor),
                "px": g.px(g.trade_price(trade.price, trade.aggressor)),
                "sz": g.sz(trade.qty),
                "time": self.venue.out_ts(trade.ts),
                "hash": tx_hash(trade.trade_id),
                "tid": tid_of(trade.trade_id),
                "users": ["0x" + "0" * 40, "0x" + "0" * 40],
            }
        ]
        self.venue.hub.publish(topic, {"channel": "trades", "data": data})

    def on_ticker(self) -> None:
        topic = self.topic("bbo")
        if not self.venue.hub.has_subscribers(topic):
            return
        data = self.book_payload()
        bbo = [side[0] if side else None for side in data["levels"]]
        self.venue.hub.publish(
            topic, {"channel": "bbo", "data": {"coin": self.coin, "time": data["time"], "bbo": bbo}}
        )

    def asset_ctx(self) -> dict[str, Any]:
        v = self.venue
        mark = v.mark_price()
        oracle = v.index if v.index is not None else mark
        bid, ask = v.book.best()
        mid = (
            v.instrument.ticks_to_price(bid[0] + ask[0]) / 2
            if bid is not None and ask is not None
            else None
        )
        return {
            "funding": str(v.funding_rate),
            "openInterest": "0.0",
            "prevDayPx": str(mark),
            "dayNtlVlm": "0.0",
            "premium": "0.0",
            "oraclePx": str(oracle),
            "markPx": str(mark),
            "midPx": None if mid is None else str(mid),
            "impactPxs": None,
            "dayBaseVlm": "0.0",
        }

    def on_mark(self) -> None:
        topic = self.topic("activeAssetCtx")
        if self.venue.hub.has_subscribers(topic):
            data = {"coin": self.coin, "ctx": self.asset_ctx()}
            self.venue.hub.publish(topic, {"channel": "activeAssetCtx", "data": data})

    def _cause(self, update: OrderUpdate) -> str:
        """``scheduledCancel`` for the dead-man's cancels (and count the trigger once)."""
        if update.status is not OrderStatus.CANCELED or self._armed_deadline is None:
            return ""
        v = self.venue
        if v.countdown_deadline is None and trio.current_time() >= self._armed_deadline:
            if self._fired_deadline != self._armed_deadline:
                self._fired_deadline = self._armed_deadline
                day = v.wall_ms() // DAY_MS
                self.triggers[day] = self.triggers.get(day, 0) + 1
            return "scheduledCancel"
        return ""

    def on_order(self, update: OrderUpdate, realized: Decimal) -> None:
        v = self.venue
        rec = v.account.orders.get(update.client_id)
        if rec is None:
            return
        ts = v.out_ts(update.ts)
        rows: list[dict[str, Any]] = []
        if update.exec_type is ExecType.AMENDMENT:
            old, new = self.legs.modified(rec)
            gone = order_json(self.grid, rec, old, ts)
            left = old.orig - (new.base_cum - old.base_cum)  # the old leg's unfilled size
            gone["sz"] = self.grid.sz(max(0, left))
            rows.append({"order": gone, "status": "canceled", "statusTimestamp": ts})
            rows.append(
                {"order": order_json(self.grid, rec, new, ts), "status": "open",
                 "statusTimestamp": ts}
            )  # fmt: skip
        else:
            leg = self.legs.leg(rec)
            cause = self._cause(update)
            if cause:
                self._scheduled[rec.client_id] = None
                while len(self._scheduled) > 100_000:
                    self._scheduled.popitem(last=False)
            status = _word(rec.status, cause)
            rows.append(
                {"order": order_json(self.grid, rec, leg, ts), "status": status,
                 "statusTimestamp": ts}
            )  # fmt: skip
        hub = v.hub
        hub.publish_user({"channel": "orderUpdates", "data": rows})
        fill = update.fill
        if fill is not None:
            leg = self.legs.leg(rec)
            self.legs.note_fill(fill.trade_id, leg.oid)
            notional = v.instrument.notional(fill.price, fill.qty)
            self.budget.volume += notional
            row = fill_json(
                self.grid, fill, leg.oid, v.out_ts(fill.ts), realized, v.account.position
            )
            user = self.accounts.account
            hub.publish_user(
                {"channel": "userFills", "data": {"user": user, "fills": [row]}}, fill=True
            )
            hub.publish_user({"channel": "user", "data": {"fills": [row]}})

    def on_account(self, cause: AccountCause, balance_change: Decimal) -> None:
        if cause is not AccountCause.FUNDING:
            return
        v = self.venue
        data = {
            "funding": {
                "time": v.out_ts(),
                "coin": self.coin,
                "usdc": str(balance_change),
                "szi": _signed_sz(self.grid, v.account.position),
                "fundingRate": str(v.funding_rate),
                "nSamples": None,
            }
        }
        v.hub.publish_user({"channel": "user", "data": data})

    def end_user_session(self, reason: str) -> None:
        # Hyperliquid's user channels have no session key: the closest is the connection
        # dropping, which is what the fault does.
        self.venue.hub.close_user_streams(reason)

    # --- dead-man ---------------------------------------------------------------------------
    def was_scheduled_cancel(self, client_id: str) -> bool:
        return client_id in self._scheduled

    def triggers_today(self) -> int:
        return self.triggers.get(self.venue.wall_ms() // DAY_MS, 0)

    def arm_deadman(self, delay_ms: int | None) -> None:
        """Arm the countdown ``delay_ms`` from now (None disarms it)."""
        if delay_ms is None:
            self.venue.set_countdown(0)
            self._armed_deadline = None
            return
        self.venue.set_countdown(delay_ms)
        self._armed_deadline = self.venue.countdown_deadline

    # --- serving ---------------------------------------------------------------------------
    @property
    def rest_app(self) -> AsgiApp:
        return self.rest

    async def serve_ws(self, stream: trio.abc.Stream) -> None:
        await serve_ws_connection(self.venue, self.ws, stream)

    async def run(self) -> None:
        """Hosts the websocket ``post`` answers (each in its own task, so one slow answer
        does not hold the connection's other messages)."""
        async with trio.open_nursery() as nursery:
            self.ws.nursery = nursery
            try:
                await trio.sleep_forever()
            finally:
                self.ws.nursery = None

    def client_trade_id(self, fill: Fill) -> int:
        """The neutral id the bot's connector books this fill under: from its wire time and
        its (non-increasing) ``tid`` (:func:`mmtrio.venues.hyperliquid.codec.fill_trade_id`)."""
        return fill_trade_id(self.venue.out_ts(fill.ts), tid_of(fill.trade_id))

    def admin_order(self, params: dict[str, Any]) -> Any:
        """An order as an unsigned ``order`` action's first order would place it."""
        from mmtrio.sim.hyperliquid.exchange import place_wire

        return place_wire(self, params)

    def client_urls(self, rest: str, ws: str) -> dict[str, str]:
        return {"rest": rest, "market_ws": ws, "private_ws": ws}

    def client_credentials(self) -> dict[str, str]:
        return {"private_key": self.accounts.agent_key, "account": self.accounts.account}


def _word(status: str, cause: str) -> str:
    from mmtrio.sim.hyperliquid.orders import status_word

    return status_word(status, cause)


def _signed_sz(grid: Grid, lots: int) -> str:
    return grid.sz(lots) if lots >= 0 else "-" + grid.sz(-lots)


@dataclass(frozen=True, slots=True)
class HyperliquidFactory:
    """Registered in :mod:`mmtrio.sim.frontends` as ``hyperliquid``."""

    name: str = "hyperliquid"
    credential_fields: tuple[str, ...] = ("private_key", "account")

    def data_symbol(self, symbol: str) -> str:
        """``BTC`` → ``BTCUSDT``: the shipped recordings quote in USDT (a name that already
        ends in a quote asset is taken as the recording's own)."""
        return symbol if coin_of(symbol) != symbol else f"{symbol}USDT"

    def create(
        self, venue: SimVenue, credentials: Mapping[str, str] | None = None
    ) -> HyperliquidFrontEnd:
        given = dict(credentials or {})
        unknown = sorted(set(given) - set(self.credential_fields))
        if unknown:
            raise ConfigError(
                f"the hyperliquid sim takes credentials {', '.join(self.credential_fields)}; "
                f"got {', '.join(unknown)}"
            )
        accounts = Accounts.paper(given.get("private_key"), given.get("account"))
        return HyperliquidFrontEnd(venue, accounts)


FRONT_END = HyperliquidFactory()
_SEAM: FrontEndFactory = FRONT_END  # mypy checks the factory against the seam

__all__ = ["FRONT_END", "HyperliquidFactory", "HyperliquidFrontEnd", "StreamConn"]
