"""Extended (Starknet perpetuals) behind the venue seam: the factory (``VENUE``) and a session.

Endpoints (the SDK's ``x10/config.py``): ``rest`` https://api.starknet.extended.exchange
(``/api/v1`` is appended), ``market_ws`` and ``private_ws``
wss://api.starknet.extended.exchange/stream.extended.exchange/v1; the Sepolia testnet at
``api.starknet.sepolia.extended.exchange``.

Credentials (``credential_fields``): the sub-account's API key (``X-Api-Key``;
``MMTRIO_API_KEY`` or ``venue.api_key_file``) and its Stark private key
(``MMTRIO_PRIVATE_KEY`` or ``venue.private_key_file``), both from the API management page;
the vault number (position id) is ``[venue] account`` (not secret). At start the session
derives the public key and checks it and the vault against ``GET /user/account/info``: a
key of another sub-account stops the bot with the fix named, before any order is signed.

Settings ``options``: ``state_dir`` (required: the nonce high-water mark lives there, see
:mod:`.nonces`); ``chain_id`` (optional: the signing domain's chain id; ``SN_MAIN`` live,
``SN_SEPOLIA`` on the testnet and on the simulated venue).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path

from mmtrio.core.client_ids import ClientIdFormat
from mmtrio.core.clock_offset import ClockReading
from mmtrio.core.instruments import Instrument
from mmtrio.core.ratelimit import RateLimits
from mmtrio.errors import AuthError, ConfigError, VenueError
from mmtrio.urls import venue_url_problems
from mmtrio.venues.extended import codec
from mmtrio.venues.extended.client_ids import client_id_format
from mmtrio.venues.extended.costs import COSTS, DEFAULT_LIMITS
from mmtrio.venues.extended.gateway import CAPABILITIES, ExtendedGateway, KnownOrders
from mmtrio.venues.extended.nonces import NonceAllocator
from mmtrio.venues.extended.rest import ExtendedRest
from mmtrio.venues.extended.signing import MAINNET_DOMAIN, TESTNET_DOMAIN, Domain, StarkKey
from mmtrio.venues.extended.streams import AccountStream, MarketStream
from mmtrio.venues.protocol import (
    AccountSnapshot,
    MarketFeed,
    Mode,
    SessionHooks,
    UserFeed,
    VenueCredentials,
    VenueFactory,
    VenueSettings,
)
from mmtrio.venues.timeouts import request_timeout
from mmtrio.venues.wsconn import open_socket

_URLS: dict[str, dict[str, str]] = {
    "live": {
        "rest": "https://api.starknet.extended.exchange",
        "market_ws": "wss://api.starknet.extended.exchange/stream.extended.exchange/v1",
        "private_ws": "wss://api.starknet.extended.exchange/stream.extended.exchange/v1",
    },
    "testnet": {
        "rest": "https://api.starknet.sepolia.extended.exchange",
        "market_ws": "wss://api.starknet.sepolia.extended.exchange/stream.extended.exchange/v1",
        "private_ws": "wss://api.starknet.sepolia.extended.exchange/stream.extended.exchange/v1",
    },
}
_SCHEMES = {"rest": ("https", "http"), "market_ws": ("wss", "ws"), "private_ws": ("wss", "ws")}


def _is_testnet_host(host: str) -> bool:
    return "sepolia" in host.split(".") or host.startswith(("testnet.", "api.testnet."))


class ExtendedFactory:
    """``VENUE``: the registry's handle on this package."""

    name = "extended"
    url_names = ("rest", "market_ws", "private_ws")
    credential_fields = ("api_key", "private_key")

    def default_urls(self, mode: Mode) -> dict[str, str]:
        return dict(_URLS.get(mode, {}))

    def url_problems(self, mode: Mode, urls: Mapping[str, str]) -> list[str]:
        return venue_url_problems("an Extended endpoint", urls, mode, _SCHEMES, _host_problems)

    def client_ids(self, prefix: str) -> ClientIdFormat:
        return client_id_format(prefix)

    def open(
        self, settings: VenueSettings, credentials: VenueCredentials, hooks: SessionHooks
    ) -> ExtendedSession:
        return ExtendedSession(settings, credentials, hooks)


def _host_problems(key: str, url: str, host: str, mode: str) -> list[str]:
    """This venue's host rule (:data:`mmtrio.urls.HostRule`)."""
    problems: list[str] = []
    ours = host == "extended.exchange" or host.endswith(".extended.exchange")
    if mode == "testnet" and ours and not _is_testnet_host(host):
        problems.append(f"{key} {url!r} is a production Extended host but mode = 'testnet'")
    if mode == "live" and ours and _is_testnet_host(host):
        problems.append(f"{key} {url!r} is an Extended testnet host but mode = 'live'")
    return problems


def _vault(account: str) -> int:
    text = account.strip()
    if not text.isdigit():
        raise ConfigError(
            "Extended needs the sub-account's vault number as [venue] account (digits, from "
            f"the API management page); got {account!r}"
        )
    return int(text)


def _domain(settings: VenueSettings) -> Domain:
    chain = settings.options.get("chain_id")
    if chain is not None:
        if chain not in ("SN_MAIN", "SN_SEPOLIA"):
            raise ConfigError(f"chain_id must be SN_MAIN or SN_SEPOLIA, got {chain!r}")
        return Domain(str(chain))
    return MAINNET_DOMAIN if settings.mode == "live" else TESTNET_DOMAIN


class ExtendedSession:
    """One sub-account and one market on Extended (a :class:`VenueSession`)."""

    name = "extended"
    capabilities = CAPABILITIES
    costs = COSTS

    def __init__(
        self, settings: VenueSettings, credentials: VenueCredentials, hooks: SessionHooks
    ) -> None:
        missing = [
            what
            for what, value in (
                ("an API key (MMTRIO_API_KEY or venue.api_key_file)", credentials.api_key),
                ("a Stark private key (MMTRIO_PRIVATE_KEY or venue.private_key_file)",
                 credentials.private_key),
                ("the vault number as [venue] account", credentials.account),
            )
            if not value
        ]  # fmt: skip
        if missing:
            raise ConfigError("Extended needs " + ", ".join(missing))
        state_dir = settings.options.get("state_dir")
        if not state_dir:
            raise ConfigError("the Extended session needs options['state_dir'] for its nonces")
        self.settings = settings
        self.symbol = settings.symbol
        self.hooks = hooks
        self.key = StarkKey(credentials.private_key, _vault(credentials.account), _domain(settings))
        self._api_key = credentials.api_key
        self.nonces = NonceAllocator(Path(str(state_dir)))
        self.rate_limits: RateLimits = DEFAULT_LIMITS
        self.client_ids = client_id_format("mmt")
        self.known = KnownOrders()
        self.rest = ExtendedRest(
            settings.urls["rest"],
            credentials.api_key,
            clock_ms=hooks.clock_ms,
            on_blocked=hooks.on_blocked,
            transport=hooks.http_transport,  # in memory under the DST
            timeout=request_timeout(settings.request_timeout_ms),
        )
        self._market: codec.MarketInfo | None = None
        self._gateway: ExtendedGateway | None = None

    # --- instrument -------------------------------------------------------------------------
    async def load_instrument(self) -> Instrument:
        market = await self.rest.market(self.symbol)
        if market.status != "ACTIVE":
            raise ConfigError(
                f"Extended market {self.symbol} is {market.status}: mmtrio quotes ACTIVE "
                "markets only"
            )
        if self._gateway is None:
            await self._check_account()
            fees = codec.parse_fees(await self.rest.fees(self.symbol), self.symbol)
            self._market = market
            self._gateway = ExtendedGateway(
                self.rest, market, self.key, self.nonces, fees, self.known, self.venue_time_ms
            )
        return market.instrument

    async def _check_account(self) -> None:
        public, vault = codec.parse_account_info(await self.rest.account_info())
        if public != self.key.public_key or vault != self.key.vault:
            raise AuthError(
                f"the Stark key and vault configured (public key {self.key.public_key:#x}, "
                f"vault {self.key.vault}) are not the API key's account (public key "
                f"{public:#x}, vault {vault}); use the key pair and vault of the same "
                "sub-account from Extended's API management page"
            )

    @property
    def market(self) -> codec.MarketInfo:
        if self._market is None:
            raise ConfigError("load_instrument() must run before the session is used")
        return self._market

    @property
    def gateway(self) -> ExtendedGateway:
        if self._gateway is None:
            raise ConfigError("load_instrument() must run before the gateway is used")
        return self._gateway

    # --- account and clock ------------------------------------------------------------------
    async def account(self) -> AccountSnapshot:
        balance, available, margin_ratio = codec.parse_balance(await self.rest.balance())
        return AccountSnapshot(
            wallet_balance=balance,
            available_balance=available,
            margin_ratio=margin_ratio if margin_ratio is None else Decimal(margin_ratio),
        )

    async def sync_clock(self) -> ClockReading:
        return await self.rest.sync_time(self.symbol)

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
            self.market,
            clock_ms=self.hooks.clock_ms,
            market_silence_s=self.settings.market_silence_s,
            connect=self.hooks.ws_connect or open_socket,  # in memory under the DST
        )

    def user_feed(self, instrument: Instrument) -> UserFeed:
        return AccountStream(
            self.settings.urls["private_ws"],
            self._api_key,
            instrument,
            self.known,
            self.rest,
            clock_ms=self.hooks.clock_ms,
            connect=self.hooks.ws_connect or open_socket,
        )

    async def aclose(self) -> None:
        await self.rest.aclose()

    def __repr__(self) -> str:
        return f"ExtendedSession({self.symbol}, {self.settings.mode})"


VENUE = ExtendedFactory()
_SEAM: VenueFactory = VENUE  # mypy checks the factory against the seam
