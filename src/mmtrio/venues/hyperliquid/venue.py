"""Hyperliquid perpetuals behind the venue seam: the factory (``VENUE``) and one session.

Endpoints: ``rest`` (``https://api.hyperliquid.xyz``: ``POST /info`` and ``/exchange``) and
one websocket (``wss://api.hyperliquid.xyz/ws``) that carries both the market data and the
user data with order entry; it is configured twice, as ``market_ws`` and ``private_ws``, so
``[venue] market_ws_url``/``private_ws_url`` work as on every venue (the two feeds open one
connection each). Testnet: ``api.hyperliquid-testnet.xyz``.

Credentials: the **agent (API) wallet's private key** (``MMTRIO_PRIVATE_KEY`` or ``[venue]
private_key_file``), never the master account's key; and the **account address** (``[venue]
account``), the master account the agent trades for: reads name it, and the venue checks the
signer is one of its approved agents. Without ``account`` the key's own address is the
account (a key that is itself the account). The network of the signature's phantom agent
(``source``) follows the mode: ``live`` mainnet, ``testnet`` testnet; paper trading signs as
testnet, as the simulated venue expects (``[venue] options`` cannot change it: one less way to
sign for the wrong network).

Everything else the runtime needs comes from here: the instrument (``metaAndAssetCtxs``, read
at start and periodically; its tick is the venue's price step at the start's mid,
:mod:`.price_grid`), the rate limits (:mod:`.costs`, with the address's action surplus from
``userRateLimit``), client ids (:mod:`.client_ids`), nonces (:mod:`.nonces`, persisted in
``settings.options["state_dir"]`` when the CLI passes one), the clock offset (the ``time`` of
``clearinghouseState``), the dead-man (:mod:`.gateway`) and the feeds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from loguru import logger

from mmtrio.core.client_ids import ClientIdFormat
from mmtrio.core.clock_offset import ClockReading, ClockSample
from mmtrio.core.instruments import Instrument
from mmtrio.core.ratelimit import RateLimits, RequestCost
from mmtrio.errors import ConfigError, ProtocolError, VenueError
from mmtrio.urls import venue_url_problems
from mmtrio.venues.clock_sync import sample_clock
from mmtrio.venues.hyperliquid.client_ids import CloidFormat
from mmtrio.venues.hyperliquid.codec_info import (
    Asset,
    asset_at_price,
    parse_clearinghouse,
    parse_rate_limit,
)
from mmtrio.venues.hyperliquid.costs import COSTS, DEFAULT_LIMITS, limits_for
from mmtrio.venues.hyperliquid.deps import crypto
from mmtrio.venues.hyperliquid.gateway import CAPABILITIES, HyperliquidGateway
from mmtrio.venues.hyperliquid.nonces import NonceSource
from mmtrio.venues.hyperliquid.price_grid import TickDrift
from mmtrio.venues.hyperliquid.rest import HyperliquidRest
from mmtrio.venues.hyperliquid.signing import AgentKey, L1Signer, normalise_address
from mmtrio.venues.hyperliquid.streams import MarketStream
from mmtrio.venues.hyperliquid.tracking import OrderTracking
from mmtrio.venues.hyperliquid.userstream import UserStream
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
        "rest": "https://api.hyperliquid.xyz",
        "market_ws": "wss://api.hyperliquid.xyz/ws",
        "private_ws": "wss://api.hyperliquid.xyz/ws",
    },
    "testnet": {
        "rest": "https://api.hyperliquid-testnet.xyz",
        "market_ws": "wss://api.hyperliquid-testnet.xyz/ws",
        "private_ws": "wss://api.hyperliquid-testnet.xyz/ws",
    },
}
_SCHEMES = {"rest": ("https", "http"), "market_ws": ("wss", "ws"), "private_ws": ("wss", "ws")}
SNAPSHOT_MAX_AGE_OPTION = "snapshot_max_age_ms"


class HyperliquidFactory:
    """``VENUE``: the registry's handle on this package."""

    name = "hyperliquid"
    url_names = ("rest", "market_ws", "private_ws")
    credential_fields = ("private_key",)

    def default_urls(self, mode: Mode) -> dict[str, str]:
        return dict(_URLS.get(mode, {}))

    def url_problems(self, mode: Mode, urls: Mapping[str, str]) -> list[str]:
        return venue_url_problems("a Hyperliquid endpoint", urls, mode, _SCHEMES, _host_problems)

    def client_ids(self, prefix: str) -> ClientIdFormat:
        return CloidFormat(prefix)

    def open(
        self, settings: VenueSettings, credentials: VenueCredentials, hooks: SessionHooks
    ) -> HyperliquidSession:
        return HyperliquidSession(settings, credentials, hooks)


def _host_problems(key: str, url: str, host: str, mode: str) -> list[str]:
    """This venue's host rule (:data:`mmtrio.urls.HostRule`)."""
    problems: list[str] = []
    testnet_host = "hyperliquid-testnet" in host
    production = not testnet_host and (
        host == "hyperliquid.xyz" or host.endswith(".hyperliquid.xyz")
    )
    if mode == "testnet" and production:
        problems.append(f"{key} {url!r} is a production Hyperliquid host but mode = 'testnet'")
    if mode == "live" and testnet_host:
        problems.append(f"{key} {url!r} is a Hyperliquid testnet host but mode = 'live'")
    return problems


class HyperliquidSession:
    """One account and one coin on Hyperliquid (a :class:`VenueSession`)."""

    name = "hyperliquid"
    capabilities = CAPABILITIES
    costs = COSTS

    def __init__(
        self, settings: VenueSettings, credentials: VenueCredentials, hooks: SessionHooks
    ) -> None:
        crypto()  # the optional extra: a ConfigError naming it before anything else
        if not credentials.private_key:
            raise ConfigError(
                "Hyperliquid needs the agent (API) wallet's private key: MMTRIO_PRIVATE_KEY or "
                "[venue] private_key_file (a 0600 file); see docs/OPERATOR.md"
            )
        self.settings = settings
        self.coin = settings.symbol
        self.hooks = hooks
        key = AgentKey(credentials.private_key)
        self.address = (
            normalise_address(credentials.account, "[venue] account")
            if credentials.account
            else key.address
        )
        self.mainnet = settings.mode == "live"
        self.signer = L1Signer(key, mainnet=self.mainnet)
        self.rate_limits: RateLimits = DEFAULT_LIMITS
        self.client_ids = CloidFormat("mmt")
        self.time_offset_ms = 0
        self.rest = HyperliquidRest(
            settings.urls["rest"],
            clock_ms=hooks.clock_ms,
            on_blocked=hooks.on_blocked,
            transport=hooks.http_transport,  # in memory under the DST
            timeout=request_timeout(settings.request_timeout_ms),
        )
        state_dir = settings.options.get("state_dir")
        self.nonces = NonceSource(self.venue_time_ms, Path(state_dir) if state_dir else None)
        max_age = settings.options.get(SNAPSHOT_MAX_AGE_OPTION, 5_000)
        if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age <= 0:
            raise ConfigError(f"{SNAPSHOT_MAX_AGE_OPTION} must be a positive int, got {max_age!r}")
        self.snapshot_max_age_ms = max_age
        self.tracking = OrderTracking()
        self._asset: Asset | None = None
        self._gateway: HyperliquidGateway | None = None

    def pace_with(
        self,
        pace: Callable[[RequestCost], Awaitable[None]],
        charge: Callable[[RequestCost, int], None],
    ) -> None:
        """Charge the reads and the dead-man's actions to the execution's budget
        (:class:`~mmtrio.venues.protocol.PacedRequests`; rest.py says how)."""
        self.rest.pace_with(pace, charge)

    # --- instrument -------------------------------------------------------------------------
    async def load_instrument(self) -> Instrument:
        """The coin's instrument, its tick the venue's price step at the mid *at start*
        (:mod:`.price_grid` says why it is kept for the session): a later read returns the
        same instrument unless ``szDecimals`` changed (then the instrument watch sees new
        rules), and logs when the price has moved to another step."""
        asset, price = asset_at_price(await self.rest.info({"type": "metaAndAssetCtxs"}), self.coin)
        try:
            surplus = parse_rate_limit(
                await self.rest.info({"type": "userRateLimit", "user": self.address})
            )
        except (VenueError, ProtocolError):
            surplus = None  # the budget is advisory: the initial allowance until it is read
        self.rate_limits = limits_for(surplus)
        if self._asset is None:
            logger.info(
                "{}: tick {} (the venue's price step at {}; szDecimals {})",
                self.coin, asset.instrument.tick_size, price, asset.sz_decimals,
            )  # fmt: skip
            self._asset = asset
            self._gateway = HyperliquidGateway(
                self.rest, self.signer, self.nonces,
                account=self.address, asset=asset.index, instrument=asset.instrument,
                tracking=self.tracking, venue_ms=self.venue_time_ms,
            )  # fmt: skip
            self._gateway.resync_clock = self.sync_clock
        elif asset.index != self._asset.index:
            raise ProtocolError(
                f"{self.coin} moved from asset index {self._asset.index} to {asset.index}"
            )
        elif asset.sz_decimals == self._asset.sz_decimals:
            kept = self._asset.instrument
            if asset.instrument.tick_size != kept.tick_size:
                logger.warning(
                    "{}: at {} the venue's price step is {}, the bot's tick stays {} until "
                    "a restart (tick-based settings count the start's tick)",
                    self.coin, price, asset.instrument.tick_size, kept.tick_size,
                )  # fmt: skip
            return kept
        return asset.instrument

    @property
    def instrument(self) -> Instrument:
        if self._asset is None:
            raise ConfigError("load_instrument() must run before the session is used")
        return self._asset.instrument

    @property
    def gateway(self) -> HyperliquidGateway:
        if self._gateway is None:
            raise ConfigError("load_instrument() must run before the gateway is used")
        return self._gateway

    # --- account and clock ------------------------------------------------------------------
    async def _clearinghouse(self) -> object:
        return await self.rest.info({"type": "clearinghouseState", "user": self.address})

    async def account(self) -> AccountSnapshot:
        ch = parse_clearinghouse(await self._clearinghouse(), self.instrument)
        ratio = ch.maintenance_margin / ch.account_value if ch.account_value > 0 else None
        return AccountSnapshot(
            wallet_balance=ch.account_value,
            available_balance=ch.withdrawable,
            margin_ratio=ratio,
            leverage=ch.leverage,
            max_leverage=ch.max_leverage or (self._asset.max_leverage if self._asset else None),
            liquidation_price=ch.liquidation_price,
            detail={"account": self.address, "agent": self.signer.key.address},
        )

    async def sync_clock(self) -> ClockReading:
        """Offset from the ``time`` of ``clearinghouseState`` answers: the midpoint of the
        round trip of the copy the venue answered (:meth:`HyperliquidRest.timed_info`), not of
        the back-offs and failed copies before it, as on Binance and OKX; of a few samples,
        the fastest one's (``venues/clock_sync.py``)."""
        reading = await sample_clock(self._clock_sample, self.time_offset_ms)
        if reading.measured:
            self.time_offset_ms = reading.offset_ms
        return reading

    async def _clock_sample(self) -> ClockSample | None:
        body, t0, t1 = await self.rest.timed_info(
            {"type": "clearinghouseState", "user": self.address}
        )
        venue = body.get("time") if isinstance(body, dict) else None
        if isinstance(venue, int) and not isinstance(venue, bool) and venue > 0:
            return ClockSample(t0, venue, t1)
        return None

    def venue_time_ms(self) -> int:
        return self.hooks.clock_ms() + self.time_offset_ms

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
            instrument,
            clock_ms=self.hooks.clock_ms,
            venue_ms=self.venue_time_ms,
            max_age_ms=self.snapshot_max_age_ms,
            drift=TickDrift(instrument.tick_size, instrument.qty_decimals),
            market_silence_s=self.settings.market_silence_s,
            connect=self.hooks.ws_connect or open_socket,  # in memory under the DST
        )

    def user_feed(self, instrument: Instrument) -> UserFeed:
        stream = UserStream(
            self.settings.urls["private_ws"],
            self.address,
            instrument,
            self.tracking,
            clock_ms=self.hooks.clock_ms,
            connect=self.hooks.ws_connect or open_socket,
            # The same budget as REST's: beyond it an order's outcome is unknown.
            post_timeout_s=self.settings.request_timeout_ms / 1000,
        )
        self.gateway.post = stream  # order entry rides on this connection while it is up
        stream.on_limit = self.gateway.note_limit  # 429s start the back-off as they are read
        return stream

    def order_socket(self) -> SocketHealth | None:
        """The user stream's connection, which carries the orders (``post``) while it is up
        (:class:`~mmtrio.venues.protocol.OrderSocket`); None before the user stream exists."""
        post = None if self._gateway is None else self._gateway.post
        return None if post is None else post.health()

    async def aclose(self) -> None:
        await self.rest.aclose()

    def __repr__(self) -> str:
        return f"HyperliquidSession({self.coin}, {self.settings.mode}, account={self.address})"


VENUE = HyperliquidFactory()
_SEAM: VenueFactory = VENUE  # mypy checks the factory against the seam

__all__ = ["VENUE", "HyperliquidFactory", "HyperliquidSession"]
