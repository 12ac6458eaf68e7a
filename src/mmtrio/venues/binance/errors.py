"""Binance error codes and HTTP statuses → what the caller may conclude.

The one question that matters for order entry: did the venue certainly NOT act on the request
(*definite*: a rejection, safe to decide again), or might it have (*unknown*: resolve by querying
the client order id before anything is resubmitted)? Rate limits and clock skew get their own
types because the caller reacts differently (back off; resync the time offset).
"""

from __future__ import annotations

import math

from mmtrio.errors import VenueAuthError, VenueError

# Rejections: the venue validated the request and refused it; nothing happened.
DEFINITE_CODES: frozenset[int] = frozenset(
    {-1102, -1106, -1111, -1121, -1022, -2010, -2011, -2013, -2019, -4164, -5022}
)
# The venue itself says it does not know whether the request was executed.
# -1008 (server overloaded) is treated the same way: conservative for order entry.
UNKNOWN_CODES: frozenset[int] = frozenset({-1006, -1007, -1008})
CODE_TOO_MANY_REQUESTS = -1003
CODE_TIMESTAMP = -1021
CODE_UNKNOWN_ORDER = -2011
CODE_NO_SUCH_ORDER = -2013
CODE_POST_ONLY_WOULD_TAKE = -5022
# The venue refused the credentials: -1002 unauthorized, -1022 bad signature (a wrong
# secret), -2014 malformed key, -2015 invalid key, IP or permission (HTTP 401).
AUTH_CODES: frozenset[int] = frozenset({-1002, -1022, -2014, -2015})


class RateLimited(VenueError):
    """HTTP 429/418 or -1003: back off for ``retry_after_s`` before the next request.

    ``banned`` is True for HTTP 418 (IP ban): the client has already failed; never retry
    into it. The request itself was rejected (definite).
    """

    def __init__(
        self, code: int, msg: str, *, status: int, retry_after_s: float | None, banned: bool
    ) -> None:
        super().__init__(code, msg, status=status, definite=True)
        self.retry_after_s = retry_after_s
        self.banned = banned


class TimestampError(VenueError):
    """-1021: the request timestamp is outside recvWindow; resync the server-time offset."""


class OutcomeUnknownError(VenueError):
    """The request may or may not have been executed (5xx, -1006/-1007, timeout after write).

    Resolve by querying the client order id before resubmitting anything.
    """

    def __init__(self, code: int, msg: str, *, status: int = 0) -> None:
        super().__init__(code, msg, status=status, definite=False)


class ConnectionFailed(VenueError):
    """The request never left (connect failed or timed out, pool exhausted): definite."""

    def __init__(self, msg: str) -> None:
        super().__init__(0, msg, status=0, definite=True)


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (Binance sends an integer); None when absent or unreadable."""
    if value is None:
        return None
    try:
        secs = float(value)
    except ValueError:
        return None
    return secs if math.isfinite(secs) and secs >= 0 else None


def classify(status: int, code: int | None, msg: str, retry_after: str | None = None) -> VenueError:
    """Map an HTTP error answer (status, optional Binance ``code``/``msg``) to an error.

    Order of rules: rate limits first (429/418/-1003), then unknown outcomes (5xx, 408, and the
    codes the venue itself marks unknown), then -1021, then every other 4xx/code is a definite
    rejection — the venue answered, so it did not act.
    """
    c = code if code is not None else 0
    if status in (418, 429) or c == CODE_TOO_MANY_REQUESTS:
        return RateLimited(
            c,
            msg or "rate limit exceeded",
            status=status,
            retry_after_s=parse_retry_after(retry_after),
            banned=status == 418,
        )
    if status >= 500 or status == 408 or c in UNKNOWN_CODES:
        return OutcomeUnknownError(c, msg or f"HTTP {status}", status=status)
    if c == CODE_TIMESTAMP:
        return TimestampError(c, msg, status=status, definite=True)
    if status == 401 or c in AUTH_CODES:
        return VenueAuthError(c, msg or f"HTTP {status}", status=status, definite=True)
    return VenueError(c, msg or f"HTTP {status}", status=status, definite=True)
