"""Run the simulated venue: market and timer tasks, REST and admin (Hypercorn), websockets.

``serve_sim`` is what `mmtrio sim` runs and what tests start in-process on port 0; it reports
the bound base URLs through ``task_status`` and runs until cancelled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from mmtrio.sim.rest import AdminApp, RestApp
from mmtrio.sim.venue import SimVenue
from mmtrio.sim.wsserver import serve_websockets


@dataclass(frozen=True, slots=True)
class SimUrls:
    rest: str  # http://127.0.0.1:PORT  (base of /fapi/...)
    ws: str  # ws://127.0.0.1:PORT     (base of /ws, /stream, /public, /market, /private)
    admin: str  # http://127.0.0.1:PORT  (base of /admin/...)

    def to_json(self) -> dict[str, Any]:
        return {"rest": self.rest, "ws": self.ws, "admin": self.admin}


def _config(host: str, port: int) -> Config:
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("mmtrio.sim.hypercorn")
    config.keep_alive_timeout = 75.0
    config.graceful_timeout = 1.0
    config.h11_max_incomplete_size = 64 * 1024
    return config


async def partial_serve(
    app: Any, config: Config, *, task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED
) -> None:
    await serve(app, config, task_status=task_status)


async def serve_sim(
    venue: SimVenue,
    host: str = "127.0.0.1",
    port: int = 0,
    ws_port: int = 0,
    admin_port: int = 0,
    *,
    task_status: trio.TaskStatus[SimUrls] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``venue`` on loopback until cancelled; ``task_status`` gets the base URLs."""
    async with trio.open_nursery() as nursery:
        rest = await nursery.start(partial_serve, RestApp(venue), _config(host, port))
        admin = await nursery.start(partial_serve, AdminApp(venue), _config(host, admin_port))
        bound_ws = await nursery.start(serve_websockets, venue, host, ws_port)
        nursery.start_soon(venue.run_timers)
        nursery.start_soon(venue.run_market)
        await venue.started.wait()
        task_status.started(SimUrls(rest=rest[0], ws=f"ws://{host}:{bound_ws}", admin=admin[0]))
