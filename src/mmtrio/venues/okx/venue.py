"""OKX USDT perpetual swaps behind the venue seam: the factory (``VENUE``) and one session.

Endpoints (OKX v5 docs "Overview"): ``rest`` (https://www.okx.com), ``market_ws``
(wss://ws.okx.com:8443/ws/v5/public) and ``private_ws`` (…/ws/v5/private). **Demo trading**
(``mode = "testnet"``) uses the same REST host with the header ``x-simulated-trading: 1``
and the WebSocket host wspap.okx.com; its API keys are created in demo mode. Credentials: an
API key, its secret and its passphrase.

Options (``VenueSettings.options``): ``td_mode`` — the trade mode sent with every order,
``cross`` (default) or ``isolated``.

At start (the first :meth:`OkxSession.load_instrument`) the account is checked as the
strategy needs it: the position mode must be net (one-way; OKX's ``long_short_mode`` needs a
``posSide`` per order that a two-sided quoter cannot give), and the account level must allow
derivatives (``acctLv`` 1, spot mode, cannot trade swaps). Either refusal is a ConfigError
naming the fix, before any order is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from mmtrio.core.client_ids import ClientIdFormat
from mmtrio.core.clock_offset import ClockReading
from mmtrio.core.instruments import Instrument
from mmtrio.core.ratelimit import RateLimits
from mmtrio.errors import ConfigError, VenueError
from mmtrio.urls import venue_url_problems
from mmtrio.venues.okx import codec_rest as cr
from mmtrio.venues.okx.account import POSITION_MODE_FIX, account_snapshot
from mmtrio.venues.okx.client_ids import client_id_format
from mmtrio.venues.okx.codec import OkxDecoder
from mmtrio.venues.okx.codec_rest import NET_MODE, AccountConfig
from mmtrio.venues.okx.costs import COSTS, DEFAULT_LIMITS
from mmtrio.venues.okx.gateway import CAPABILITIES, OkxGateway
from mmtrio.venues.okx.order_session import OrderSession
from mmtrio.venues.okx.rest import OkxRest
from mmtrio.venues.okx.signing import Signer
from mmtrio.venues.okx.streams import MarketStream, UserStream
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
from mmtrio.venues.wsconn import Connect, open_socket

_URLS: dict[str, dict[str, str]] = {
    "live": {
        "rest": "https://www.okx.com",
        "market_ws": "wss://ws.okx.com:8443/ws/v5/public",
        "private_ws": "wss://ws.okx.com:8443/ws/v5/private",
    },
    "testnet": {
        "rest": "https://www.okx.com",
        "market_ws": "wss://wspap.okx.com:8443/ws/v5/public",
        "private_ws": "wss://wspap.okx.com:8443/ws/v5/private",
    },
}
_SCHEMES = {"rest": ("https", "http"), "market_ws": ("wss", "ws"), "private_ws": ("wss", "ws")}
TD_MODES = ("cross", "isolated")
ACCOUNT_LEVEL_FIX = (
    "the OKX account is in spot mode (acctLv 1), which cannot trade swaps: switch it to "
    "'Spot and futures' (or a margin mode) in the OKX account settings"
)


class OkxFactory:
    """``VENUE``: the registry's handle on this package."""

    name = "okx"
    url_names = ("rest", "market_ws", "private_ws")
    credential_fields = ("api_key", "api_secret", "passphrase")

    def default_urls(self, mode: Mode) -> dict[str, str]:
        return dict(_URLS.get(mode, {}))

    def url_problems(self, mode: Mode, urls: Mapping[str, str]) -> list[str]:
        return venue_url_problems("an OKX endpoint", urls, mode, _SCHEMES, _host_problems)

    def client_ids(self, prefix: str) -> ClientIdFormat:
        return client_id_format(prefix)

    def open(
        self, settings: VenueSettings, credentials: VenueCredentials, hooks: SessionHooks
    ) -> OkxSession:
        return OkxSession(settings, credentials, hooks)


def _host_problems(key: str, url: str, host: str, mode: str) -> list[str]:
    """This venue's host rule (:data:`mmtrio.urls.HostRule`)."""
    problems: list[str] = []
    # The expensive mistakes: demo mode against the production WebSocket host (orders
    # would be live), live mode against the demo host or a local server.
    if mode == "testnet" and key != "rest" and host == "ws.okx.com":
        problems.append(
            f"{key} {url!r} is OKX's production WebSocket host but mode = 'testnet' (demo "
            "trading uses wspap.okx.com)"
        )
    if mode == "live" and host.startswith("wspap."):
        problems.append(f"{key} {url!r} is OKX's demo-trading host but mode = 'live'")
    return problems


def _td_mode(options: Mapping[str, object]) -> str:
    value = options.get("td_mode", "cross")
    if value not in TD_MODES:
        raise ConfigError(f"OKX option td_mode must be one of {', '.join(TD_MODES)}, got {value!r}")
    return str(value)


def check_account(config: AccountConfig) -> None:
    """Refuse an account the strategy cannot trade (module docstring), naming the fix."""
    if config.acct_lv == "1":
        raise ConfigError(ACCOUNT_LEVEL_FIX)
    if config.pos_mode != NET_MODE:
        raise ConfigError(
            f"the OKX account is in position mode {config.pos_mode!r}; mmtrio quotes both "
            f"sides of one net position: {POSITION_MODE_FIX}"
        )


class OkxSession:
    """One account and one swap on OKX (a :class:`VenueSession`)."""

    name = "okx"
    capabilities = CAPABILITIES
    costs = COSTS

    def __init__(
        self, settings: VenueSettings, credentials: VenueCredentials, hooks: SessionHooks
    ) -> None:
        self.settings = settings
        self.symbol = settings.symbol
        self.hooks = hooks
        self.mode = settings.mode
        self.td_mode = _td_mode(settings.options)
        self.signer = Signer(credentials.api_key, credentials.api_secret, credentials.passphrase)
        self.rate_limits: RateLimits = DEFAULT_LIMITS
        self.client_ids = client_id_format("mmt")
        self.rest = OkxRest(
            settings.urls["rest"],
            signer=self.signer,
            demo=settings.mode == "testnet",
            mode=settings.mode,
            credentials_source=credentials.source,
            clock_ms=hooks.clock_ms,
            on_blocked=hooks.on_blocked,
            transport=hooks.http_transport,  # in memory under the DST
            timeout=request_timeout(settings.request_timeout_ms),
        )
        self.account_config: AccountConfig | None = None
        self._instrument: Instrument | None = None
        self._gateway: OkxGateway | None = None
        self._orders: OrderSession | None = None

    # --- instrument -------------------------------------------------------------------------
    async def load_instrument(self) -> Instrument:
        inst: Instrument = await self.rest.instrument(self.symbol)
        if self._instrument is None:
            self.account_config = await self.rest.account_config()
            check_account(self.account_config)
            self._instrument = inst
            self._orders = OrderSession(
                self.settings.urls["private_ws"],
                OkxDecoder(inst),
                clock_ms=self.hooks.clock_ms,
                venue_ms=self.rest.timestamp_ms,
                signer=self.signer,
                mode=self.mode,
                connect=self._connect,
                # The same budget as REST's: beyond it an order's outcome is unknown.
                response_timeout_s=self.settings.request_timeout_ms / 1000,
            )
            self._gateway = OkxGateway(
                self.rest, inst, td_mode=self.td_mode, order_session=self._orders, mode=self.mode
            )
        return inst

    @property
    def instrument(self) -> Instrument:
        if self._instrument is None:
            raise ConfigError("load_instrument() must run before the session is used")
        return self._instrument

    @property
    def gateway(self) -> OkxGateway:
        if self._gateway is None:
            raise ConfigError("load_instrument() must run before the gateway is used")
        return self._gateway

    # --- account and clock ------------------------------------------------------------------
    async def account(self) -> AccountSnapshot:
        """The account (:mod:`mmtrio.venues.okx.account`): config, balance, the leverage on
        the instrument in the trade mode, and the position's liquidation price."""
        config = await self.rest.account_config()
        bal = await self.rest.balance(self.instrument.quote_asset)
        lever = await self.rest.leverage(self.symbol, self.td_mode)
        rows = cr.parse_positions(await self.rest.positions(self.symbol), self.gateway.codec)
        return account_snapshot(config, bal, lever, rows)

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
            self.settings.urls["market_ws"],
            OkxDecoder(instrument),
            clock_ms=self.hooks.clock_ms,
            market_silence_s=self.settings.market_silence_s,
            connect=self._connect,
        )

    def user_feed(self, instrument: Instrument) -> UserFeed:
        return UserStream(
            self.settings.urls["private_ws"],
            OkxDecoder(instrument),
            settle_ccy=instrument.quote_asset,
            order_session=self._orders,
            clock_ms=self.hooks.clock_ms,
            venue_ms=self.rest.timestamp_ms,
            signer=self.signer,
            mode=self.mode,
            connect=self._connect,
        )

    @property
    def _connect(self) -> Connect:
        """The websocket ``connect``: the hooks' (in memory under the DST) or the network's."""
        return self.hooks.ws_connect or open_socket

    def order_socket(self) -> SocketHealth | None:
        """The order session's health (:class:`~mmtrio.venues.protocol.OrderSocket`); None
        before the instrument is read (the session is made with it)."""
        return None if self._orders is None else self._orders.health()

    async def aclose(self) -> None:
        await self.rest.aclose()

    def __repr__(self) -> str:
        return f"OkxSession({self.symbol}, {self.settings.mode})"


VENUE = OkxFactory()
_SEAM: VenueFactory = VENUE  # mypy checks the factory against the seam
