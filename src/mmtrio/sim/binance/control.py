"""Binance's market-stream control messages: ``SUBSCRIBE``, ``UNSUBSCRIBE``,
``LIST_SUBSCRIPTIONS``, ``SET_PROPERTY`` and ``GET_PROPERTY`` (the one property: ``combined``),
checked and refused with the codes Binance documents.

Binance's USDⓈ-M "Live Subscribing/Unsubscribing to streams" page (developers.binance.com
/docs/derivatives/usds-margined-futures/websocket-market-streams/Live-Subscribing-Unsubscribing-to-streams,
"Error Messages") lists the codes of a refused control message:

- ``0`` "Unknown property": a ``SET_PROPERTY``/``GET_PROPERTY`` property other than ``combined``;
- ``1`` "Invalid value type: expected Boolean": a property value not ``true``/``false``;
- ``2`` "Invalid request: …": the request's shape (a property name not a string, an ``id``
  missing or of an unsupported type, an unknown method, too many parameters, no ``method``);
- ``3`` "Invalid JSON: …": a frame that is not JSON.

The sim used code 2 for everything, invalid JSON included. A refused stream name has no code
of its own in that table: the request is invalid (2). The ``id`` the table asks for is an
unsigned integer; the official SDK sends a UUID string, which Binance accepts, so a string
passes too. Errors echo the request's ``id`` when it has a usable one.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mmtrio.sim.binance.streams import canonical_stream, combined_envelope

if TYPE_CHECKING:
    from mmtrio.sim.binance.listenkey import ListenKeys
    from mmtrio.sim.hub import StreamConn, StreamHub

UNKNOWN_PROPERTY, INVALID_VALUE_TYPE, INVALID_REQUEST, INVALID_JSON = 0, 1, 2, 3
METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
_FIELDS = frozenset({"method", "params", "id"})


def invalid(msg: str) -> str:
    """A frame refused as an invalid request (code 2) before any id could be read."""
    return error(None, INVALID_REQUEST, f"Invalid request: {msg}")


def error(req_id: Any, code: int, msg: str) -> str:
    """A refused control message, in Binance's shape."""
    return json.dumps({"error": {"code": code, "msg": msg}, "id": req_id})


def result(req_id: Any, value: Any) -> str:
    return json.dumps({"result": value, "id": req_id})


def _valid_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return (isinstance(value, int) and value >= 0) or isinstance(value, str)


def parse(text: str) -> dict[str, Any] | str:
    """The control message, or the error frame (text) refusing it."""
    try:
        msg = json.loads(text)
    except json.JSONDecodeError as exc:
        return error(
            None, INVALID_JSON, f"Invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        )
    if not isinstance(msg, dict):
        return error(None, INVALID_REQUEST, "Invalid request: expected a JSON object")
    req_id = msg.get("id")
    if not _valid_id(req_id):
        return error(
            None, INVALID_REQUEST, "Invalid request: request ID must be an unsigned integer"
        )
    if "method" not in msg:
        return error(req_id, INVALID_REQUEST, "Invalid request: missing field `method`")
    if set(msg) - _FIELDS:
        return error(req_id, INVALID_REQUEST, "Invalid request: too many parameters")
    method = msg["method"]
    if method not in METHODS:
        return error(
            req_id,
            INVALID_REQUEST,
            f"Invalid request: unknown variant {json.dumps(method)}, expected one of "
            "`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`",
        )
    return msg


def _property(conn: StreamConn, req_id: Any, method: str, params: Any) -> str:
    want = 2 if method == "SET_PROPERTY" else 1
    if not isinstance(params, list) or not params:
        return error(req_id, INVALID_REQUEST, "Invalid request: property name must be a string")
    if len(params) > want:
        return error(req_id, INVALID_REQUEST, "Invalid request: too many parameters")
    name = params[0]
    if not isinstance(name, str):
        return error(req_id, INVALID_REQUEST, "Invalid request: property name must be a string")
    if name != "combined":
        return error(req_id, UNKNOWN_PROPERTY, "Unknown property")
    if method == "GET_PROPERTY":
        return result(req_id, conn.envelope is not None)
    value = params[1] if len(params) > 1 else None
    if not isinstance(value, bool):
        return error(req_id, INVALID_VALUE_TYPE, "Invalid value type: expected Boolean")
    conn.envelope = combined_envelope if value else None
    return result(req_id, None)


def handle(
    hub: StreamHub,
    conn: StreamConn,
    listen_keys: ListenKeys,
    symbols: set[str],
    msg: dict[str, Any],
) -> str:
    """Act on one parsed control message; the answer frame."""
    req_id, method = msg.get("id"), msg["method"]
    params = msg.get("params", [])
    if method == "LIST_SUBSCRIPTIONS":
        names = sorted(conn.names.values())
        if conn in hub.users:
            names.append(conn.user_name)
        return result(req_id, names)
    if method in ("SET_PROPERTY", "GET_PROPERTY"):
        return _property(conn, req_id, method, params)
    if not isinstance(params, list):
        return error(req_id, INVALID_REQUEST, "Invalid request: params must be a list")
    pairs = []
    user_key: str | None = None
    key = listen_keys.key
    for name in params:
        canonical = canonical_stream(name, symbols) if isinstance(name, str) else None
        if canonical is None and key is not None and name == key:
            user_key = key  # the user stream by its listen key (the official SDK's way)
            continue
        if canonical is None:
            return error(req_id, INVALID_REQUEST, f"Invalid request: unknown stream {name!r}")
        pairs.append((canonical, name))
    for canonical, name in pairs:
        if method == "SUBSCRIBE":
            hub.subscribe(conn, canonical, name)
        else:
            hub.unsubscribe(conn, canonical)
    if user_key is not None:
        if method == "SUBSCRIBE":
            conn.user, conn.user_name = True, user_key
            hub.add_user(conn)
        else:
            hub.remove_user(conn)
    return result(req_id, None)
