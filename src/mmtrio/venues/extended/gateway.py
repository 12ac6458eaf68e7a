"""The Extended gateway: the venue seam's :class:`~mmtrio.venues.protocol.Gateway` over REST.

**Capabilities, declared as they are.** Extended edits an order by *replacing* it: a new
order (a new external id, a new signature) carrying ``cancelId`` = the old order's external
id, which Extended cancels atomically with the placement. mmtrio's seam has no command that
replaces one client id by another (``amend`` keeps the client id), so Extended is declared
without amend (``amend=False``): the strategy replaces a quote by a cancel, then a new
order. ``cancelId`` is implemented (:class:`~mmtrio.venues.extended.codec.OrderRequest`,
served and tested by the simulated venue) for the day the seam carries a replace.

**Dead-man switch.** ``POST /user/deadmanswitch?countdownTime=<s>`` (Extended's "Mass
Auto-Cancel"): whole seconds, account-wide (every market of this sub-account), refreshed by
the runtime. Orders are also signed with a finite expiry (:data:`ORDER_TTL_MS`), so an order
outlives a dead process by at most that long even if the switch never fired.

**Asynchronous acceptance.** ``POST /user/order`` answers once the API accepted the order;
the matching engine may still reject it (a post-only order that would take is REJECTED with
``POST_ONLY_FAILED``), which arrives on the account stream. The ack is therefore NEW.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from mmtrio.core.commands import AmendOrder, CancelOrder, PlaceOrder
from mmtrio.core.events import ExecType, Fill, OrderStatus, OrderUpdate, TimeInForce
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ConfigError
from mmtrio.venues.extended import codec
from mmtrio.venues.extended.codec import MarketInfo, OrderRequest, OrderState
from mmtrio.venues.extended.nonces import NonceAllocator
from mmtrio.venues.extended.rest import TRADES_PAGE, ExtendedRest
from mmtrio.venues.extended.signing import StarkKey
from mmtrio.venues.protocol import Capabilities, OrderAck

__all__ = ["CAPABILITIES", "ORDER_TTL_MS", "ExtendedGateway", "KnownOrders", "state_to_update"]

CAPABILITIES = Capabilities(
    amend=False, amend_keeps_priority=False, batch=False, ws_order_entry=False, deadman=True
)
ORDER_TTL_MS = 3_600_000
"""Every order is signed to expire an hour after it was sent (the SDK's default too)."""
MAX_KNOWN = 10_000
MAX_TRADE_PAGES = 50

_EXEC_FOR_STATUS: dict[OrderStatus, ExecType] = {
    OrderStatus.NEW: ExecType.NEW,
    OrderStatus.PARTIALLY_FILLED: ExecType.NEW,
    OrderStatus.FILLED: ExecType.NEW,
    OrderStatus.CANCELED: ExecType.CANCELED,
    OrderStatus.EXPIRED: ExecType.EXPIRED,
    OrderStatus.REJECTED: ExecType.EXPIRED,
}
_OPEN = (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


def state_to_update(symbol: str, st: OrderState, fill: Fill | None = None) -> OrderUpdate:
    """An order state as the core's OrderUpdate (TRADE with ``fill``, else by status)."""
    return OrderUpdate(
        symbol=symbol,
        client_id=st.client_id,
        order_id=st.order_id,
        side=st.side,
        exec_type=ExecType.TRADE if fill is not None else _EXEC_FOR_STATUS[st.status],
        status=st.status,
        price=st.price,
        qty=st.qty,
        cum_qty=st.cum_qty,
        time_in_force=st.time_in_force,
        reduce_only=st.reduce_only,
        ts=st.ts,
        fill=fill,
    )


class KnownOrders:
    """The last state of each order this session saw (bounded), shared by the gateway and the
    account stream: REST trades name only Extended's order id, and a stream TRADE needs the
    order's price and size to become an OrderUpdate."""

    def __init__(self, limit: int = MAX_KNOWN) -> None:
        self._by_client: OrderedDict[str, OrderState] = OrderedDict()
        self._client_of: dict[int, str] = {}
        self._limit = limit

    def remember(self, st: OrderState) -> None:
        old = self._by_client.get(st.client_id)
        if old is not None and old.cum_qty > st.cum_qty:
            st = replace(st, cum_qty=old.cum_qty)
        self._by_client[st.client_id] = st
        self._by_client.move_to_end(st.client_id)
        self._client_of[st.order_id] = st.client_id
        while len(self._by_client) > self._limit:
            _, gone = self._by_client.popitem(last=False)
            self._client_of.pop(gone.order_id, None)

    def get(self, client_id: str) -> OrderState | None:
        return self._by_client.get(client_id)

    def client_id_of(self, order_id: int) -> str | None:
        return self._client_of.get(order_id)


class ExtendedGateway:
    """Gateway for one market and one Stark-keyed account (module docstring)."""

    capabilities = CAPABILITIES

    def __init__(  # noqa: PLR0917 - the session's parts
        self,
        rest: ExtendedRest,
        market: MarketInfo,
        key: StarkKey,
        nonces: NonceAllocator,
        fees: tuple[Decimal, Decimal],
        known: KnownOrders,
        venue_ms: Callable[[], int],
    ) -> None:
        self.rest = rest
        self.market = market
        self.instrument: Instrument = market.instrument
        self.key = key
        self.nonces = nonces
        self.maker_fee, self.taker_fee = (max(f, Decimal(0)) for f in fees)
        self.known = known
        self._venue_ms = venue_ms

    def _check(self, symbol: str) -> None:
        if symbol != self.instrument.symbol:
            raise ConfigError(
                f"gateway for {self.instrument.symbol} was asked to trade {symbol}; "
                "start one gateway per market"
            )

    async def signed_body(self, cmd: PlaceOrder, cancel_id: str | None = None) -> dict[str, object]:
        """The signed ``POST /user/order`` body for ``cmd`` (a fresh nonce)."""
        inst = self.instrument
        post_only = cmd.time_in_force is TimeInForce.POST_ONLY
        req = OrderRequest(
            external_id=cmd.client_id,
            symbol=inst.symbol,
            side=cmd.side,
            qty=inst.qty_str(cmd.qty),
            price=inst.price_str(cmd.price),
            post_only=post_only,
            reduce_only=cmd.reduce_only,
            ioc=cmd.time_in_force is TimeInForce.IOC,
            expiry_ms=self._venue_ms() + ORDER_TTL_MS,
            fee_rate=self.maker_fee if post_only else self.taker_fee,
            cancel_id=cancel_id,
        )
        nonce = await self.nonces.next()
        st = self.key.settle(
            cmd.side.value,
            inst.lots_to_qty(cmd.qty),
            inst.ticks_to_price(cmd.price),
            req.fee_rate,
            self.market.l2,
            req.expiry_ms,
            nonce,
        )
        return codec.order_body(req, st, self.key.public_key, self.key.vault)

    async def place(self, cmd: PlaceOrder) -> OrderAck:
        self._check(cmd.symbol)
        body = await self.signed_body(cmd)
        order_id, external = await self.rest.place_order(body)
        ts = self._venue_ms()
        self.known.remember(
            OrderState(
                external,
                order_id,
                cmd.side,
                OrderStatus.NEW,
                cmd.price,
                cmd.qty,
                0,
                cmd.time_in_force,
                cmd.reduce_only,
                ts,
                "",
            )
        )
        return OrderAck(external, order_id, OrderStatus.NEW, ts)

    async def amend(self, cmd: AmendOrder) -> OrderAck:
        raise ConfigError(
            "Extended has no amend in place (capabilities.amend is False): replace the order"
        )

    async def cancel(self, cmd: CancelOrder) -> None:
        self._check(cmd.symbol)
        await self.rest.cancel_by_external_id(cmd.client_id)

    async def cancel_all(self, symbol: str) -> None:
        self._check(symbol)
        await self.rest.mass_cancel(symbol)

    async def query(self, symbol: str, client_id: str) -> OrderUpdate | None:
        self._check(symbol)
        data = await self.rest.orders_by_external_id(client_id)
        states = [s for s in codec.parse_orders(data, self.instrument) if s.client_id == client_id]
        if not states:
            return None
        st = max(states, key=lambda s: (s.ts, s.order_id))
        self.known.remember(st)
        return state_to_update(symbol, st)

    async def open_orders(self, symbol: str) -> list[OrderUpdate]:
        self._check(symbol)
        states = codec.parse_orders(await self.rest.open_orders(symbol), self.instrument)
        out: list[OrderUpdate] = []
        for st in states:
            if st.status in _OPEN:
                self.known.remember(st)
                out.append(state_to_update(symbol, st))
        return out

    async def position(self, symbol: str) -> tuple[int, Decimal]:
        self._check(symbol)
        return codec.parse_position(await self.rest.positions(symbol), self.instrument)

    async def user_trades(self, symbol: str, from_id: int | None) -> list[Fill]:
        """Every fill with id >= ``from_id``, oldest first. Extended lists newest first and
        pages backwards (``cursor`` = the last id seen), so pages are read until one reaches
        below ``from_id`` or comes back short (at most ``MAX_TRADE_PAGES``)."""
        self._check(symbol)
        seen: dict[int, Fill] = {}
        cursor: int | None = None
        for _ in range(MAX_TRADE_PAGES):
            page = codec.parse_trades(await self.rest.trades(symbol, cursor), self.instrument)
            for fill in page:
                if from_id is None or fill.trade_id >= from_id:
                    seen[fill.trade_id] = self._named(fill)
            if from_id is None or len(page) < TRADES_PAGE:
                break
            oldest = min(f.trade_id for f in page)
            if oldest < from_id:
                break
            cursor = oldest
        return [seen[i] for i in sorted(seen)]

    def _named(self, fill: Fill) -> Fill:
        if fill.client_id:
            return fill
        client_id = self.known.client_id_of(fill.order_id)
        if client_id is None:
            return fill
        return Fill(
            fill.symbol, fill.trade_id, client_id, fill.order_id, fill.side, fill.price,
            fill.qty, fill.fee, fill.fee_asset, fill.is_maker, fill.ts,
        )  # fmt: skip

    async def arm_deadman(self, symbol: str, countdown_ms: int) -> None:
        """Arm the account's cancel-all countdown (whole seconds, rounded up; 0 disarms)."""
        self._check(symbol)
        await self.rest.deadman(math.ceil(countdown_ms / 1000) if countdown_ms > 0 else 0)
