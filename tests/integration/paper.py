"""Test helper: a bot and its paper venue, assembled the way `mmtrio run` assembles them.

``paper_engine`` builds the simulated venue (synchronously, so the test can reach it at once
as ``engine.sim_venue``) and an :class:`Engine` for it; ``run_paper`` serves the venue on
loopback, points the engine at it and runs the engine to its exit code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from mmtrio.cli.paper import build_venue, dump_ground_truth, paper_credentials, paper_settings
from mmtrio.config import Config, load_config
from mmtrio.runtime.engine import Engine
from mmtrio.sim.server import serve_sim
from mmtrio.venues import registry
from mmtrio.venues.protocol import VenueSettings


class PaperEngine(Engine):
    """An Engine that carries its paper venue (``sim_venue``)."""

    sim_venue: Any


def paper_engine(cfg_path: Path, config: Config | None = None) -> PaperEngine:
    config = config if config is not None else load_config(cfg_path)
    venue = build_venue(config)
    engine = PaperEngine(
        config,
        config_path=cfg_path,
        venue=registry.venue(config.venue.name),
        # the URLs are known once the venue is served (run_paper)
        settings=VenueSettings(config.venue.name, "paper", venue.front.symbol, {}),
        credentials=paper_credentials(venue),
    )
    engine.sim_venue = venue
    return engine


async def run_paper(engine: PaperEngine) -> int:
    """Serve the engine's paper venue, run the engine, dump the ground truth; the exit code."""
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(serve_sim, engine.sim_venue)
        engine.settings = paper_settings(engine.config, engine.sim_venue, urls)
        try:
            return await engine.run()
        finally:
            await dump_ground_truth(engine.config, engine.sim_venue)
            nursery.cancel_scope.cancel()
