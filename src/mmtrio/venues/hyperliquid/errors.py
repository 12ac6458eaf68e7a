"""Hyperliquid's error strings and statuses → the neutral venue errors and reject kinds.

Hyperliquid answers ``/exchange`` with HTTP 200 whether or not it acted: a refusal of the
whole action is ``{"status": "err", "response": "<text>"}``; a refusal of one order in a
batch is ``{"error": "<text>"}`` in ``response.data.statuses``. Only the text says why
(documented in "Error responses"; the TypeScript SDK's ``orderUpdates`` status list names
the same refusals as ``tickRejected``, ``badAloPxRejected``…). So this module matches the
documented texts by their stable beginnings (the venue appends values: "…, bbo was
60000/60001.") and is the only place that knows what those words mean.

What each answer lets us conclude (the question execution asks): a matched text is a
*definite* rejection (the venue read the action and refused it); HTTP 429 is RateLimited;
5xx, a timeout and an unreadable 200 are *unknown* (resolve by querying the cloid); an
unmatched text is a definite rejection of kind UNKNOWN (logged once with the text).

Texts seen only in third-party material (MetaMask #9750: "invalid nonce"; the SDK issues:
"User or API Wallet … does not exist") are matched too and marked so below.
"""

from __future__ import annotations

from mmtrio.core.rejects import RejectKind
from mmtrio.errors import (
    AuthError,
    ClockSkewError,
    OutcomeUnknownError,
    RateLimited,
    VenueError,
    parse_retry_after,
)

# Beginnings of the venue's texts (compared case-insensitively), most specific first.
_PREFIXES: tuple[tuple[str, RejectKind], ...] = (
    ("post only order would have immediately matched", RejectKind.WOULD_CROSS),  # BadAloPx
    ("price must be divisible by tick size", RejectKind.INVALID_PRICE),  # Tick
    ("order has invalid price", RejectKind.INVALID_PRICE),
    ("invalid price", RejectKind.INVALID_PRICE),
    ("order must have minimum value", RejectKind.INVALID_SIZE),  # MinTradeNtl
    ("order has zero size", RejectKind.INVALID_SIZE),
    ("order has invalid size", RejectKind.INVALID_SIZE),
    ("order price cannot be more than", RejectKind.INVALID_PRICE),  # 80% from the reference
    ("invalid size", RejectKind.INVALID_SIZE),
    ("insufficient margin", RejectKind.INSUFFICIENT_MARGIN),  # PerpMargin
    ("reduce only order would increase position", RejectKind.REDUCE_ONLY),  # ReduceOnly
    # Cancel/modify of an order that is gone (filled, cancelled, never placed).
    ("order was never placed, already canceled, or filled", RejectKind.UNKNOWN_ORDER),
    ("cannot modify canceled or filled order", RejectKind.UNKNOWN_ORDER),
    ("order not found", RejectKind.UNKNOWN_ORDER),
    ("too many open orders", RejectKind.RATE_LIMITED),
    # Signature does not recover to an approved agent of the account [SDK issues].
    ("user or api wallet", RejectKind.AUTH),
    ("must deposit before performing actions", RejectKind.AUTH),
)
# An unknown coin never reaches order entry: ``load_instrument`` refuses a coin that ``meta``
# does not list (ConfigError at start). Refused at order time (the coin was delisted since),
# its text ("Unknown asset …", our simulated venue's words) stays RejectKind.UNKNOWN, which
# backs the slot off; the periodic instrument check then halts with the change.
# A nonce outside the venue's window (or reused) [MetaMask #9750: "invalid nonce"]: our clock
# or our nonce source is off, which is what ClockSkewError tells the caller.
_NONCE_WORDS = ("invalid nonce", "nonce too", "nonce already used", "stale nonce")
# "Too many cumulative requests sent (37986 > 10436) for cumulative volume traded $437.92.
# Place taker orders to free up 1 request per USDC traded." (the address budget; ccxt's table)
_RATE_WORDS = ("too many requests", "rate limit", "too many cumulative requests")
CANCEL_GONE = "Order was never placed, already canceled, or filled."
IOC_NO_MATCH = "Order could not immediately match against any resting orders."

# ``orderUpdates`` / ``orderStatus`` rejection statuses → kinds (TypeScript SDK's list).
STATUS_KINDS: dict[str, RejectKind] = {
    "tickRejected": RejectKind.INVALID_PRICE,
    "minTradeNtlRejected": RejectKind.INVALID_SIZE,
    "perpMarginRejected": RejectKind.INSUFFICIENT_MARGIN,
    "reduceOnlyRejected": RejectKind.REDUCE_ONLY,
    "badAloPxRejected": RejectKind.WOULD_CROSS,
    "tooManyOpenOrdersRejected": RejectKind.RATE_LIMITED,
}


def kind_of(text: str) -> RejectKind:
    """The reject kind of a venue error text; UNKNOWN when no documented text matches."""
    low = text.strip().lower()
    for prefix, kind in _PREFIXES:
        if low.startswith(prefix):
            return kind
    if any(w in low for w in _RATE_WORDS):
        return RejectKind.RATE_LIMITED
    return RejectKind.UNKNOWN


def rejection(text: str, *, status: int = 200) -> VenueError:
    """The neutral error for a refusal the venue answered in words (definite)."""
    low = text.strip().lower()
    if any(w in low for w in _NONCE_WORDS):
        return ClockSkewError(text, code="nonce", status=status)
    kind = kind_of(text)
    if kind is RejectKind.AUTH:
        return AuthError(text, code="auth", status=status)
    if kind is RejectKind.RATE_LIMITED and any(w in low for w in _RATE_WORDS):
        # No code: Hyperliquid names none for a rate limit, and a made-up one would be shown
        # to the operator beside the venue's words as if it were the venue's.
        return RateLimited(text, status=status, retry_after_s=None)
    return VenueError(text, kind=kind, code=_code(kind), status=status, definite=True)


def _code(kind: RejectKind) -> str:
    # Hyperliquid has no numeric codes; the documented error *type* names (Tick, BadAloPx…)
    # are the nearest thing, and are what the journal shows beside the text.
    return {
        RejectKind.WOULD_CROSS: "BadAloPx",
        RejectKind.INVALID_PRICE: "Tick",
        RejectKind.INVALID_SIZE: "MinTradeNtl",
        RejectKind.INSUFFICIENT_MARGIN: "PerpMargin",
        RejectKind.REDUCE_ONLY: "ReduceOnly",
        RejectKind.UNKNOWN_ORDER: "MissingOrder",
    }.get(kind, "")


def http_error(status: int, body_text: str, retry_after: str | None) -> VenueError:
    """The error for a non-200 HTTP answer (``/info`` or ``/exchange``).

    429 is the IP weight limit (back off ``Retry-After`` or a default the caller applies);
    5xx and 408 may have executed (unknown); another 4xx is a request the venue refused to
    read (definite; the body text says why, e.g. a malformed action: 422 "Failed to
    deserialize the JSON body").

    The status is the error's ``status``, never also its ``code`` (Hyperliquid has no error
    codes): the operator reads "HTTP 429 error Too many requests…", not "HTTP 429 error 429:"."""
    text = body_text.strip()[:300]
    if status == 429:
        return RateLimited(
            text or "rate limit exceeded", status=status,
            retry_after_s=parse_retry_after(retry_after),
        )  # fmt: skip
    if status >= 500 or status == 408:
        return OutcomeUnknownError(text or f"HTTP {status}", status=status)
    err = rejection(text or f"HTTP {status}", status=status)
    return err


__all__ = ["CANCEL_GONE", "IOC_NO_MATCH", "STATUS_KINDS", "http_error", "kind_of", "rejection"]
