"""Neutral reject kinds: what a venue's refusal means, whatever code it used to say it.

Every venue package maps its own codes and error strings to one of these kinds, in that
package's ``errors.py`` and nowhere else.
The core decides per kind (:mod:`mmtrio.core.strategy`), so the policy is written once
and holds on every venue. A code no mapping knows becomes :attr:`RejectKind.UNKNOWN`: logged
once with the raw code by the runtime, never a crash, and backed off per slot like any
refusal the strategy does not understand.

The raw code travels beside the kind (``code``, a string: venues do not agree on integers)
for logs, the journal and the operator; no decision reads it.
"""

from __future__ import annotations

import enum


class RejectKind(enum.Enum):
    """Why the venue (or our own execution layer) did not do what was asked."""

    WOULD_CROSS = "would_cross"
    """A post-only order (or amend) would have taken liquidity: the book moved through our price."""
    UNKNOWN_ORDER = "unknown_order"
    """The venue has no such open order (cancel/amend of an order already gone)."""
    INSUFFICIENT_MARGIN = "insufficient_margin"
    """Not enough available balance or margin for the order."""
    RATE_LIMITED = "rate_limited"
    """A request or order-rate limit was hit."""
    AUTH = "auth"
    """Bad key, bad signature, missing permission, wrong passphrase: no retry can help."""
    INVALID_PRICE = "invalid_price"
    """Off the price grid, outside the price band or filter."""
    INVALID_SIZE = "invalid_size"
    """Off the size step, below the minimum size or notional, above the maximum."""
    REDUCE_ONLY = "reduce_only"
    """A reduce-only order would have increased (or not reduced) the position."""
    POSITION_SIDE = "position_side"
    """The account's position mode does not match the order (hedge vs one-way)."""
    CLOCK_SKEW = "clock_skew"
    """The request's timestamp was outside the venue's window: our clock (or our offset to the
    venue's) is off. Refused before processing: nothing was done."""
    LOCAL = "local"
    """Refused by our own execution layer before sending (no rate budget, breaker open)."""
    UNKNOWN = "unknown"
    """A refusal no mapping knows: the raw code is logged once."""


_WORDS: dict[RejectKind, str] = {
    RejectKind.WOULD_CROSS: "post-only, it would have crossed the book",
    RejectKind.UNKNOWN_ORDER: "the venue has no such open order",
    RejectKind.INSUFFICIENT_MARGIN: "not enough margin",
    RejectKind.RATE_LIMITED: "rate limited",
    RejectKind.AUTH: "the key or signature was refused",
    RejectKind.INVALID_PRICE: "the price is not accepted",
    RejectKind.INVALID_SIZE: "the size is not accepted",
    RejectKind.REDUCE_ONLY: "reduce-only, it would not reduce the position",
    RejectKind.POSITION_SIDE: "the account's position mode does not match",
    RejectKind.CLOCK_SKEW: "our clock is off from the venue's (timestamp outside its window)",
    RejectKind.LOCAL: "not sent by this bot",
    RejectKind.UNKNOWN: "a refusal no mapping knows",
}


def describe(kind: RejectKind) -> str:
    """``kind`` in plain words, for the operator (the log, Telegram)."""
    return _WORDS[kind]


__all__ = ["RejectKind", "describe"]
