"""Paper trading, assembled here (never in the runtime): the simulated venue for the
configured venue's protocol, served on loopback in this process, and the bot's venue settings
pointed at it with the paper keys.

At exit the venue's ground truth (orders, fills, position) is written to
``<state_dir>/sim_final.json``, so a run can be audited after the sim is gone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import trio
from loguru import logger

from mmtrio.cli.venue import state_options
from mmtrio.config import Config, SimConfig, VenueConfig
from mmtrio.config.loading import Problem
from mmtrio.errors import ConfigError
from mmtrio.venues.protocol import VenueCredentials, VenueSettings

SIM_DUMP_NAME = "sim_final.json"


@dataclass(frozen=True, slots=True)
class PaperSession:
    """The running paper venue and what the bot needs to reach it."""

    settings: VenueSettings
    credentials: VenueCredentials
    venue: Any  # mmtrio.sim.venue.SimVenue


def spec_of(config: Config) -> Any:
    """The paper venue's spec from ``[sim]``."""
    if config.sim is None:
        raise ConfigError("venue.mode = 'paper' needs a [sim] table")
    return _spec(config.sim)


def _spec(sim: SimConfig) -> Any:
    from mmtrio.sim.paper import PaperSpec

    return PaperSpec(
        data_files=tuple(sim.data_files),
        synthetic=sim.synthetic,
        seed=sim.seed,
        speed=sim.speed,
        latency_ms=sim.latency_ms,
        maker_fee_bps=sim.maker_fee_bps,
        taker_fee_bps=sim.taker_fee_bps,
        balance=sim.paper_balance_usdt,
    )


def paper_problems(venue: VenueConfig, sim: SimConfig) -> list[Problem]:
    """What the paper venue's construction at `mmtrio run` would refuse (the same function,
    :func:`mmtrio.sim.paper.check_paper_data`), as a problem: the recording missing or
    unreadable, or of another symbol than ``venue.symbol``. `mmtrio config check` and
    `mmtrio run` list it with the rest (:mod:`mmtrio.cli.checkup`)."""
    from mmtrio.sim.paper import check_paper_data

    try:
        check_paper_data(venue.name, _spec(sim), venue.symbol)
    except ConfigError as exc:
        return [Problem("sim.data_files", None, str(exc), None)]
    return []


def build_venue(config: Config) -> Any:
    """The simulated venue ``config`` describes (not yet served)."""
    from mmtrio.sim.paper import build_paper_venue

    return build_paper_venue(config.venue.name, spec_of(config), config.venue.symbol)


def paper_settings(config: Config, venue: Any, urls: Any) -> VenueSettings:
    """The bot's venue settings for a served paper venue (its loopback URLs)."""
    return VenueSettings(
        name=config.venue.name,
        mode="paper",
        symbol=venue.front.symbol,  # the venue's own name for it (OKX: BTC-USDT-SWAP)
        urls=venue.front.client_urls(urls.rest, urls.ws),
        recv_window_ms=config.venue.recv_window_ms,
        request_timeout_ms=config.execution.request_timeout_ms,
        market_silence_s=config.venue.market_silence_s,
        instance=venue.instance,
        options=state_options(config),
    )


def paper_credentials(venue: Any) -> VenueCredentials:
    """The paper venue's keys (public test keys, printed by `mmtrio sim --json` too): what
    its front end's clients sign with, by the field names both sides share."""
    creds: dict[str, str] = venue.front.client_credentials()
    return VenueCredentials(
        api_key=creds.get("api_key", ""),
        api_secret=creds.get("api_secret", ""),
        passphrase=creds.get("passphrase", ""),
        private_key=creds.get("private_key", ""),
        account=creds.get("account", ""),
        source="paper keys",
    )


async def dump_ground_truth(config: Config, venue: Any) -> None:
    """Write the venue's ground truth beside the journal (shielded: runs at exit)."""
    from mmtrio.sim.admin import dump_state

    target = config.runtime.state_dir / SIM_DUMP_NAME
    with trio.CancelScope(shield=True):
        try:
            await dump_state(venue, str(target))
        except OSError as exc:
            logger.error("could not write the sim ground truth to {}: {}", target, exc)


@asynccontextmanager
async def paper_venue(config: Config, *, dump: bool = True) -> AsyncIterator[PaperSession]:
    """Serve the paper venue for ``config`` until the block exits; dump its ground truth
    (unless ``dump`` is False: `mmtrio record` trades nothing, there is no truth to keep)."""
    from mmtrio.sim.server import serve_sim

    venue = build_venue(config)
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(serve_sim, venue)
        logger.info(
            "simulated {} venue for {} on {} (ws {}, admin {})",
            config.venue.name,
            venue.front.symbol,  # the venue's name for it (Extended's BTC-USD, Hyperliquid's BTC)
            urls.rest,
            urls.ws,
            urls.admin,
        )
        try:
            yield PaperSession(paper_settings(config, venue, urls), paper_credentials(venue), venue)
        finally:
            if dump:
                await dump_ground_truth(config, venue)
            nursery.cancel_scope.cancel()
