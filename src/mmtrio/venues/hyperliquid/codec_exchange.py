"""``/exchange`` actions (what is signed) and their answers.

Action shapes, keys in the order the venue hashes them (the Python SDK's ``order_wires_to_
order_action``, ``bulk_modify_orders_new``, ``bulk_cancel_by_cloid``, ``schedule_cancel`` and
the TypeScript SDK's schemas agree):

- ``{"type": "order", "orders": [{"a", "b", "p", "s", "r", "t": {"limit": {"tif"}}, "c"}],
  "grouping": "na"}``: asset index, is-buy, price, size, reduce-only, time in force (``Alo``
  is post-only), cloid;
- ``{"type": "batchModify", "modifies": [{"oid": <oid or cloid>, "order": {…as above}}]}``:
  Hyperliquid's modify is a cancel-replace (the order gets a new oid, keeps its cloid, loses
  its queue place); the batch form is used because its answer carries the new order's status
  (the single ``modify`` answers only ``{"type": "default"}``);
- ``{"type": "cancelByCloid", "cancels": [{"asset", "cloid"}]}``, ``{"type": "cancel",
  "cancels": [{"a", "o"}]}``;
- ``{"type": "scheduleCancel", "time": <ms>}`` arms the dead-man, without ``time`` disarms.

Answers are HTTP 200 either way: ``{"status": "ok", "response": {"type": "order"|"cancel"|
"default", "data": {"statuses": [...]}}}`` or ``{"status": "err", "response": "<text>"}``; a
status is ``{"resting": {"oid"}}``, ``{"filled": {"totalSz", "avgPx", "oid"}}``,
``"success"`` or ``{"error": "<text>"}`` (:mod:`.errors` reads the texts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mmtrio.core.commands import AmendOrder, PlaceOrder
from mmtrio.core.events import Side, TimeInForce
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ProtocolError
from mmtrio.venues.hyperliquid.codec import TIF_WIRE, int_of, price_wire, size_wire
from mmtrio.venues.hyperliquid.errors import rejection
from mmtrio.venues.hyperliquid.signing import Signature


def order_wire(  # noqa: PLR0917 - the wire fields, in the wire order
    asset: int, inst: Instrument, side: Side, price: int, qty: int, tif: TimeInForce,
    reduce_only: bool, cloid: str,
) -> dict[str, Any]:  # fmt: skip
    return {
        "a": asset,
        "b": side is Side.BUY,
        "p": price_wire(inst, price),
        "s": size_wire(inst, qty),
        "r": reduce_only,
        "t": {"limit": {"tif": TIF_WIRE[tif]}},
        "c": cloid,
    }


def place_action(asset: int, inst: Instrument, cmd: PlaceOrder) -> dict[str, Any]:
    wire = order_wire(
        asset, inst, cmd.side, cmd.price, cmd.qty, cmd.time_in_force, cmd.reduce_only,
        cmd.client_id,
    )  # fmt: skip
    return {"type": "order", "orders": [wire], "grouping": "na"}


def modify_action(
    asset: int, inst: Instrument, cmd: AmendOrder, remaining: int, reduce_only: bool
) -> dict[str, Any]:
    """Modify ``cmd.client_id`` to ``remaining`` lots at ``cmd.price`` (post-only: amends are
    quotes)."""
    wire = order_wire(
        asset, inst, cmd.side, cmd.price, remaining, TimeInForce.POST_ONLY, reduce_only,
        cmd.client_id,
    )  # fmt: skip
    return {"type": "batchModify", "modifies": [{"oid": cmd.client_id, "order": wire}]}


def cancel_cloid_action(asset: int, cloid: str) -> dict[str, Any]:
    return {"type": "cancelByCloid", "cancels": [{"asset": asset, "cloid": cloid}]}


def cancel_oids_action(asset: int, oids: list[int]) -> dict[str, Any]:
    return {"type": "cancel", "cancels": [{"a": asset, "o": oid} for oid in oids]}


def schedule_cancel_action(time_ms: int | None) -> dict[str, Any]:
    if time_ms is None:
        return {"type": "scheduleCancel"}
    return {"type": "scheduleCancel", "time": time_ms}


def exchange_payload(
    action: dict[str, Any], nonce: int, signature: Signature, vault: str | None
) -> dict[str, Any]:
    """The ``/exchange`` body (also the ``payload`` of a websocket ``post`` action)."""
    body: dict[str, Any] = {"action": action, "nonce": nonce, "signature": signature.to_wire()}
    if vault is not None:
        body["vaultAddress"] = vault
    return body


def _ok_response(body: Any) -> dict[str, Any]:
    """The ``response`` of an ``ok`` answer; a refusal of the whole action raises its error."""
    if not isinstance(body, dict):
        raise ProtocolError(f"exchange answer is not an object: {body!r}")
    status = body.get("status")
    if status == "err":
        text = body.get("response")
        raise rejection(text if isinstance(text, str) else repr(text))
    if status != "ok":
        raise ProtocolError(f"exchange answer has status {status!r}")
    response = body.get("response")
    if not isinstance(response, dict):
        raise ProtocolError(f"exchange answer has no response object: {body!r}")
    return response


def _single_status(body: Any) -> Any:
    response = _ok_response(body)
    statuses = (response.get("data") or {}).get("statuses")
    if not isinstance(statuses, list) or len(statuses) != 1:
        raise ProtocolError(f"exchange answer should carry one status: {body!r}")
    status = statuses[0]
    if isinstance(status, dict) and "error" in status:
        text = status["error"]
        raise rejection(text if isinstance(text, str) else repr(text))
    return status


@dataclass(frozen=True, slots=True)
class OrderResult:
    """The venue's answer to one placed (or modified) order."""

    oid: int
    resting: bool  # False: filled at once (an IOC, or a GTC that crossed)
    filled_qty: str = ""


def parse_order_answer(body: Any) -> OrderResult:
    """An ``order``/``batchModify`` answer of one order; a refusal raises its VenueError."""
    status = _single_status(body)
    if isinstance(status, dict):
        if isinstance(status.get("resting"), dict):
            return OrderResult(int_of(status["resting"].get("oid"), "resting oid"), True)
        if isinstance(status.get("filled"), dict):
            filled = status["filled"]
            return OrderResult(
                int_of(filled.get("oid"), "filled oid"), False, str(filled.get("totalSz", ""))
            )
    raise ProtocolError(f"order answer has an unknown status: {status!r}")


def parse_cancel_answer(body: Any) -> None:
    """A ``cancel``/``cancelByCloid`` answer of one cancel; a refusal raises its VenueError."""
    status = _single_status(body)
    if status != "success":
        raise ProtocolError(f"cancel answer has an unknown status: {status!r}")


def parse_cancel_batch(body: Any) -> list[str | None]:
    """A batch cancel's answer: per cancel, None on success or the error text."""
    response = _ok_response(body)
    statuses = (response.get("data") or {}).get("statuses")
    if not isinstance(statuses, list):
        raise ProtocolError(f"cancel answer carries no statuses: {body!r}")
    out: list[str | None] = []
    for s in statuses:
        if s == "success":
            out.append(None)
        elif isinstance(s, dict) and isinstance(s.get("error"), str):
            out.append(s["error"])
        else:
            raise ProtocolError(f"cancel answer has an unknown status: {s!r}")
    return out


def parse_default_answer(body: Any) -> None:
    """An answer with no data (``scheduleCancel``, ``modify``): ok or its refusal."""
    _ok_response(body)
