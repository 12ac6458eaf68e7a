"""Binance USD-M behind the venue seam: the factory (``VENUE``) and one session.

Endpoints (PROTOCOL.md "Transport"): ``rest`` (https://fapi.binance.com), ``market_ws``
(wss://fstream.binance.com, combined streams), ``private_ws`` (the user-stream base) and
``order_ws`` (wss://ws-fapi.binance.com/ws-fapi/v1, order entry over the WebSocket API; the
one optional endpoint: without it orders go over REST); testnet at
testnet.binancefuture.com / stream.binancefuture.com. Credentials: an API key and
its HMAC secret. Everything venue-specific the runtime needs comes from here: the instrument
(exchangeInfo, read at start and re-read periodically), rate limits (exchangeInfo
``rateLimits``) and costs (:mod:`.costs`), the client-id rule (:mod:`.client_ids`), clock sync
(``GET /fapi/v1/time``), the dead-man switch (``countdownCancelAll``) and the gateway.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal

from mmtrio.core.client_ids import ClientIdFormat
from mmtrio.core.clock_offset import ClockReading
from mmtrio.core.instruments import Instrument
from mmtrio.core.ratelimit import RateLimits
from mmtrio.errors import ConfigError, ProtocolError, VenueError
from mmtrio.urls import venue_url_problems
from mmtrio.venues.binance.account import read_account
from mmtrio.venues.binance.client_ids import client_id_format
from mmtrio.venues.binance.codec import BinanceDecoder
from mmtrio.venues.binance.costs import COSTS, DEFAULT_LIMITS
from mmtrio.venues.binance.gateway import CAPABILITIES, WS_CAPABILITIES, RestGateway
from mmtrio.venues.binance.rest import BinanceRest
from mmtrio.venues.binance.signing import make_signer
from mmtrio.venues.binance.streams import MarketStream, UserStream, market_stream_url
from mmtrio.venues.binance.wsapi import WsOrderEntry
from mmtrio.venues.protocol import (
    AccountSnapshot,
    MarketFeed,
    Mode,
    SessionHooks,
    SocketHealth,
    UserFeed,
    VenueCredentials,
    VenueFactory,
    VenueSettings,
)
from mmtrio.venues.timeouts import request_timeout
from mmtrio.venues.wsconn import open_socket

_URLS: dict[str, dict[str, str]] = {
    "live": {
        "rest": "https://fapi.binance.com",
        "market_ws": "wss://fstream.binance.com",
        "private_ws": "wss://fstream.binance.com",
        "order_ws": "wss://ws-fapi.binance.com/ws-fapi/v1",
    },
    "testnet": {
        "rest": "https://testnet.binancefuture.com",
        "market_ws": "wss://stream.binancefuture.com",
        "private_ws": "wss://stream.binancefuture.com",
        "order_ws": "wss://testnet.binancefuture.com/ws-fapi/v1",
    },
}
_SCHEMES = {
    "rest": ("https", "http"),
    "market_ws": ("wss", "ws"),
    "private_ws": ("wss", "ws"),
    "order_ws": ("wss", "ws"),
}
_OPTIONAL = ("order_ws",)  # orders go over REST without it


class BinanceFactory:
    """``VENUE``: the registry's handle on this package."""

    name = "binance"
    url_names = ("rest", "market_ws", "private_ws", "order_ws")
    credential_fields = ("api_key", "api_secret")

    def default_urls(self, mode: Mode) -> dict[str, str]:
        return dict(_URLS.get(mode, {}))

    def url_problems(self, mode: Mode, urls: Mapping[str, str]) -> list[str]:
        return venue_url_problems(
            "a Binance endpoint", urls, mode, _SCHEMES, _host_problems, optional=_OPTIONAL
        )

    def client_ids(self, prefix: str) -> ClientIdFormat:
        return client_id_format(prefix)

    def open(
        self, settings: VenueSettings, credentials: VenueCredentials, hooks: SessionHooks
    ) -> BinanceSession:
        return BinanceSession(settings, credentials, hooks)


def _host_problems(key: str, url: str, host: str, mode: str) -> list[str]:
    """This venue's host rule (:data:`mmtrio.urls.HostRule`)."""
    problems: list[str] = []
    # Guard the expensive mistake: testnet mode while pointing at the real venue, or live mode
    # while pointing at the testnet (the operator thinks they are live and are not, or the
    # reverse). Loopback in live mode is the rule every venue shares (mmtrio.urls).
    production = host == "binance.com" or host.endswith(".binance.com")
    if mode == "testnet" and production:
        problems.append(f"{key} {url!r} is a production Binance host but mode = 'testnet'")
    if mode == "live" and host.endswith("binancefuture.com"):
        problems.append(f"{key} {url!r} is a Binance testnet host but mode = 'live'")
    return problems


class BinanceSession:
    """One account and one symbol on Binance USD-M (a :class:`VenueSession`)."""

    name = "binance"
    costs = COSTS

    def __init__(
        self, settings: VenueSettings, credentials: VenueCredentials, hooks: SessionHooks
    ) -> None:
        if not credentials.api_key or not credentials.api_secret:
            raise ConfigError(
                "Binance needs an API key and secret (MMTRIO_API_KEY/SECRET or files)"
            )
        self.settings = settings
        self.symbol = settings.symbol
        self.hooks = hooks
        self.rate_limits: RateLimits = DEFAULT_LIMITS
        self.client_ids = client_id_format("mmt")
        self.rest = BinanceRest(
            settings.urls["rest"],
            signer=make_signer(credentials.api_key, credentials.api_secret),
            on_usage=hooks.on_usage,
            clock_ms=hooks.clock_ms,
            recv_window_ms=settings.recv_window_ms,
            on_blocked=hooks.on_blocked,
            transport=hooks.http_transport,
            timeout=request_timeout(settings.request_timeout_ms),
        )
        self._instrument: Instrument | None = None
        self._gateway: RestGateway | None = None
        order_ws = settings.urls.get("order_ws")
        self.orders = (
            WsOrderEntry(
                order_ws,
                make_signer(credentials.api_key, credentials.api_secret),
                self.rest,
                recv_window_ms=settings.recv_window_ms,
                # The same budget as REST's: beyond it an order's outcome is unknown.
                timeout_s=settings.request_timeout_ms / 1000,
                connect=hooks.ws_connect or open_socket,  # in memory under the DST
            )
            if order_ws
            else None
        )
        self.capabilities = WS_CAPABILITIES if self.orders is not None else CAPABILITIES

    # --- instrument -------------------------------------------------------------------------
    async def load_instrument(self) -> Instrument:
        info = await self.rest.exchange_info({self.symbol})
        inst = info.instruments.get(self.symbol)
        if inst is None:  # parse_exchange_info refuses a missing symbol; belt and braces
            raise ProtocolError(f"exchangeInfo does not list {self.symbol}")
        self.rate_limits = info.rate_limits
        if self._instrument is None:
            self._instrument = inst
            self.rest.decoder = BinanceDecoder([inst])
            self._gateway = RestGateway(self.rest, inst, self.orders)
        return inst

    @property
    def instrument(self) -> Instrument:
        if self._instrument is None:
            raise ConfigError("load_instrument() must run before the session is used")
        return self._instrument

    @property
    def gateway(self) -> RestGateway:
        if self._gateway is None:
            raise ConfigError("load_instrument() must run before the gateway is used")
        return self._gateway

    def supervised_tasks(self) -> list[tuple[str, Callable[[], Awaitable[None]]]]:
        """The order socket's connection loop, when ws-fapi order entry is configured."""
        if self.orders is None:
            return []
        return [("order-socket", self.orders.run)]

    def order_socket(self) -> SocketHealth | None:
        """The ws-fapi order socket's health (:class:`~mmtrio.venues.protocol.OrderSocket`)."""
        return None if self.orders is None else self.orders.health()

    # --- account and clock ------------------------------------------------------------------
    async def account(self) -> AccountSnapshot:
        return await read_account(self.rest, self.instrument)

    async def asset_price(self, asset: str) -> Decimal:
        """Another asset's price in the quote (BNB for the fee discount): the mark price of
        its ``<ASSET><QUOTE>`` perpetual (``runtime/fee_prices.py``)."""
        return await self.rest.mark_price(f"{asset}{self.instrument.quote_asset}")

    async def sync_clock(self) -> ClockReading:
        return await self.rest.sync_time()

    def venue_time_ms(self) -> int:
        return self.rest.timestamp_ms()

    @property
    def on_read_retry(self) -> Callable[[float, VenueError], None] | None:
        return self.rest.on_read_retry

    @on_read_retry.setter
    def on_read_retry(self, value: Callable[[float, VenueError], None] | None) -> None:
        self.rest.on_read_retry = value

    # --- feeds ------------------------------------------------------------------------------
    def market_feed(self, instrument: Instrument) -> MarketFeed:
        return MarketStream(
            market_stream_url(self.settings.urls["market_ws"], instrument.symbol),
            self.rest.decoder,
            instrument.symbol,
            self.rest.depth_snapshot,
            clock_ms=self.hooks.clock_ms,
            connect=self.hooks.ws_connect or open_socket,
            market_silence_s=self.settings.market_silence_s,
        )

    def user_feed(self, instrument: Instrument) -> UserFeed:
        return UserStream(
            self.settings.urls["private_ws"],
            self.rest.decoder,
            self.rest,
            clock_ms=self.hooks.clock_ms,
            connect=self.hooks.ws_connect or open_socket,
        )

    async def aclose(self) -> None:
        await self.rest.aclose()

    def __repr__(self) -> str:
        return f"BinanceSession({self.symbol}, {self.settings.mode})"


VENUE = BinanceFactory()
_SEAM: VenueFactory = VENUE  # mypy checks the factory against the seam
