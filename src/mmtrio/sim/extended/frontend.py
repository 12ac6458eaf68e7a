"""The Extended front end: the shared engine's happenings in Extended's protocol.

Serves ``/api/v1`` REST (:mod:`.rest`; orders checked and their Stark signatures verified in
:mod:`.orders`), the market streams and the account stream (:mod:`.streams`) over the shared
websocket server. The market is the recording's instrument named ``<BASE>-USD`` (the shipped
BTCUSDT recordings are ``BTC-USD``) with the recording's price and size steps.

Paper credentials (public test values, printed by ``mmtrio sim --venue extended --json``):
an API key, the Stark key pair of the official SDK's test vectors, and vault 10002; orders
are signed for the Sepolia domain (``SN_SEPOLIA``), as on Extended's testnet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import trio

from mmtrio.core.events import BookDelta, Fill, OrderUpdate, Trade
from mmtrio.errors import ConfigError
from mmtrio.sim.extended.leverage import DEFAULT_LEVERAGE
from mmtrio.sim.extended.orders import Account, Orders
from mmtrio.sim.extended.rest import RestApp
from mmtrio.sim.extended.streams import ExtendedStreams
from mmtrio.sim.extended.words import extended_symbol
from mmtrio.sim.frontend import AccountCause, AsgiApp, FrontEndFactory
from mmtrio.sim.wsserve import serve_ws_connection
from mmtrio.venues.extended.signing import TESTNET_DOMAIN, stark_crypto

if TYPE_CHECKING:
    from mmtrio.sim.venue import SimVenue

PAPER_API_KEY = "extended-paper-api-key-0123456789abcdef"
PAPER_PRIVATE_KEY = "0x7a7ff6fd3cab02ccdcd4a572563f5976f8976899b03a39773795a3c486d4986"
PAPER_VAULT = "10002"


class ExtendedFrontEnd:
    """:class:`~mmtrio.sim.frontend.FrontEnd` for Extended's perpetuals."""

    name = "extended"

    def __init__(self, venue: SimVenue, api_key: str, private_key: str, vault: int) -> None:
        self.venue = venue
        self.symbol = extended_symbol(venue.instrument.symbol)
        private = int(private_key, 16)
        public = int(stark_crypto().get_public_key(private))
        self.account = Account(api_key, private, public, vault, TESTNET_DOMAIN)
        self.orders = Orders(venue, self.account)
        self.leverage = DEFAULT_LEVERAGE  # PATCH /user/leverage (.leverage)
        self.market = ExtendedStreams(self)
        self.rest = RestApp(self)
        venue.attach(self)

    # --- engine -> front end ------------------------------------------------------------
    def on_book(self, delta: BookDelta) -> None:
        self.market.on_book(delta)

    def on_trade(self, trade: Trade) -> None:
        self.market.on_trade(trade)

    def on_ticker(self) -> None:
        """Extended's best bid/offer is the book stream's (``depth=1``): nothing to add."""

    def on_mark(self) -> None:
        self.market.on_mark()

    def on_order(self, update: OrderUpdate, realized: Decimal) -> None:
        self.market.on_order(update)

    def on_account(self, cause: AccountCause, balance_change: Decimal) -> None:
        if cause is AccountCause.FUNDING:
            self.market.on_funding()
        self.market.on_account()

    def end_user_session(self, reason: str) -> None:
        self.venue.hub.close_user_streams(reason)

    def client_trade_id(self, fill: Fill) -> int:
        return fill.trade_id

    # --- requests the REST app makes ------------------------------------------------------
    def place(self, body: Any, *, check_signature: bool = True) -> dict[str, Any]:
        answer = self.orders.place(body, check_signature=check_signature)
        if answer["externalId"] in self.orders.rejected:
            self.market.rejected(answer["externalId"])
        return answer

    # --- serving ---------------------------------------------------------------------------
    @property
    def rest_app(self) -> AsgiApp:
        return self.rest

    async def serve_ws(self, stream: trio.abc.Stream) -> None:
        await serve_ws_connection(self.venue, self.market, stream)

    async def run(self) -> None:
        await trio.sleep_forever()

    def admin_order(self, params: dict[str, Any]) -> Any:
        """An order as ``POST /user/order`` takes it, from another client: no signature.

        The admin API passes every parameter as a string (as Binance's form parameters are):
        ``postOnly``/``reduceOnly`` are read as ``true``/``false`` and ``expiryEpochMillis`` as
        a whole number, into the JSON types Extended's body has; a malformed one is refused
        with the order's own check (1133/1135)."""
        body: dict[str, Any] = dict(params)
        for flag in ("postOnly", "reduceOnly"):
            if flag in body:
                body[flag] = {"true": True, "false": False}.get(body[flag], body[flag])
        expiry = body.get("expiryEpochMillis")
        if isinstance(expiry, str) and expiry.isdigit():
            body["expiryEpochMillis"] = int(expiry)
        return self.place(body, check_signature=False)

    def client_urls(self, rest: str, ws: str) -> dict[str, str]:
        # One host serves REST and both streams (Extended's /stream.extended.exchange paths
        # hang off the websocket base), as in the connector's own URL table.
        return {"rest": rest, "market_ws": ws, "private_ws": ws}

    def client_credentials(self) -> dict[str, str]:
        return {
            "api_key": self.account.api_key,
            "private_key": hex(self.account.private_key),
            "public_key": hex(self.account.public_key),
            "account": str(self.account.vault),
        }


@dataclass(frozen=True, slots=True)
class ExtendedFactory:
    """Registered in :mod:`mmtrio.sim.frontends` as ``extended``."""

    name: str = "extended"
    credential_fields: tuple[str, ...] = ("api_key", "private_key", "account")

    def data_symbol(self, symbol: str) -> str:
        """``BTC-USD`` → the recording's ``BTCUSDT``."""
        return symbol.removesuffix("-USD") + "USDT" if symbol.endswith("-USD") else symbol

    def create(
        self, venue: SimVenue, credentials: Mapping[str, str] | None = None
    ) -> ExtendedFrontEnd:
        given = dict(credentials or {})
        unknown = sorted(set(given) - set(self.credential_fields))
        if unknown:
            raise ConfigError(
                f"the extended sim takes credentials {', '.join(self.credential_fields)}; "
                f"got {', '.join(unknown)}"
            )
        vault = given.get("account", PAPER_VAULT)
        if not vault.isdigit():
            raise ConfigError(f"the extended sim's account is a vault number, got {vault!r}")
        key = given.get("private_key", PAPER_PRIVATE_KEY)
        try:
            int(key, 16)
        except ValueError:
            raise ConfigError("the extended sim's private_key must be a hex number") from None
        return ExtendedFrontEnd(venue, given.get("api_key", PAPER_API_KEY), key, int(vault))


FRONT_END = ExtendedFactory()
_SEAM: FrontEndFactory = FRONT_END  # mypy checks the factory against the seam
