"""Extended's rate limit and what each request costs.

Extended's documentation ("Rate Limits"): every REST endpoint shares one limit per IP, 1,000
requests a minute (market makers: 60,000 per 5 minutes, on request); going over answers HTTP
429. One window, one unit per request. Cancels, the dead-man refresh and the queries that
resolve an unknown outcome are essential (they may use the whole window; quotes only their
configured share of it).
"""

from __future__ import annotations

from mmtrio.core.ratelimit import MINUTE_MS, RateLimits, RateWindow, RequestCost
from mmtrio.venues.protocol import RequestCosts

REQUESTS = "requests_1m"
LIMIT_PER_MINUTE = 1_000
BAN_MS = 60_000  # no documented ban; a 429 without Retry-After waits a whole window

DEFAULT_LIMITS = RateLimits(
    (RateWindow(REQUESTS, MINUTE_MS, LIMIT_PER_MINUTE),),
    orders_per_minute=LIMIT_PER_MINUTE,
    ban_ms=BAN_MS,
)

ONE = RequestCost(((REQUESTS, 1),))
ESSENTIAL = ONE.as_essential()

COSTS = RequestCosts(
    place=ONE,
    amend=ONE,
    cancel=ESSENTIAL,
    cancel_all=ESSENTIAL,
    query=ESSENTIAL,
    open_orders=ESSENTIAL,
)
