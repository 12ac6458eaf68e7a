"""Extended order entry on the engine: check an order as Extended does, then place it.

``POST /user/order`` is checked in this order, each failure answered with Extended's code:
the body's shape (1133); the market (1001); size and price on the market's steps (1120,
1121, 1124); the fee at least the account's rate for its kind, maker for post-only (1128);
the expiry at most 28 days ahead (the testnet's limit, 1135); the nonce 1..2^31 (1133),
not used before by this account (1134) and not stale (1133): the venue remembers the
last :data:`NONCE_WINDOW` nonces, and a nonce not above every one it forgot is refused
(Extended documents only the range; this reuse and staleness rule is the sim's, and suits
mmtrio's increasing nonces); the Stark key and vault
(1100, 1102); then **the signature**, verified against the account's public key over the
hash of the order's own fields (1101). ``cancelId`` names an open order this one replaces
(1142 when there is none): it is cancelled, then the new order placed.

Extended accepts an order before its matching engine sees it: a post-only order that would
take is accepted here (an id answered) and reported REJECTED with ``POST_ONLY_FAILED`` on
the account stream (:attr:`Orders.rejected` keeps it for queries).
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from mmtrio.core.events import Side, TimeInForce
from mmtrio.errors import InstrumentError
from mmtrio.exchange.matching import MatchingReject, Refusal
from mmtrio.sim import requests
from mmtrio.sim.account import OrderRecord
from mmtrio.sim.extended.words import ApiError, extended_symbol, l2_assets
from mmtrio.venues.extended.signing import (
    NONCE_MAX,
    Domain,
    order_hash,
    settlement_amounts,
    settlement_expiration_s,
    stark_crypto,
    verify,
)

if TYPE_CHECKING:
    from mmtrio.sim.venue import SimVenue

NONCE_WINDOW = 100_000
MAX_EXPIRY_MS = 28 * 86_400_000
REJECTED_ID_BASE = 9 * 10**17  # ids of orders the matching engine rejected after acceptance


@dataclass(frozen=True, slots=True)
class Account:
    """The paper sub-account: its API key, Stark key pair and vault (position id)."""

    api_key: str
    private_key: int
    public_key: int
    vault: int
    domain: Domain


@dataclass(slots=True)
class Rejected:
    """An order the API accepted and the matching engine then rejected."""

    record: OrderRecord
    reason: str


def _bad(what: str) -> ApiError:
    return ApiError(1133, f"Invalid order parameters: {what}")


def _dec(body: dict[str, Any], key: str) -> Decimal:
    val = body.get(key)
    if not isinstance(val, str | int) or isinstance(val, bool):
        raise _bad(f"{key} must be a decimal string")
    try:
        dec = Decimal(val)
    except InvalidOperation:
        raise _bad(f"{key} is not a number") from None
    if not dec.is_finite() or dec <= 0:
        raise _bad(f"{key} must be positive")
    return dec


class Orders:
    """The account's order entry (module docstring); nonces remembered per account."""

    def __init__(self, venue: SimVenue, account: Account) -> None:
        self.venue = venue
        self.account = account
        self.symbol = extended_symbol(venue.instrument.symbol)
        self.l2 = l2_assets(venue.instrument)
        self._nonces: set[int] = set()
        self._order: deque[int] = deque()
        self._floor = 1  # nonces below it are stale: too old to be checked for reuse
        self.rejected: dict[str, Rejected] = {}
        self._rejected_ids = itertools.count(REJECTED_ID_BASE)
        self.signatures_checked = 0

    # --- checks ---------------------------------------------------------------------------
    def _nonce(self, body: dict[str, Any]) -> int:
        text = body.get("nonce")
        if not isinstance(text, str | int) or isinstance(text, bool) or not str(text).isdigit():
            raise _bad("nonce must be a whole number")
        nonce = int(text)
        if not 1 <= nonce <= NONCE_MAX:
            raise _bad(f"nonce {nonce} is outside 1..2^31")
        if nonce in self._nonces:
            raise ApiError(1134, f"Duplicate Order: nonce {nonce} was used before")
        if nonce < self._floor:
            raise _bad(f"nonce {nonce} is stale (below {self._floor}, the oldest remembered)")
        return nonce

    def _remember(self, nonce: int) -> None:
        """Remember the last NONCE_WINDOW nonces; one forgotten raises the stale floor."""
        self._nonces.add(nonce)
        self._order.append(nonce)
        while len(self._order) > NONCE_WINDOW:
            gone = self._order.popleft()
            self._nonces.discard(gone)
            self._floor = max(self._floor, gone + 1)

    def _verify(
        self,
        body: dict[str, Any],
        *,
        side: str,
        qty: Decimal,
        price: Decimal,
        fee: Decimal,
        nonce: int,
        expiry_ms: int,
    ) -> None:
        st = body.get("settlement")
        sig = st.get("signature") if isinstance(st, dict) else None
        if not isinstance(st, dict) or not isinstance(sig, dict):
            raise _bad("settlement.signature is missing")
        try:
            key = int(str(st.get("starkKey")), 16)
            vault = int(str(st.get("collateralPosition")))
            r, s = int(str(sig.get("r")), 16), int(str(sig.get("s")), 16)
        except ValueError:
            raise _bad("settlement fields must be numbers") from None
        if key != self.account.public_key:
            raise ApiError(1100, "Invalid StarkEx public key")
        if vault != self.account.vault:
            raise ApiError(1102, "Invalid StarkEx vault")
        synthetic, collateral, fee_units = settlement_amounts(
            "BUY" if side == "BUY" else "SELL", qty, price, fee, self.l2
        )
        digest = order_hash(
            stark_crypto(), vault=vault, l2=self.l2, synthetic_amount=synthetic,
            collateral_amount=collateral, fee_amount=fee_units,
            expiration_s=settlement_expiration_s(expiry_ms), nonce=nonce, public_key=key,
            domain=self.account.domain,
        )  # fmt: skip
        self.signatures_checked += 1
        if not verify(key, digest, r, s):
            raise ApiError(1101, "Invalid StarkEx signature")

    # --- requests -------------------------------------------------------------------------
    def place(self, body: Any, *, check_signature: bool = True) -> dict[str, Any]:
        """``POST /user/order`` → ``{"id", "externalId"}`` (module docstring)."""
        if not isinstance(body, dict):
            raise _bad("the body must be a JSON object")
        venue, inst = self.venue, self.venue.instrument
        external = body.get("id")
        if not isinstance(external, str) or not 1 <= len(external) <= 256:
            raise _bad("id (the external id) must be a string")
        if body.get("market") != self.symbol:
            raise ApiError(1001, f"Market not found: {body.get('market')!r}")
        if body.get("type", "LIMIT") != "LIMIT":
            raise ApiError(1132, "Order type is not allowed")
        side = body.get("side")
        if side not in ("BUY", "SELL"):
            raise _bad("side must be BUY or SELL")
        qty, price, fee = _dec(body, "qty"), _dec(body, "price"), _dec(body, "fee")
        try:
            lots = inst.qty_to_lots(qty)
        except InstrumentError:
            raise ApiError(1121, "Invalid quantity due to the wrong size increment") from None
        try:
            ticks = inst.price_to_ticks(price)
        except InstrumentError:
            raise ApiError(1124, "Invalid price due to wrong price movement") from None
        if lots < inst.min_qty:
            raise ApiError(1120, "Order quantity less than min trade size")
        post_only = body.get("postOnly") is True
        tif_word = body.get("timeInForce", "GTT")
        if tif_word not in ("GTT", "IOC"):
            raise _bad("timeInForce must be GTT or IOC")
        fees = venue.config.fees
        if fee < (fees.maker_rate if post_only else fees.taker_rate):
            raise ApiError(1128, "Trading fees are invalid")
        expiry = body.get("expiryEpochMillis")
        if type(expiry) is not int or not 0 < expiry - venue.wall_ms() <= MAX_EXPIRY_MS:
            raise ApiError(1135, "Order expiration date must be within 28 days")
        nonce = self._nonce(body)
        if check_signature:
            self._verify(
                body, side=side, qty=qty, price=price, fee=fee, nonce=nonce, expiry_ms=expiry
            )
        self._remember(nonce)
        cancel_id = body.get("cancelId")
        if cancel_id is not None:
            old = requests.lookup(venue, str(cancel_id), None)
            if old is None or not requests.is_open(old):
                raise ApiError(1142, "Edit order not found")
            requests.cancel(venue, old)
        tif = TimeInForce.POST_ONLY if post_only else (
            TimeInForce.IOC if tif_word == "IOC" else TimeInForce.GTC)  # fmt: skip
        req = requests.PlaceOrder(
            side=Side(side), qty=lots, price=ticks, time_in_force=tif,
            reduce_only=body.get("reduceOnly") is True, client_id=external,
        )  # fmt: skip
        try:
            rec = requests.place(venue, req)
        except MatchingReject as exc:
            if exc.refusal is not Refusal.WOULD_TAKE:
                raise
            rec = self._reject_later(req, external, ticks, lots)
        return {"id": rec.order_id, "externalId": external}

    def _reject_later(self, req: requests.PlaceOrder, external: str, ticks: int,
                      lots: int) -> OrderRecord:  # fmt: skip
        ts = self.venue.market_ts
        rec = OrderRecord(
            client_id=external, order_id=next(self._rejected_ids), side=req.side, price=ticks,
            qty=lots, order_type="LIMIT", time_in_force=req.time_in_force.value,
            reduce_only=req.reduce_only, created_ms=ts, status="REJECTED", update_ms=ts,
        )  # fmt: skip
        self.rejected[external] = Rejected(rec, "POST_ONLY_FAILED")
        return rec

    def find(self, external: str | None, order_id: int | None) -> tuple[OrderRecord, str] | None:
        """An order by external id or Extended id, with its status reason."""
        rec = requests.lookup(self.venue, external, order_id)
        if rec is not None:
            return rec, ""
        for rej in self.rejected.values():
            if rej.record.client_id == external or rej.record.order_id == order_id:
                return rej.record, rej.reason
        return None
