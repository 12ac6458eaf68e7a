"""``[venue]`` meets the venue registry: the checks and settings that need the venue package.

The config layer imports no venue (the backtester, which must not, reads configs too), so the
rules only a venue knows are applied here, where `mmtrio run` and `mmtrio config check` use
them: the venue name exists; the URLs for testnet/live (the venue's own by default, the file's
overrides on top) pass that venue's checks (TLS except on loopback, a test host only in
testnet mode, no loopback in live mode).
"""

from __future__ import annotations

from mmtrio.config import Config, VenueConfig
from mmtrio.config.loading import ConfigValidationError, Problem
from mmtrio.errors import ConfigError
from mmtrio.venues import registry
from mmtrio.venues.protocol import VenueFactory, VenueSettings

_URL_KEYS = {
    "rest": "rest_url",
    "market_ws": "market_ws_url",
    "private_ws": "private_ws_url",
    "order_ws": "order_ws_url",
}


def venue_factory(config: Config) -> VenueFactory:
    """The configured venue's factory; ConfigError naming the known venues otherwise."""
    factory, problems = venue_problems(config.venue)
    if factory is None:
        raise ConfigValidationError("[venue]", problems)
    return factory


def urls(config: Config, factory: VenueFactory) -> dict[str, str]:
    """The endpoints for testnet/live: the venue's own, overridden by the file's.

    A file that moves ``rest_url`` but not ``order_ws_url`` gets no order socket (orders go
    over REST to the URL it chose): the venue's default order socket would send orders to a
    host the operator did not pick (a proxy, a test venue), with the same keys."""
    return _urls(config.venue, factory)


def _urls(v: VenueConfig, factory: VenueFactory) -> dict[str, str]:
    found = {**factory.default_urls(v.mode), **v.url_overrides}
    if "rest" in v.url_overrides and "order_ws" not in v.url_overrides:
        found.pop("order_ws", None)
    return found


def check_venue(config: Config) -> VenueFactory:
    """The factory, after every venue rule passed; ConfigValidationError listing them all."""
    factory, problems = venue_problems(config.venue)
    if factory is None or problems:
        raise ConfigValidationError("[venue]", problems)
    return factory


def venue_problems(v: VenueConfig) -> tuple[VenueFactory | None, list[Problem]]:
    """The venue's factory (None when the name is unknown) and every rule of that venue the
    section breaks (for testnet/live: its URLs)."""
    try:
        factory = registry.venue(v.name)
    except ConfigError as exc:
        return None, [Problem("venue.name", repr(v.name), str(exc), None)]
    if v.mode == "paper":
        return factory, []
    found = factory.url_problems(v.mode, _urls(v, factory))
    return factory, [Problem(f"venue.{_key(p)}", None, p, None) for p in found]


def live_settings(config: Config, factory: VenueFactory) -> VenueSettings:
    """Settings for testnet/live (paper settings come from the simulated venue)."""
    v = config.venue
    if v.symbol is None:  # the config validator requires it outside paper mode
        raise ConfigError(f"venue.symbol is required with mode = {v.mode!r}")
    if v.mode == "paper":
        raise ConfigError("paper mode takes its settings from the simulated venue")
    return VenueSettings(
        name=v.name,
        mode=v.mode,
        symbol=v.symbol,
        urls=urls(config, factory),
        recv_window_ms=v.recv_window_ms,
        request_timeout_ms=config.execution.request_timeout_ms,
        market_silence_s=v.market_silence_s,
        options=state_options(config),
    )


def state_options(config: Config) -> dict[str, str]:
    """The venue options every session gets: where it may keep state across restarts (a
    venue whose nonces must stay increasing across restarts persists them there)."""
    return {"state_dir": str(config.runtime.state_dir)}


def _key(problem: str) -> str:
    name = problem.split(" ", 1)[0]
    return _URL_KEYS.get(name, name)
