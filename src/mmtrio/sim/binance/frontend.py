"""The Binance USD-M front end: the shared engine's happenings in Binance's protocol.

Serves ``/fapi`` REST (:mod:`.rest`, HMAC-SHA256 signing in :mod:`.auth`, weights and
``X-MBX`` usage headers, Binance error codes in :mod:`.words`), market streams
(:mod:`.streams`: depthUpdate with the recording's real ``U``/``u``/``pu``, trade, aggTrade,
bookTicker, markPriceUpdate) and the user-data stream behind a listen key
(:mod:`.listenkey`, :mod:`.userstream`: TRADE_LITE ahead of a fill's ORDER_TRADE_UPDATE, the
latter marked as the fill event for the ``user_replay`` fault; ACCOUNT_UPDATE with reason
ORDER, FUNDING_FEE or ADJUSTMENT) over the shared websocket server (:mod:`.ws`). The endpoints
real clients call beyond the bot's (:mod:`.rest_account`, :mod:`.rest_market`), the
parameters each endpoint reads (:mod:`.params`, -1104) and the account's leverage are
this front end's too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import trio

from mmtrio.core.events import BookDelta, ExecType, Fill, OrderUpdate, Trade
from mmtrio.errors import ConfigError
from mmtrio.sim.binance import trading
from mmtrio.sim.binance.auth import DEFAULT_CREDENTIALS, Credentials
from mmtrio.sim.binance.listenkey import ListenKeys
from mmtrio.sim.binance.margin import margins
from mmtrio.sim.binance.rest import RestApp
from mmtrio.sim.binance.streams import MarketStreams
from mmtrio.sim.binance.userstream import (
    account_update,
    margin_call,
    order_trade_update,
    trade_lite,
)
from mmtrio.sim.binance.ws import BinanceWs
from mmtrio.sim.binance.wsapi import PATH as WS_API_PATH
from mmtrio.sim.frontend import AccountCause, AsgiApp, FrontEndFactory
from mmtrio.sim.wsserve import serve_ws_connection

if TYPE_CHECKING:
    from mmtrio.sim.venue import SimVenue

# Binance's reason words on ACCOUNT_UPDATE
_ACCOUNT_REASON = {
    AccountCause.FILL: "ORDER",
    AccountCause.FUNDING: "FUNDING_FEE",
    AccountCause.ADJUSTMENT: "ADJUSTMENT",  # a position change without a trade (ADL, ...)
}
MAX_LEVERAGE = 20  # the sim's one flat bracket (account_info.leverage_bracket)


class BinanceFrontEnd:
    """:class:`~mmtrio.sim.frontend.FrontEnd` for Binance USD-M futures."""

    name = "binance"

    def __init__(self, venue: SimVenue, credentials: Credentials = DEFAULT_CREDENTIALS) -> None:
        self.venue = venue
        self.symbol = venue.symbol
        self.credentials = credentials
        self.market = MarketStreams(venue)
        self.listen_keys = ListenKeys(venue)
        self.ws = BinanceWs(venue, self.listen_keys, self)
        self.rest = RestApp(self)
        # the account's leverage (POST /fapi/v1/leverage, 1..MAX_LEVERAGE): margins in the
        # account answers are notional / leverage (the engine itself checks no margin)
        self.leverage = MAX_LEVERAGE
        # hedge mode (POST /fapi/v1/positionSide/dual): orders then need LONG/SHORT
        self.dual_side = False
        venue.attach(self)

    # --- engine -> front end ------------------------------------------------------------
    def on_book(self, delta: BookDelta) -> None:
        self.market.on_book(delta)

    def on_trade(self, trade: Trade) -> None:
        self.market.on_trade(trade)

    def on_ticker(self) -> None:
        self.market.on_ticker()

    def on_mark(self) -> None:
        self.market.on_mark()

    def on_order(self, update: OrderUpdate, realized: Decimal) -> None:
        hub = self.venue.hub
        lite = trade_lite(self.venue, update)
        if lite is not None:  # Binance sends it first: the fast copy, without the fee
            hub.publish_user(lite)
        fill = update.fill is not None and update.exec_type is ExecType.TRADE
        hub.publish_user(order_trade_update(self.venue, update, realized), fill=fill)

    def on_account(self, cause: AccountCause, balance_change: Decimal) -> None:
        self.venue.hub.publish_user(
            account_update(self.venue, _ACCOUNT_REASON[cause], balance_change)
        )

    def end_user_session(self, reason: str) -> None:
        self.listen_keys.expire()

    def margin_call(self) -> None:
        """The ``margin_call`` fault: Binance's MARGIN_CALL push with the account's figures."""
        self.venue.hub.publish_user(margin_call(self.venue, margins(self)["maint"]))

    # --- serving ---------------------------------------------------------------------------
    @property
    def rest_app(self) -> AsgiApp:
        return self.rest

    async def serve_ws(self, stream: trio.abc.Stream) -> None:
        await serve_ws_connection(self.venue, self.ws, stream)

    async def run(self) -> None:
        """The front end's own tasks: listen-key expiry, and the ws-fapi requests (each its
        own task, :class:`~mmtrio.sim.binance.wsapi.OrderEntry`)."""
        orders = self.ws.orders
        async with trio.open_nursery() as nursery:
            if orders is not None:
                orders.nursery = nursery
            try:
                await self.listen_keys.run()
            finally:
                if orders is not None:
                    orders.nursery = None

    def client_trade_id(self, fill: Fill) -> int:
        return fill.trade_id  # Binance's trade ids are the engine's, as published

    def admin_order(self, params: dict[str, Any]) -> Any:
        """An order placed as ``POST /fapi/v1/order`` would be (no signature, no limits)."""
        return trading.place(self.venue, params)

    def client_urls(self, rest: str, ws: str) -> dict[str, str]:
        # The order socket (ws-fapi) is served on the same port (wsapi.py): paper bots, chaos
        # bots and `mmtrio sim --json` readers send orders over it, REST the fallback.
        order_ws = f"{ws.rstrip('/')}{WS_API_PATH}"
        return {"rest": rest, "market_ws": ws, "private_ws": ws, "order_ws": order_ws}

    def client_credentials(self) -> dict[str, str]:
        return {"api_key": self.credentials.api_key, "api_secret": self.credentials.api_secret}


@dataclass(frozen=True, slots=True)
class BinanceFactory:
    """Registered in :mod:`mmtrio.sim.frontends` as ``binance``."""

    name: str = "binance"
    credential_fields: tuple[str, ...] = ("api_key", "api_secret")

    def data_symbol(self, symbol: str) -> str:
        return symbol  # the recordings are Binance's: the same name

    def create(
        self, venue: SimVenue, credentials: Mapping[str, str] | None = None
    ) -> BinanceFrontEnd:
        given = dict(credentials or {})
        unknown = sorted(set(given) - set(self.credential_fields))
        if unknown:
            raise ConfigError(
                f"the binance sim takes credentials {', '.join(self.credential_fields)}; "
                f"got {', '.join(unknown)}"
            )
        creds = Credentials(
            api_key=given.get("api_key", DEFAULT_CREDENTIALS.api_key),
            api_secret=given.get("api_secret", DEFAULT_CREDENTIALS.api_secret),
        )
        return BinanceFrontEnd(venue, creds)


FRONT_END = BinanceFactory()
_SEAM: FrontEndFactory = FRONT_END  # mypy checks the factory against the seam
