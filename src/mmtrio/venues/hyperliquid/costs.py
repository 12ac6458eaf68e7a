"""Hyperliquid's rate limits and what each request costs ("Rate limits and user limits").

Two budgets, as Hyperliquid counts them:

- **Per IP, request weight**: 1200 per minute shared by every REST request (and, counted the
  same here, every websocket ``post``). An ``/exchange`` action weighs ``1 + ⌊n/40⌋`` for a
  batch of ``n``; ``/info`` weighs 2 for ``l2Book``, ``allMids``, ``clearinghouseState``,
  ``orderStatus``, ``spotClearinghouseState`` and ``exchangeStatus``, 60 for ``userRole``, 20
  for every other type (``meta``, ``openOrders``, ``userFills``…), and the fill and trade
  histories add one per 20 items returned (charged after the answer: reserved here as the
  base, the extra is small beside the budget). Over it: HTTP 429.
- **Per address, actions**: every address starts with 10,000 actions and earns one more per
  USDC traded (``userRateLimit``: ``nRequestsCap``/``nRequestsUsed``); past the cap it may
  send one action every 10 s, cancels excepted up to ``min(cap + 100000, 2·cap)``. It is a
  running total, not a window: :func:`limits_for` reads the address's surplus at start and
  sets the ``actions_1m`` window to at most that surplus per minute (and at least the
  throttled pace, 6), so a run never plans more actions in a minute than the address has
  left. Cancels are *protective* (below): they may use the window above the reads (the
  venue's higher cancel cap is the reason they still go through when quotes stop).

The budget's tiers (``core/ratelimit.py``, "Tiers"): quotes up to the margin (80 % by
default); every ``/info`` read, the reconciliation's and the start-up's included, up to
85 % of the weight; cancels, the cancel-all and the dead-man's
``scheduleCancel`` (*protective*) up to 95 %; the stop's cancel-all and its check up to the
limit. Decision: the protective share, :data:`PROTECT_RESERVE` (10 %, 120 weight and 120
actions a minute), holds the refresh at the chaos pace (one a second, 60 a minute) twice
over, or at the default 10 s pace with room for a hundred cancels besides; reads keep 85 %,
more than quotes, so a quoting burst still leaves the reconciliation room. Before it, reads and
the refresh shared the essential band, and a restart storm's start-up reads (about 110 weight
an incarnation) and the 5 s reconciliation (42 a pass) kept it full while every refresh was
refused locally, until the venue's 6 s countdown fired on a live bot (DST seeds 1-200 at
60 s: 39 runs). The cost: after such a storm the reconciliation, not the refresh, waits for
its share (docs/DST.md, "Not done yet").

Hyperliquid has no cancel-all action: ``cancel_all`` reads ``openOrders`` (weight 20) and
cancels them in one ``cancel`` batch, and is costed so.
"""

from __future__ import annotations

from mmtrio.core.ratelimit import MINUTE_MS, RateLimits, RateWindow, RequestCost
from mmtrio.errors import ProtocolError
from mmtrio.venues.protocol import RequestCosts

WEIGHT, ACTIONS = "weight_1m", "actions_1m"
IP_WEIGHT_PER_MINUTE = 1200
THROTTLED_PER_MINUTE = 6  # one action every 10 s once the address budget is spent
INITIAL_ACTIONS = 10_000
BAN_MS = 60_000  # no documented ban; a 429 without Retry-After waits a whole window

_LIGHT_INFO = frozenset(
    {"l2Book", "allMids", "clearinghouseState", "orderStatus", "spotClearinghouseState",
     "exchangeStatus"}
)  # fmt: skip
_HEAVY_INFO = {"userRole": 60}


def info_weight(kind: str) -> int:
    """The base weight of an ``/info`` request of type ``kind``."""
    if not kind:
        raise ProtocolError("an /info request needs a type")
    if kind in _LIGHT_INFO:
        return 2
    return _HEAVY_INFO.get(kind, 20)


# "an additional rate limit weight per 20 items returned in the response" (per 60 for
# candleSnapshot): Hyperliquid's rate-limit page. A bot restarted after a busy day reads
# userFillsByTime with up to 2,000 fills: 100 weight more than the request's base.
_PER_20_ITEMS = frozenset(
    {"recentTrades", "historicalOrders", "userFills", "userFillsByTime", "fundingHistory",
     "userFunding", "nonUserFundingUpdates", "twapHistory", "userTwapSliceFills",
     "userTwapSliceFillsByTime", "delegatorHistory", "delegatorRewards", "validatorStats"}
)  # fmt: skip


def info_extra_weight(kind: str, items: int) -> int:
    """The weight an ``/info`` answer of ``items`` items adds to its request's base (rounded
    up: the venue does not say how it rounds, and counting one more is the safe side)."""
    per = 20 if kind in _PER_20_ITEMS else 60 if kind == "candleSnapshot" else 0
    return -(-items // per) if per and items > 0 else 0


def exchange_weight(batch: int = 1) -> int:
    """The weight of one ``/exchange`` action carrying ``batch`` orders or cancels."""
    if batch < 1:
        raise ProtocolError(f"an action carries at least one item, got {batch}")
    return 1 + batch // 40


PROTECT_RESERVE = 0.10  # reads up to 85 %: 1 − the stop's 5 % − this


def _action(weight: int = 1, *, protect: bool = False) -> RequestCost:
    cost = RequestCost(((WEIGHT, weight), (ACTIONS, 1)))
    return cost.protective() if protect else cost


def _read(weight: int) -> RequestCost:
    return RequestCost(((WEIGHT, weight),), essential=True)


ACTION = _action(exchange_weight(1), protect=True)
"""One action the execution layer did not send (the dead-man's ``scheduleCancel``), paced by
the connector itself (:meth:`~mmtrio.venues.hyperliquid.rest.HyperliquidRest.paid_for`)."""

COSTS = RequestCosts(
    place=_action(exchange_weight(1)),
    amend=_action(exchange_weight(1)),  # batchModify of one
    cancel=_action(exchange_weight(1), protect=True),
    # openOrders (20) then one cancel batch (1 for up to 39 orders).
    cancel_all=RequestCost(((WEIGHT, info_weight("openOrders") + 1), (ACTIONS, 1))).protective(),
    query=_read(info_weight("orderStatus")),
    open_orders=_read(info_weight("openOrders")),
    deadman=ACTION,
)
"""The costs execution reserves per command kind."""


def limits_for(surplus_actions: int | None) -> RateLimits:
    """The windows for an address with ``surplus_actions`` left (None: not read yet → the
    initial 10,000, as for a new address)."""
    surplus = INITIAL_ACTIONS if surplus_actions is None else surplus_actions
    per_minute = min(IP_WEIGHT_PER_MINUTE, max(THROTTLED_PER_MINUTE, surplus))
    return RateLimits(
        (
            # Hyperliquid does not say how it aligns its minute: at most the limit in any
            # span of a minute is safe whatever it does (core/rate_windows.py)
            RateWindow(WEIGHT, MINUTE_MS, IP_WEIGHT_PER_MINUTE, sliding=True),
            RateWindow(ACTIONS, MINUTE_MS, per_minute, sliding=True),
        ),
        orders_per_minute=per_minute,
        ban_ms=BAN_MS,
        protect_reserve=PROTECT_RESERVE,
    )


DEFAULT_LIMITS = limits_for(None)
