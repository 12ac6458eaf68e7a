"""The admin API (its own loopback port), the same for every front end: ground truth,
faults, dumps, funding, runtime knobs, and orders from "another client".

Our protocol, not a venue's: JSON in, JSON out; a malformed request is HTTP 400
``{"error": "bad_request", "msg": ...}``. ``POST /admin/order`` is the one venue-shaped
endpoint: an order from another client of the account (another host: its requests do not
count against this client's rate limits) in the front end's own request parameters, answered
as that venue answers an order.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import trio

from mmtrio.sim.asgi import lifespan, read_body, respond
from mmtrio.sim.errors import SimBadRequest, WireError
from mmtrio.sim.faults import FAULT_KINDS
from mmtrio.sim.frontend import Receive, Scope, Send

if TYPE_CHECKING:
    from mmtrio.sim.venue import SimVenue


class AdminApp:
    """The admin API as an ASGI app."""

    def __init__(self, venue: SimVenue) -> None:
        self.venue = venue

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await read_body(receive, 1024 * 1024)
        try:
            if body is None:
                raise SimBadRequest("admin request body too large", status=413)
            result = await self.handle(scope["method"], scope["path"], body)
            status, out = 200, json.dumps(result, default=str).encode()
        except WireError as exc:
            status, out = exc.status, exc.body()
        await respond(send, status, out, [])

    async def handle(self, method: str, path: str, body: bytes) -> Any:
        venue = self.venue
        data: dict[str, Any] = {}
        if method == "POST" and body:
            try:
                loaded = json.loads(body)
            except ValueError:
                raise SimBadRequest("admin body must be a JSON object") from None
            if not isinstance(loaded, dict):
                raise SimBadRequest("admin body must be a JSON object")
            data = loaded
        if (method, path) == ("GET", "/admin/state"):
            return venue.ground_truth()
        if (method, path) == ("GET", "/admin/faults"):
            return {"kinds": FAULT_KINDS, "log": venue.ground_truth()["faults"]}
        if (method, path) == ("POST", "/admin/fault"):
            kind = data.pop("kind", None)
            if not isinstance(kind, str):
                raise SimBadRequest("admin fault needs a 'kind' string")
            rec = venue.inject(kind, data)
            return {
                "kind": rec.kind,
                "params": rec.params,
                "wall_ms": rec.wall_ms,
                "sim_ms": rec.sim_ms,
            }
        if (method, path) == ("POST", "/admin/dump"):
            target = data.get("path")
            if not isinstance(target, str) or not target:
                raise SimBadRequest("admin dump needs a 'path' string")
            await dump_state(venue, target)
            return {"path": target}
        if (method, path) == ("POST", "/admin/funding"):
            rate = data.get("rate")
            try:
                value = Decimal(str(rate)) if rate is not None else None
            except InvalidOperation:
                raise SimBadRequest(f"funding 'rate' must be a number, got {rate!r}") from None
            amount = venue.settle_funding(value)
            return {"amount": str(amount)}
        if (method, path) == ("POST", "/admin/config"):
            return configure(venue, data)
        if (method, path) == ("POST", "/admin/order"):
            if not all(isinstance(v, str) for v in data.values()):
                raise SimBadRequest("admin order params must be strings, as on the wire")
            return venue.front.admin_order(data)
        raise SimBadRequest(f"Path {path}, Method {method} is invalid", status=404)


def configure(venue: SimVenue, data: dict[str, Any]) -> dict[str, Any]:
    """Runtime knobs: exposure limit, rate limits, ping interval / pong deadline, the price
    of the fee asset (``SimConfig.fee_asset``: a move of BNB's mark)."""
    for key, value in data.items():
        if key == "exposure_limit_lots":
            if value is not None and (not isinstance(value, int) or value < 0):
                raise SimBadRequest("exposure_limit_lots must be a non-negative integer or null")
            venue.account.exposure_limit_lots = value
        elif key in ("weight_per_minute", "orders_per_10s", "orders_per_minute", "ban_seconds"):
            if not isinstance(value, int | float) or value <= 0:
                raise SimBadRequest(f"{key} must be a positive number")
            setattr(venue.config.limits, key, value)
        elif key == "fee_asset_price":
            try:
                price = Decimal(str(value))
            except InvalidOperation:
                price = Decimal(0)
            if isinstance(value, bool) or not price.is_finite() or price <= 0:
                raise SimBadRequest("fee_asset_price must be a positive decimal")
            venue.config.fee_asset_price = price
        elif key in ("ping_interval_s", "pong_timeout_s"):
            if not isinstance(value, int | float) or value <= 0:
                raise SimBadRequest(f"{key} must be a positive number of seconds")
            setattr(venue.config, key, float(value))
        else:
            raise SimBadRequest(f"unknown admin config key {key!r}")
    return {"ok": True}


async def dump_state(venue: SimVenue, path: str) -> None:
    """Write the ground truth to ``path``, mode 0600 (an account's orders, fills and position:
    the paper bot writes it into its private state directory), in a thread: the disk must
    not block the loop."""
    text = json.dumps(venue.ground_truth(book_levels=1000), default=str, indent=1)
    await trio.to_thread.run_sync(_write_private, path, text)


def _write_private(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        os.fchmod(fd, 0o600)  # also when an older run left the file more open
        fh.write(text)
