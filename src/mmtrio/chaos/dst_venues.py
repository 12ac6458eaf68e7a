"""What the deterministic simulation needs to know about the venue it runs on: the bot's
endpoints by the names its connector reads, its settings and credentials, its config's venue
terms, and a foreign order in the venue's words. The process harness's terms
(:class:`mmtrio.chaos.venues.ChaosVenue`: the dead-man countdown as the venue applies it,
the reconcile interval, a foreign order's id and parameters) are the reference, and are
used as they are.

Binance keeps the endpoints it always had (:data:`mmtrio.chaos.dst.URLS_BY_NAME`, its order
socket among them) and settings without options: its runs are the same to the bit. Every
other venue's endpoints are its front end's :meth:`client_urls` of the never-dialled
in-memory URLs, as `mmtrio sim --json` prints them to the process harness, and its settings
carry the state directory, as ``live_settings`` gives a process bot its options (the
Hyperliquid and Extended connectors keep their nonce marks there).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmtrio.chaos.botconfig import FOREIGN_QTY_LOTS, REQUEST_TIMEOUT_MS
from mmtrio.chaos.venues import VENUES, ChaosVenue, chaos_venue
from mmtrio.venues.protocol import VenueCredentials, VenueSettings

DST_VENUES = VENUES  # every venue the process harness runs (mmtrio.chaos.venues)
BINANCE = "binance"
# The wall time virtual time 0 stands for on every venue but Binance (2025-06-15): Hyperliquid
# refuses a fill time before 2024 and Extended's nonces count seconds from 2024. Binance keeps
# its epoch (:data:`mmtrio.chaos.dst.EPOCH_MS`, 2023-11-14): its runs are the same to the bit.
LATER_EPOCH_MS = 1_750_000_000_000


def epoch_ms(name: str, binance_epoch_ms: int) -> int:
    """The wall time virtual time 0 stands for in a run on venue ``name``."""
    return binance_epoch_ms if name == BINANCE else LATER_EPOCH_MS


@dataclass(frozen=True)
class DstVenue:
    """One venue's terms in the deterministic simulation, for one run's front end."""

    terms: ChaosVenue
    urls: dict[str, str]  # the bot's endpoints by the names its connector reads
    symbol: str  # the instrument as the venue names it (OKX: BTC-USDT-SWAP)
    credentials: VenueCredentials
    account: str | None  # the config's [venue] account, as the process harness writes it

    @property
    def name(self) -> str:
        return self.terms.name

    @property
    def deadman_ms(self) -> int:
        return self.terms.deadman_ms

    @property
    def reconcile_s(self) -> float:
        return self.terms.reconcile_s

    def settings(self, state_dir: Path) -> VenueSettings:
        """The bot's venue settings (what ``live_settings`` builds from a process bot's
        config: its request timeout, and its state directory for the venue's options)."""
        options = {} if self.name == BINANCE else {"state_dir": str(state_dir)}
        return VenueSettings(
            name=self.name,
            mode="testnet",
            symbol=self.symbol,
            urls=dict(self.urls),  # Binance: orders over the order socket (ws-fapi)
            # The bot's configured request timeout, as the process harness's bots get it from
            # their config (live_settings). It was the 5 s default here: DST seed 3 at 60 s
            # had a read wait 4.3 s on an order socket the process bot gives up on after 1 s.
            request_timeout_ms=REQUEST_TIMEOUT_MS,
            # market_silence_s: the default (10 s), as the process harness's bots read it
            # from the packaged config. A websocket half_open longer than that now ends the
            # market connection before the link resumes (seeds 93, 109, 134 and 157 of 1-199
            # at 60 s changed their traces from there, every one without a violation).
            options=options,
        )

    def config_terms(self) -> dict[str, Any]:
        """The venue's keyword arguments of :func:`mmtrio.chaos.botconfig.bot_config`, as
        the process harness passes them (Binance's equal that function's defaults)."""
        return {
            "venue": self.name,
            "symbol": self.symbol,
            "account": self.account,
            "deadman_ms": self.deadman_ms,
            "reconcile_s": self.reconcile_s,
        }

    def foreign_order(self, name: str, side: str, ref: float, now_ms: int) -> tuple[str, Any]:
        """(the order's client id, ``POST /admin/order``'s body) for the schedule's foreign
        order ``name``: the process harness's, with an expiry (Extended) on virtual time."""
        cid = self.terms.foreign_client_id(name)
        return cid, self.terms.foreign_order(
            self.symbol, side, ref, FOREIGN_QTY_LOTS, cid, now_ms=now_ms
        )


def dst_venue(name: str, front: Any, urls: dict[str, str]) -> DstVenue:
    """``name``'s terms over its front end ``front``; ``urls``: the in-memory base URLs
    (``rest``, ``ws``), or for Binance the endpoints it always had, by name."""
    terms = chaos_venue(name)
    creds: dict[str, str] = front.client_credentials()
    endpoints = dict(urls) if name == BINANCE else front.client_urls(urls["rest"], urls["ws"])
    account = creds.get("account")
    credentials = VenueCredentials(
        api_key=creds.get("api_key", ""),
        api_secret=creds.get("api_secret", ""),
        passphrase=creds.get("passphrase", ""),
        private_key=creds.get("private_key", ""),
        account=account or "",
        source="the simulated venue",
    )
    return DstVenue(terms, endpoints, str(front.symbol), credentials, account)
