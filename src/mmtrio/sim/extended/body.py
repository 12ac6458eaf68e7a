"""The shape of ``POST /user/order``'s body, checked before any of its values (code 1133).

Every field an order needs is present with its JSON type: ``id`` (a string of 1..256
characters), ``market``, ``side`` and, when given, ``type`` and ``timeInForce`` strings;
``qty`` and ``price`` positive decimal strings, ``fee`` one of at least 0 (a fee below the
account's rate is a value: 1128); ``expiryEpochMillis`` a whole number;
``nonce`` a whole number (a string of digits, as the SDK sends it, or a JSON number);
``postOnly`` and ``reduceOnly`` booleans when given; and, for a signed order, ``settlement``
with ``signature {r, s}`` (hex), ``starkKey`` (hex) and ``collateralPosition`` (a number).
A body missing one of them is refused here, naming the field, before the market or any value
is looked at (:mod:`.orders` checks the values in Extended's order).

Extended documents no order of its checks; a malformed body refused as malformed (1133)
rather than by whichever value check comes first (``{"id": "x"}`` answered "Market not found:
None") is the answer that tells a client what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from mmtrio.sim.extended.words import ApiError

MAX_ID_CHARS = 256


@dataclass(frozen=True, slots=True)
class Signed:
    """An order's ``settlement``: the Stark key, the vault and the signature (r, s)."""

    stark_key: int
    vault: int
    r: int
    s: int


@dataclass(frozen=True, slots=True)
class OrderBody:
    """``POST /user/order``'s fields, their shape checked; values not yet."""

    external: str
    market: str
    type: str
    side: str
    qty: Decimal
    price: Decimal
    fee: Decimal
    time_in_force: str
    post_only: bool
    reduce_only: bool
    expiry_ms: int
    nonce: int
    cancel_id: str | None
    settlement: Signed | None


def bad(what: str) -> ApiError:
    """Extended's 1133, naming what is wrong."""
    return ApiError(1133, f"Invalid order parameters: {what}")


def _str(body: dict[str, Any], key: str, default: str | None = None) -> str:
    val = body.get(key, default)
    if val is None:
        raise bad(f"{key} is missing")
    if not isinstance(val, str):
        raise bad(f"{key} must be a string")
    return val


def _flag(body: dict[str, Any], key: str) -> bool:
    val = body.get(key, False)
    if not isinstance(val, bool):
        raise bad(f"{key} must be true or false")
    return val


def _whole(val: Any) -> int | None:
    if isinstance(val, bool):
        return None
    if isinstance(val, int):
        return val
    if isinstance(val, str) and val.isascii() and val.isdigit():
        return int(val)
    return None


def _dec(body: dict[str, Any], key: str, *, zero: bool = False) -> Decimal:
    val = body.get(key)
    if val is None:
        raise bad(f"{key} is missing")
    if not isinstance(val, str | int) or isinstance(val, bool):
        raise bad(f"{key} must be a decimal string")
    try:
        dec = Decimal(val)
    except InvalidOperation:
        raise bad(f"{key} is not a number") from None
    if not dec.is_finite() or dec < 0 or (dec == 0 and not zero):
        raise bad(f"{key} must be {'at least 0' if zero else 'positive'}")
    return dec


def _hex(val: Any, key: str) -> int:
    if not isinstance(val, str):
        raise bad(f"{key} must be a hex string")
    try:
        return int(val, 16)
    except ValueError:
        raise bad(f"{key} must be a hex string") from None


def _settlement(body: dict[str, Any]) -> Signed:
    st = body.get("settlement")
    if not isinstance(st, dict):
        raise bad("settlement is missing")
    sig = st.get("signature")
    if not isinstance(sig, dict):
        raise bad("settlement.signature is missing")
    vault = _whole(st.get("collateralPosition"))
    if vault is None:
        raise bad("settlement.collateralPosition must be a whole number")
    return Signed(
        stark_key=_hex(st.get("starkKey"), "settlement.starkKey"),
        vault=vault,
        r=_hex(sig.get("r"), "settlement.signature.r"),
        s=_hex(sig.get("s"), "settlement.signature.s"),
    )


def parse_order(body: Any, *, signed: bool) -> OrderBody:
    """The body's fields, or 1133 naming the first one missing or of the wrong type."""
    if not isinstance(body, dict):
        raise bad("the body must be a JSON object")
    external = _str(body, "id")
    if not 1 <= len(external) <= MAX_ID_CHARS:
        raise bad(f"id (the external id) must be 1..{MAX_ID_CHARS} characters")
    market = _str(body, "market")
    kind = _str(body, "type", "LIMIT")
    side = _str(body, "side")
    qty, price, fee = _dec(body, "qty"), _dec(body, "price"), _dec(body, "fee", zero=True)
    tif = _str(body, "timeInForce", "GTT")
    post_only, reduce_only = _flag(body, "postOnly"), _flag(body, "reduceOnly")
    expiry = body.get("expiryEpochMillis")
    if type(expiry) is not int:
        raise bad(
            "expiryEpochMillis must be a whole number of milliseconds"
            if "expiryEpochMillis" in body
            else "expiryEpochMillis is missing"
        )
    nonce = _whole(body.get("nonce"))
    if nonce is None:
        raise bad("nonce must be a whole number" if "nonce" in body else "nonce is missing")
    cancel_id = body.get("cancelId")
    if cancel_id is not None and (
        isinstance(cancel_id, bool) or not isinstance(cancel_id, str | int)
    ):
        raise bad("cancelId must be a string")
    return OrderBody(
        external=external, market=market, type=kind, side=side, qty=qty, price=price, fee=fee,
        time_in_force=tif, post_only=post_only, reduce_only=reduce_only, expiry_ms=expiry,
        nonce=nonce, cancel_id=None if cancel_id is None else str(cancel_id),
        settlement=_settlement(body) if signed else None,
    )  # fmt: skip
