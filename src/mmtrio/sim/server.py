"""Run the simulated venue on loopback: market and timer tasks, the front end's REST app and
the admin app (Hypercorn), the front end's websockets.

``serve_sim`` is what `mmtrio sim` runs and what tests start in-process on port 0; it reports
the bound base URLs through ``task_status`` and runs until cancelled. It serves whatever
front end is attached to the venue (:mod:`mmtrio.sim.frontends`). A front end with
``ws_on_rest_port = True`` also serves its websockets on the REST port (:mod:`mmtrio.sim.door`),
besides the websocket port. A run without sockets
(bot and venue in one ``trio.run``) calls the same pieces itself: ``run_venue`` for the
tasks, ``front.rest_app`` through an ASGI transport, ``front.serve_ws`` over memory streams.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from mmtrio.sim.admin import AdminApp
from mmtrio.sim.door import serve_shared_port
from mmtrio.sim.venue import SimVenue


@dataclass(frozen=True, slots=True)
class SimUrls:
    rest: str  # http://127.0.0.1:PORT  (base of the front end's REST paths)
    ws: str  # ws://127.0.0.1:PORT     (base of the front end's websocket paths)
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


async def _listen_ws(
    venue: SimVenue,
    host: str,
    port: int,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    listeners = await trio.open_tcp_listeners(port, host=host)
    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(venue.front.serve_ws, listeners)


async def run_venue(venue: SimVenue) -> None:
    """The venue's own tasks (market, timers, the front end's timers) until cancelled."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(venue.run_timers)
        nursery.start_soon(venue.front.run)
        nursery.start_soon(venue.run_market)


async def serve_sim(
    venue: SimVenue,
    host: str = "127.0.0.1",
    port: int = 0,
    ws_port: int = 0,
    admin_port: int = 0,
    *,
    task_status: trio.TaskStatus[SimUrls] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``venue`` (its attached front end) on loopback until cancelled; ``task_status``
    gets the base URLs."""
    front = venue.front  # a clear error now if no front end is attached
    async with trio.open_nursery() as nursery:
        if getattr(front, "ws_on_rest_port", False):
            # its clients open the websocket on the REST base (mmtrio.sim.door)
            rest = await nursery.start(
                serve_shared_port, front.rest_app, front.serve_ws, _config(host, port), host, port
            )
        else:
            rest = await nursery.start(partial_serve, front.rest_app, _config(host, port))
        admin = await nursery.start(partial_serve, AdminApp(venue), _config(host, admin_port))
        bound_ws = await nursery.start(_listen_ws, venue, host, ws_port)
        nursery.start_soon(run_venue, venue)
        await venue.started.wait()
        task_status.started(SimUrls(rest=rest[0], ws=f"ws://{host}:{bound_ws}", admin=admin[0]))
