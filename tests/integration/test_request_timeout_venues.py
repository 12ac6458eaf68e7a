"""``execution.request_timeout_ms`` reaches every way an order leaves, on every venue.

It used to stop at Binance: OKX's, Hyperliquid's and Extended's REST clients kept a 5 s read
budget, and OKX's logged-in order socket and Hyperliquid's websocket ``post`` kept 5 s too, so
a bot configured for 1 s waited five times longer before it called an order's outcome unknown
and queried it. Each venue is opened the way `mmtrio run` opens it (config file → paper venue
served on loopback → the venue's session) and its instrument loaded, which is when OKX builds
its order session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from mmtrio.cli.paper import build_venue, paper_credentials, paper_settings
from mmtrio.config import load_config
from mmtrio.sim.server import serve_sim
from mmtrio.venues import registry
from tests.integration.test_run_engine import write_config

pytestmark = pytest.mark.integration

NAME_LINE = 'name = "binance" '


def order_socket_timeout_s(name: str, session: Any, instrument: Any) -> float | None:
    """The order socket's answer budget (None: this venue sends orders over REST only)."""
    if name == "okx":
        return float(session.gateway.session.response_timeout_s)
    if name == "hyperliquid":
        return float(session.user_feed(instrument).post_timeout_s)
    if name == "binance":
        return float(session.orders.timeout_s)
    return None


@pytest.mark.parametrize("name", ["binance", "okx", "hyperliquid", "extended"])
async def test_the_configured_request_timeout_is_every_client_s(name: str, tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        overrides={
            NAME_LINE: f'name = "{name}" ',
            "request_timeout_ms = 5000": "request_timeout_ms = 1500",
        },
    )
    config = load_config(cfg)
    assert config.venue.name == name and config.execution.request_timeout_ms == 1500
    sim = build_venue(config)
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(serve_sim, sim)
        session = registry.venue(name).open(
            paper_settings(config, sim, urls), paper_credentials(sim), _hooks()
        )
        try:
            await session.sync_clock()  # the local clock is Trio's: the venue's offset from it
            instrument = await session.load_instrument()
            timeout = session.rest._client.timeout  # type: ignore[attr-defined]
            assert (timeout.read, timeout.write) == (1.5, 1.5), name
            assert timeout.connect is not None and timeout.connect <= 1.5
            socket_s = order_socket_timeout_s(name, session, instrument)
            assert socket_s in (1.5, None), (name, socket_s)
            assert (socket_s is None) == (name == "extended")
        finally:
            await session.aclose()
        nursery.cancel_scope.cancel()


def _hooks() -> Any:
    from mmtrio.venues.protocol import SessionHooks

    return SessionHooks(clock_ms=lambda: int(trio.current_time() * 1000))
