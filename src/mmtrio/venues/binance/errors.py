"""Binance error codes and HTTP statuses → the neutral venue errors and reject kinds.

The one question that matters for order entry: did the venue certainly NOT act on the request
(*definite*: a rejection, safe to decide again), or might it have (*unknown*: resolve by querying
the client order id before anything is resubmitted)? Rate limits and clock skew get their own
types because the caller reacts differently (back off; resync the time offset). Every definite
rejection carries its :class:`~mmtrio.core.rejects.RejectKind`, mapped here from Binance's code
(PROTOCOL.md "Limits and errors", Binance's error-code list): this module is the only place
that knows what ``-5022`` means.
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

__all__ = [
    "CODE_LISTEN_KEY_MISSING",
    "CODE_NO_SUCH_ORDER",
    "CODE_POST_ONLY_WOULD_TAKE",
    "CODE_UNKNOWN_ORDER",
    "KIND_OF_CODE",
    "classify",
    "kind_of",
    "parse_retry_after",
]

CODE_TOO_MANY_REQUESTS = -1003
CODE_TOO_MANY_ORDERS = -1015
CODE_TIMESTAMP = -1021
CODE_UNKNOWN_ORDER = -2011
CODE_NO_SUCH_ORDER = -2013
CODE_POST_ONLY_WOULD_TAKE = -5022
CODE_LISTEN_KEY_MISSING = -1125

# The venue itself says it does not know whether the request was executed (-1006, -1007).
# -1008 (server overloaded), -1000 (UNKNOWN: "an unknown error occurred while processing the
# request") and -1001 (DISCONNECTED: "internal error; unable to process your request") are
# treated the same way whatever the HTTP status: the venue failed inside, after reading the
# request, and nothing says it did not act. Unknown costs a query of the client id; a
# definite refusal that had in fact placed the order would leave one nobody tracks until the
# next reconciliation.
UNKNOWN_CODES: frozenset[int] = frozenset({-1000, -1001, -1006, -1007, -1008})

# Binance code → what it means for the strategy. A code not listed is RejectKind.UNKNOWN:
# the runtime logs it once with the raw code and the strategy backs that slot off. That is
# deliberate for -1102/-1106 (a parameter missing or not expected: our request is malformed,
# the venue did nothing, and no retry can help until the code is fixed). -1021 (timestamp
# outside recvWindow) is not here: ``classify`` makes it a ClockSkewError, kind CLOCK_SKEW.
KIND_OF_CODE: dict[int, RejectKind] = {
    -1002: RejectKind.AUTH,  # unauthorized
    -1022: RejectKind.AUTH,  # signature not valid
    -2014: RejectKind.AUTH,  # API-key format invalid
    -2015: RejectKind.AUTH,  # invalid API key, IP, or permissions for action
    -1003: RejectKind.RATE_LIMITED,
    -1015: RejectKind.RATE_LIMITED,  # too many new orders
    -2011: RejectKind.UNKNOWN_ORDER,  # cancel: unknown order sent
    -2013: RejectKind.UNKNOWN_ORDER,  # order does not exist
    -2019: RejectKind.INSUFFICIENT_MARGIN,
    -2018: RejectKind.INSUFFICIENT_MARGIN,  # balance insufficient
    -2022: RejectKind.REDUCE_ONLY,  # ReduceOnly order is rejected
    -4061: RejectKind.POSITION_SIDE,  # order's position side does not match user's setting
    -5022: RejectKind.WOULD_CROSS,  # post-only would take
    -1111: RejectKind.INVALID_PRICE,  # precision over the maximum defined for this asset
    -4013: RejectKind.INVALID_PRICE,  # price less than min price
    -4014: RejectKind.INVALID_PRICE,  # price not increased by tick size
    -4016: RejectKind.INVALID_PRICE,  # price greater than max price
    -4024: RejectKind.INVALID_PRICE,  # limit price outside the percent-price band
    -4003: RejectKind.INVALID_SIZE,  # quantity less than zero / minimum
    -4005: RejectKind.INVALID_SIZE,  # quantity greater than max quantity
    -4023: RejectKind.INVALID_SIZE,  # quantity not increased by step size
    -4164: RejectKind.INVALID_SIZE,  # notional below the minimum
}


def kind_of(code: int | None) -> RejectKind:
    """The neutral kind of a Binance rejection code (UNKNOWN when no mapping knows it)."""
    if code is None:
        return RejectKind.UNKNOWN
    return KIND_OF_CODE.get(code, RejectKind.UNKNOWN)


def classify(status: int, code: int | None, msg: str, retry_after: str | None = None) -> VenueError:
    """Map an HTTP error answer (status, optional Binance ``code``/``msg``) to an error.

    Order of rules: rate limits first (429/418/-1003/-1015), then unknown outcomes (5xx, 408, the
    codes the venue itself marks unknown), then -1021, then auth, then every other 4xx/code is a
    definite rejection — the venue answered, so it did not act.
    """
    c = code if code is not None else 0
    text = str(code) if code is not None else ""
    # -1015 (too many new orders) is an order-rate limit whatever the status it came with:
    # the caller backs off (the order count's window), as for a 429.
    if status in (418, 429) or c in (CODE_TOO_MANY_REQUESTS, CODE_TOO_MANY_ORDERS):
        return RateLimited(
            msg or "rate limit exceeded",
            code=text,
            status=status,
            retry_after_s=parse_retry_after(retry_after),
            banned=status == 418,
        )
    if status >= 500 or status == 408 or c in UNKNOWN_CODES:
        return OutcomeUnknownError(msg or f"HTTP {status}", code=text, status=status)
    if c == CODE_TIMESTAMP:
        return ClockSkewError(msg, code=text, status=status)
    kind = kind_of(code)
    if kind is RejectKind.AUTH or status == 401:
        return AuthError(msg or f"HTTP {status}", code=text, status=status)
    return VenueError(msg or f"HTTP {status}", kind=kind, code=text, status=status, definite=True)
