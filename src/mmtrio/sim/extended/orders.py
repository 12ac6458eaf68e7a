"""Extended order entry on the engine: check an order as Extended does, then place it.

``POST /user/order`` is checked in this order, each failure answered with Extended's code:
the body's shape, every field present with its type (1133, :mod:`.body`); the market
(1001); the order type (1132); size and price on the market's steps (1120, 1121, 1124); the
fee at least the account's rate for its kind, maker for post-only (1128); the expiry at most
28 days ahead (the testnet's limit, 1135); the nonce 1..2^32-1 (1133), not used before by
this account (1134) and not stale (1133): the venue remembers the last
:data:`NONCE_WINDOW` nonces, and a nonce not above every one it forgot is refused (Extended
documents only the range; this reuse and staleness rule is the sim's, and suits mmtrio's
increasing nonces); the Stark key and vault (1100, 1102); then **the signature**, verified
against the account's public key over the hash of the order's own fields (1101).
``cancelId`` names an open order this one replaces (1142 when there is none): it is
cancelled, then the new order placed.

**The nonce range.** Extended's API documentation says a nonce is ">= 1 and <= 2^31", but its
official SDK (``x10/utils/nonce.py``) draws every order's nonce from 0..2^32-1 and sends it
to the real venue as is. The sim accepts what the official SDK sends, a u32 of at least 1
(:data:`NONCE_MAX`): a sim that refused half of the official client's ordinary orders would
be the worse error. The bot's own signer still draws its nonces from the documented
1..2^31 (:mod:`mmtrio.venues.extended.nonces`), which is valid under either reading.

Extended accepts an order before its matching engine sees it: a post-only order that would
take is accepted here (an id answered) and reported REJECTED with ``POST_ONLY_FAILED`` on
the account stream (:attr:`Orders.rejected` keeps it for queries).
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mmtrio.core.events import Side, TimeInForce
from mmtrio.errors import InstrumentError
from mmtrio.exchange.matching import MatchingReject, Refusal
from mmtrio.sim import requests
from mmtrio.sim.account import OrderRecord
from mmtrio.sim.extended.body import OrderBody, bad, parse_order
from mmtrio.sim.extended.words import ApiError, extended_symbol, l2_assets
from mmtrio.venues.extended.signing import (
    Domain,
    order_hash,
    settlement_amounts,
    settlement_expiration_s,
    stark_crypto,
    verify,
)

if TYPE_CHECKING:
    from mmtrio.sim.venue import SimVenue

NONCE_MAX = 2**32 - 1  # the official SDK's draws (module docstring), not the documented 2^31
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
    def _nonce(self, nonce: int) -> int:
        if not 1 <= nonce <= NONCE_MAX:
            raise bad(f"nonce {nonce} is outside 1..2^32-1")
        if nonce in self._nonces:
            raise ApiError(1134, f"Duplicate Order: nonce {nonce} was used before")
        if nonce < self._floor:
            raise bad(f"nonce {nonce} is stale (below {self._floor}, the oldest remembered)")
        return nonce

    def _remember(self, nonce: int) -> None:
        """Remember the last NONCE_WINDOW nonces; one forgotten raises the stale floor."""
        self._nonces.add(nonce)
        self._order.append(nonce)
        while len(self._order) > NONCE_WINDOW:
            gone = self._order.popleft()
            self._nonces.discard(gone)
            self._floor = max(self._floor, gone + 1)

    def _verify(self, order: OrderBody) -> None:
        st = order.settlement
        if st is None:
            raise bad("settlement is missing")
        if st.stark_key != self.account.public_key:
            raise ApiError(1100, "Invalid StarkEx public key")
        if st.vault != self.account.vault:
            raise ApiError(1102, "Invalid StarkEx vault")
        synthetic, collateral, fee_units = settlement_amounts(
            "BUY" if order.side == "BUY" else "SELL", order.qty, order.price, order.fee, self.l2
        )
        digest = order_hash(
            stark_crypto(), vault=st.vault, l2=self.l2, synthetic_amount=synthetic,
            collateral_amount=collateral, fee_amount=fee_units,
            expiration_s=settlement_expiration_s(order.expiry_ms), nonce=order.nonce,
            public_key=st.stark_key, domain=self.account.domain,
        )  # fmt: skip
        self.signatures_checked += 1
        if not verify(st.stark_key, digest, st.r, st.s):
            raise ApiError(1101, "Invalid StarkEx signature")

    # --- requests -------------------------------------------------------------------------
    def place(self, body: Any, *, check_signature: bool = True) -> dict[str, Any]:
        """``POST /user/order`` → ``{"id", "externalId"}`` (module docstring)."""
        order = parse_order(body, signed=check_signature)
        venue, inst = self.venue, self.venue.instrument
        if order.market != self.symbol:
            raise ApiError(1001, f"Market not found: {order.market!r}")
        if order.type != "LIMIT":
            raise ApiError(1132, "Order type is not allowed")
        if order.side not in ("BUY", "SELL"):
            raise bad("side must be BUY or SELL")
        try:
            lots = inst.qty_to_lots(order.qty)
        except InstrumentError:
            raise ApiError(1121, "Invalid quantity due to the wrong size increment") from None
        try:
            ticks = inst.price_to_ticks(order.price)
        except InstrumentError:
            raise ApiError(1124, "Invalid price due to wrong price movement") from None
        if lots < inst.min_qty:
            raise ApiError(1120, "Order quantity less than min trade size")
        if order.time_in_force not in ("GTT", "IOC"):
            raise bad("timeInForce must be GTT or IOC")
        fees = venue.config.fees
        if order.fee < (fees.maker_rate if order.post_only else fees.taker_rate):
            raise ApiError(1128, "Trading fees are invalid")
        if not 0 < order.expiry_ms - venue.wall_ms() <= MAX_EXPIRY_MS:
            raise ApiError(1135, "Order expiration date must be within 28 days")
        nonce = self._nonce(order.nonce)
        if check_signature:
            self._verify(order)
        self._remember(nonce)
        if order.cancel_id is not None:
            old = requests.lookup(venue, order.cancel_id, None)
            if old is None or not requests.is_open(old):
                raise ApiError(1142, "Edit order not found")
            requests.cancel(venue, old)
        tif = TimeInForce.POST_ONLY if order.post_only else (
            TimeInForce.IOC if order.time_in_force == "IOC" else TimeInForce.GTC)  # fmt: skip
        external = order.external
        req = requests.PlaceOrder(
            side=Side(order.side), qty=lots, price=ticks, time_in_force=tif,
            reduce_only=order.reduce_only, client_id=external,
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
