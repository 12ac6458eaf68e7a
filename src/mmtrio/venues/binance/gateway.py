"""The Binance gateway: the venue seam's :class:`~mmtrio.venues.protocol.Gateway`.

Place, amend, cancel and query go over the order socket (:mod:`.wsapi`, ws-fapi) while it is
connected, else over REST; everything else (cancel-all, open orders, positions, fills, the
dead-man) is REST. A request the socket refused to send (down between the check and the
send) goes over REST; one the socket may have sent is never sent again (an unknown outcome,
resolved by query, exactly as on REST).

Answers are turned into neutral values here (an order state becomes the core's OrderUpdate,
an ack the protocol's OrderAck); errors arrive already neutral from ``errors.classify``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from mmtrio.core.commands import AmendOrder, CancelAll, CancelOrder, PlaceOrder, QueryOrder
from mmtrio.core.events import ExecType, Fill, OrderStatus, OrderUpdate
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ConfigError, ConnectionFailed, VenueError
from mmtrio.venues.binance import codec_rest as cr
from mmtrio.venues.binance.codec_rest import OrderState
from mmtrio.venues.binance.errors import CODE_NO_SUCH_ORDER
from mmtrio.venues.binance.rest import BinanceRest
from mmtrio.venues.binance.wsapi import WsOrderEntry, parse_or_unknown
from mmtrio.venues.protocol import Capabilities, OrderAck

__all__ = ["CAPABILITIES", "WS_CAPABILITIES", "RestGateway", "state_to_update"]

# PROTOCOL.md: PUT /fapi/v1/order modifies price and quantity but always loses priority;
# batch endpoints exist but mmtrio does not use them yet; countdownCancelAll is the dead-man.
CAPABILITIES = Capabilities(
    amend=True, amend_keeps_priority=False, batch=False, ws_order_entry=False, deadman=True
)
WS_CAPABILITIES = Capabilities(
    amend=True, amend_keeps_priority=False, batch=False, ws_order_entry=True, deadman=True
)
PAGE = 1000  # userTrades page size (Binance's maximum)
MAX_PAGES = 50  # bounded: 50 000 fills in one pass means something else is wrong

# A query result is a state, not an execution: it carries no fill, so it may not be TRADE
# (an OrderUpdate has a fill exactly when exec_type is TRADE). The status is what the order
# tracker acts on; the exec type only tells a reader what kind of fact it was.
_EXEC_FOR_STATUS: dict[OrderStatus, ExecType] = {
    OrderStatus.NEW: ExecType.NEW,
    OrderStatus.PARTIALLY_FILLED: ExecType.NEW,
    OrderStatus.FILLED: ExecType.NEW,
    OrderStatus.CANCELED: ExecType.CANCELED,
    OrderStatus.EXPIRED: ExecType.EXPIRED,
    OrderStatus.REJECTED: ExecType.EXPIRED,
}
T = TypeVar("T")
MAX_ORDER_IDS = 10_000  # bounded orderId → clientOrderId memory (userTrades names orderId only)


def state_to_update(state: OrderState, fill: Fill | None = None) -> OrderUpdate:
    """A REST order state (query, openOrders) as the OrderUpdate the core consumes.

    With ``fill`` the update is a TRADE carrying that fill and the order's current status
    (used by reconciliation to book a missed fill together with the order's fate)."""
    return OrderUpdate(
        symbol=state.symbol,
        client_id=state.client_id,
        order_id=state.order_id,
        side=state.side,
        exec_type=ExecType.TRADE if fill is not None else _EXEC_FOR_STATUS[state.status],
        status=state.status,
        price=state.price,
        qty=state.qty,
        cum_qty=state.cum_qty,
        time_in_force=state.time_in_force,
        reduce_only=state.reduce_only,
        ts=state.ts,
        fill=fill,
    )


class RestGateway:
    """Gateway over :class:`BinanceRest` (and the order socket, when given) for one
    instrument."""

    def __init__(
        self, rest: BinanceRest, instrument: Instrument, orders: WsOrderEntry | None = None
    ) -> None:
        self.rest = rest
        self.instrument = instrument
        self.orders = orders
        self.capabilities = WS_CAPABILITIES if orders is not None else CAPABILITIES
        self._client_ids: OrderedDict[int, str] = OrderedDict()
        self.ws_requests = 0  # order requests answered over the socket (status, benchmark)

    async def _over_socket(
        self, method: str, params: cr.Params, parse: Callable[[Any, Any], T]
    ) -> T | None:
        """The answer over the order socket, parsed; None when the socket did not send it."""
        orders = self.orders
        if orders is None or not orders.connected:
            return None
        mutates = method != "order.status"
        try:
            body = await orders.request(method, params, mutates=mutates)
        except ConnectionFailed:
            return None  # nothing was sent: REST carries it
        self.ws_requests += 1
        codec_for = self.rest.decoder.codec_for
        if not mutates:
            return parse(body, codec_for)
        return parse_or_unknown(lambda: parse(body, codec_for), method)  # type: ignore[no-any-return]

    def _check(self, symbol: str) -> None:
        if symbol != self.instrument.symbol:
            raise ConfigError(
                f"gateway for {self.instrument.symbol} was asked to trade {symbol}; "
                "start one gateway per symbol"
            )

    def _remember(self, order_id: int, client_id: str) -> None:
        self._client_ids[order_id] = client_id
        self._client_ids.move_to_end(order_id)
        while len(self._client_ids) > MAX_ORDER_IDS:
            self._client_ids.popitem(last=False)

    def client_id_for(self, order_id: int) -> str | None:
        """The client id of an order this gateway has seen (bounded memory), else None."""
        return self._client_ids.get(order_id)

    async def place(self, cmd: PlaceOrder) -> OrderAck:
        self._check(cmd.symbol)
        params = cr.place_params(cmd, self.instrument)
        ack = await self._over_socket("order.place", params, cr.parse_order_ack)
        if ack is None:
            ack = await self.rest.place_order(cmd)
        self._remember(ack.order_id, ack.client_id)
        # An ACK answer may omit status and time: the order exists, so it is NEW as of now.
        status = ack.status if ack.status is not None else OrderStatus.NEW
        return OrderAck(ack.client_id, ack.order_id, status, ack.ts or 0)

    async def amend(self, cmd: AmendOrder) -> OrderAck:
        self._check(cmd.symbol)
        params = cr.amend_params(cmd, self.instrument)
        st = await self._over_socket("order.modify", params, cr.parse_order_state)
        if st is None:
            st = await self.rest.amend_order(cmd)
        self._remember(st.order_id, st.client_id)
        return OrderAck(st.client_id, st.order_id, st.status, st.ts)

    async def cancel(self, cmd: CancelOrder) -> None:
        self._check(cmd.symbol)
        done = await self._over_socket("order.cancel", cr.cancel_params(cmd), cr.parse_order_state)
        if done is None:
            await self.rest.cancel_order(cmd)

    async def cancel_all(self, symbol: str) -> None:
        self._check(symbol)
        await self.rest.cancel_all(CancelAll(symbol, "gateway"))

    async def query(self, symbol: str, client_id: str) -> OrderUpdate | None:
        self._check(symbol)
        query = QueryOrder(client_id, symbol)
        try:
            st = await self._over_socket(
                "order.status", cr.cancel_params(query), cr.parse_order_state
            )
            if st is None:
                st = await self.rest.query_order(query)
        except VenueError as exc:
            if exc.definite and exc.code == str(CODE_NO_SUCH_ORDER):
                return None
            raise
        self._remember(st.order_id, st.client_id)
        return state_to_update(st)

    async def open_orders(self, symbol: str) -> list[OrderUpdate]:
        self._check(symbol)
        states = await self.rest.open_orders(symbol)
        for st in states:
            self._remember(st.order_id, st.client_id)
        return [state_to_update(st) for st in states]

    async def position(self, symbol: str) -> tuple[int, Decimal]:
        self._check(symbol)
        rows = [p for p in await self.rest.position_risk(symbol) if p.symbol == symbol]
        if not rows:
            return 0, Decimal(0)  # Binance lists no row for a symbol never traded: flat
        # One-way mode has one row; should hedge mode ever answer two, the net is what counts.
        lots = sum(p.amount for p in rows)
        entry = rows[0].entry_price if len(rows) == 1 else Decimal(0)
        return lots, entry

    async def user_trades(self, symbol: str, from_id: int | None) -> list[Fill]:
        """Every fill from ``from_id`` (inclusive), paging forward while pages come back full,
        at most ``MAX_PAGES`` pages (then the next pass continues from the last id)."""
        self._check(symbol)
        out: list[Fill] = []
        for _ in range(MAX_PAGES):
            page = await self.rest.user_trades(symbol, from_id)
            out.extend(page)
            if len(page) < PAGE:
                break
            # Binance lists the latest trades without fromId, the sim the oldest: paging on
            # from the last id returned is right for both.
            from_id = page[-1].trade_id + 1
        return out

    async def arm_deadman(self, symbol: str, countdown_ms: int) -> None:
        self._check(symbol)
        await self.rest.countdown_cancel_all(symbol, countdown_ms)
