"""OKX's rate limits as the simulated OKX venue counts them: per endpoint, per 2 seconds.

OKX limits each endpoint on its own (docs "Rate Limit" and each endpoint's line): e.g. place
order 60 requests per 2 s (per instrument; the ``order`` op shares it), batch orders 300
*orders* per 2 s, positions 10 per 2 s, cancel-all-after 1 per second. Over a limit OKX
answers HTTP 429 ``{"code": "50011"}`` (an op: ``sCode`` 50011) and the request has no
effect; OKX documents no ban and no Retry-After, so none is sent and the window's reset is
the wait. Windows are fixed and aligned, like the shared limiter's. Every 429 is recorded in
the venue's ground truth through :meth:`mmtrio.sim.limits.RateLimiter.refuse`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mmtrio.sim.limits import LimitReason, RateLimiter, RateLimitHit

# endpoint class → (interval s, limit per interval); the classes the routes charge
WINDOWS: dict[str, tuple[float, int]] = {
    "place": (2.0, 60),
    "amend": (2.0, 60),
    "cancel": (2.0, 60),
    "batch_place": (2.0, 300),
    "batch_amend": (2.0, 300),
    "batch_cancel": (2.0, 300),
    "orders": (2.0, 1000),  # new and amended orders, the whole sub-account
    "order_query": (2.0, 60),
    "pending": (2.0, 60),
    "fills": (2.0, 60),
    "positions": (2.0, 10),
    "balance": (2.0, 10),
    "config": (2.0, 5),
    "currencies": (1.0, 6),
    "leverage": (2.0, 20),
    "set_leverage": (2.0, 20),
    "trade_fee": (2.0, 5),
    "history": (2.0, 40),
    "deadman": (1.0, 1),
    "close_position": (2.0, 20),
    "instruments": (2.0, 20),
    "books": (2.0, 40),
    "time": (2.0, 10),
    "public": (2.0, 20),  # mark price, funding rate, ticker
    "trades": (2.0, 100),
    "candles": (2.0, 40),
}
ORDER_CLASSES = frozenset({"place", "amend", "cancel", "batch_place", "batch_amend",
                           "batch_cancel", "orders"})  # fmt: skip


@dataclass(slots=True)
class _Window:
    seconds: float
    limit: int
    key: int = -1
    used: int = 0

    def room(self, now: float) -> int:
        if math.floor(now / self.seconds) != self.key:
            return self.limit
        return self.limit - self.used

    def add(self, n: int, now: float) -> None:
        key = math.floor(now / self.seconds)
        if key != self.key:
            self.key, self.used = key, 0
        self.used += n

    def reset_in(self, now: float) -> float:
        return (math.floor(now / self.seconds) + 1) * self.seconds - now


class OkxLimiter:
    """Per-endpoint windows; a refusal is recorded in the shared limiter's ground truth."""

    def __init__(self, shared: RateLimiter) -> None:
        self.shared = shared
        self.windows = {name: _Window(s, n) for name, (s, n) in WINDOWS.items()}

    def charge(self, costs: list[tuple[str, int]], now: float, wall_ms: int) -> None:
        """Count a request (``(class, units)`` pairs) or refuse it whole with a 429."""
        self.shared.requests += 1
        for name, n in costs:
            window = self.windows[name]
            if n > window.room(now):
                reason = LimitReason.ORDERS if name in ORDER_CLASSES else LimitReason.WEIGHT
                raise self.shared.refuse(
                    reason,
                    f"Rate limit reached: {window.limit} per {window.seconds:g} s ({name})",
                    retry=window.reset_in(now),
                    now=now,
                    wall_ms=wall_ms,
                    window_s=max(1, int(window.seconds)),
                    limit=window.limit,
                )
        for name, n in costs:
            self.windows[name].add(n, now)

    def set_limit(self, name: str, limit: int) -> None:
        self.windows[name].limit = limit


__all__ = ["WINDOWS", "OkxLimiter", "RateLimitHit"]
