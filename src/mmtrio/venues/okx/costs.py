"""OKX rate limits as OKX counts them, and what each request costs.

OKX v5 limits each endpoint separately, mostly per **2 seconds**, counted per user ID and,
for order entry, per instrument ID (docs "Rate Limit" and each endpoint's "Rate limit"
line; ccxt's ``okx`` cost table encodes the same figures). The WebSocket ops share their
REST endpoint's limit ("the rate limit is shared with the Place order REST API endpoint").
A separate sub-account limit caps new and amended orders across all instruments. Each limit
is one named window here, so :class:`~mmtrio.core.ratelimit.RateBudget` enforces each:

========================  ==========================================  =======  ========
window                    endpoint (REST path / WS op)                 limit   interval
========================  ==========================================  =======  ========
``place_2s``              POST /api/v5/trade/order, op ``order``       60      2 s
``amend_2s``              POST /api/v5/trade/amend-order, ``amend-order``  60  2 s
``cancel_2s``             POST /api/v5/trade/cancel-order, ``cancel-order``  60  2 s
``batch_cancel_2s``       POST /api/v5/trade/cancel-batch-orders (orders)  300  2 s
``orders_2s``             new + amended orders, the whole sub-account  1000    2 s
``order_query_2s``        GET /api/v5/trade/order                      60      2 s
``pending_2s``            GET /api/v5/trade/orders-pending             60      2 s
``fills_2s``              GET /api/v5/trade/fills                      60      2 s
``positions_2s``          GET /api/v5/account/positions                10      2 s
``balance_2s``            GET /api/v5/account/balance                  10      2 s
``config_2s``             GET /api/v5/account/config                   5       2 s
``deadman_1s``            POST /api/v5/trade/cancel-all-after          1       1 s
========================  ==========================================  =======  ========

The per-instrument place limit (60 per 2 s = 1800 per minute) is the order budget the
strategy's own runaway cap derives from. Public reads (instruments 20/2 s, books 40/2 s,
time 10/2 s) are counted by IP and only happen at start or on a resync; they are not
budgeted here. Over the limit OKX answers HTTP 429 / ``50011`` and sends no Retry-After
(:data:`~mmtrio.venues.okx.errors.RATE_LIMIT_RETRY_S`).
"""

from __future__ import annotations

from mmtrio.core.ratelimit import RateLimits, RateWindow, RequestCost
from mmtrio.venues.protocol import RequestCosts

TWO_S = 2_000
ONE_S = 1_000

PLACE, AMEND, CANCEL, BATCH_CANCEL = "place_2s", "amend_2s", "cancel_2s", "batch_cancel_2s"
ORDERS, QUERY, PENDING, FILLS = "orders_2s", "order_query_2s", "pending_2s", "fills_2s"
POSITIONS, BALANCE, CONFIG, DEADMAN = "positions_2s", "balance_2s", "config_2s", "deadman_1s"
BATCH_MAX = 20  # OKX: at most 20 orders per batch request

DEFAULT_LIMITS = RateLimits(
    (
        RateWindow(PLACE, TWO_S, 60),
        RateWindow(AMEND, TWO_S, 60),
        RateWindow(CANCEL, TWO_S, 60),
        RateWindow(BATCH_CANCEL, TWO_S, 300),
        RateWindow(ORDERS, TWO_S, 1000),
        RateWindow(QUERY, TWO_S, 60),
        RateWindow(PENDING, TWO_S, 60),
        RateWindow(FILLS, TWO_S, 60),
        RateWindow(POSITIONS, TWO_S, 10),
        RateWindow(BALANCE, TWO_S, 10),
        RateWindow(CONFIG, TWO_S, 5),
        RateWindow(DEADMAN, ONE_S, 1),
    ),
    orders_per_minute=1800,
    # OKX publishes no ban beyond the window; block at least one window after a 429.
    ban_ms=TWO_S,
)

COSTS = RequestCosts(
    place=RequestCost(((PLACE, 1), (ORDERS, 1))),
    amend=RequestCost(((AMEND, 1), (ORDERS, 1))),
    cancel=RequestCost(((CANCEL, 1),), essential=True),
    # cancel-all: list the pending orders, then cancel them in batches of 20.
    cancel_all=RequestCost(((PENDING, 1), (BATCH_CANCEL, BATCH_MAX)), essential=True),
    # A query resolves an unknown outcome, which blocks its slot: it has cancel priority.
    query=RequestCost(((QUERY, 1),), essential=True),
    open_orders=RequestCost(((PENDING, 1),), essential=True),
)
"""The costs execution reserves per command kind (WebSocket op or its REST fallback)."""
