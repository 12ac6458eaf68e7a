"""Binance USD-M rate-limit budgets: request weight per minute, orders per 10 s and per minute.

Pure accounting, time passed in: the execution layer asks :meth:`RateBudget.try_acquire`
before a request leaves and feeds back what the venue says (usage headers, 429 Retry-After,
418 ban). Nothing here sleeps; :meth:`RateBudget.wait_ms` says how long the caller should.

Decisions recorded here:

- **Fixed windows aligned to the clock, like Binance's.** Binance counts per interval
  starting on the interval boundary ("a request at 00:01:23.456 counts towards the 00:01:00
  minute"), so a 1-minute window is ``[k·60 000, (k+1)·60 000)`` in epoch ms and a 10-second
  one ``[k·10 000, …)``. ``now_ms`` should be venue time (local time corrected by the
  measured offset); the safety margin absorbs the remaining boundary disagreement. A clock
  step backwards never reopens an older window (the current counts are kept).
- **Priority rule: cancels are never starved by quoting.** Non-essential requests (quotes,
  snapshots, queries) may use at most ``margin`` (default 80 %) of each limit; essential ones
  (cancels, cancel-all, the dead-man countdown refresh) may use it up to the hard limit, so
  at least 20 % of the weight is always left for them. Cancels carry no order count on
  Binance, so the order limits never block them.
- **The venue's counts are authoritative but never lower ours.** Usage headers raise the
  local count of the current window to the venue's figure; they never lower it below what we
  know we sent in that window. A header that arrives just after a boundary is applied to the
  new window: conservative (over-counts for at most one window), never optimistic.
- **A 429 or 418 blocks everything**, cancels included, until it expires: a request sent
  during a ban escalates it (429 → 418 → longer bans), and resting orders are protected by
  the venue-side dead-man countdown meanwhile.
- **New orders cost 1 weight** although Binance documents 0 IP weight for ``POST
  /fapi/v1/order``: over-counting by one is harmless, under-counting if that ever changes is not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mmtrio.errors import ParameterError, ProtocolError

MINUTE_MS = 60_000
TEN_SECONDS_MS = 10_000
DEFAULT_418_BAN_MS = 120_000  # Binance's shortest IP ban is 2 minutes


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The three limits a market maker hits (Binance USD-M defaults)."""

    weight_1m: int = 2400
    orders_10s: int = 300
    orders_1m: int = 1200

    def __post_init__(self) -> None:
        for name in ("weight_1m", "orders_10s", "orders_1m"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, int) or val <= 0:
                raise ParameterError(f"rate limit {name} must be a positive integer, got {val!r}")

    @classmethod
    def from_exchange_info(cls, rate_limits: Sequence[Mapping[str, object]]) -> RateLimits:
        """Read exchangeInfo ``rateLimits``; a limit it does not state keeps its default.

        Missing entries are normal (the venue lists only what applies); a malformed entry is
        a ProtocolError naming it.
        """
        _intervals = {"SECOND": 1_000, "MINUTE": MINUTE_MS, "HOUR": 3_600_000, "DAY": 86_400_000}
        found: dict[str, int] = {}
        for entry in rate_limits:
            try:
                kind = entry["rateLimitType"]
                interval_ms = _intervals[str(entry["interval"])] * int(str(entry["intervalNum"]))
                limit = int(str(entry["limit"]))
            except (KeyError, ValueError, TypeError) as exc:
                raise ProtocolError(
                    f"exchangeInfo rateLimits entry is malformed: {entry!r}"
                ) from exc
            key = {
                ("REQUEST_WEIGHT", MINUTE_MS): "weight_1m",
                ("ORDERS", TEN_SECONDS_MS): "orders_10s",
                ("ORDERS", MINUTE_MS): "orders_1m",
            }.get((str(kind), interval_ms))
            if key is not None:
                found[key] = limit
        return cls(**found)


@dataclass(frozen=True, slots=True)
class RequestCost:
    """What one request uses: IP weight, order count (places/amends), and its priority."""

    weight: int
    orders: int = 0
    essential: bool = False


_DEPTH_WEIGHT = {5: 2, 10: 2, 20: 2, 50: 2, 100: 5, 500: 10, 1000: 20}

# (method, path) → cost, for the PROTOCOL.md subset. "WS" is the ws-fapi order session, which
# shares the order-count budget with REST.
ENDPOINT_COSTS: dict[tuple[str, str], RequestCost] = {
    ("GET", "/fapi/v1/exchangeInfo"): RequestCost(1),
    ("GET", "/fapi/v1/time"): RequestCost(1),
    ("POST", "/fapi/v1/order"): RequestCost(1, orders=1),
    ("PUT", "/fapi/v1/order"): RequestCost(1, orders=1),
    ("DELETE", "/fapi/v1/order"): RequestCost(1, essential=True),
    ("DELETE", "/fapi/v1/allOpenOrders"): RequestCost(1, essential=True),
    ("GET", "/fapi/v1/order"): RequestCost(1),
    ("GET", "/fapi/v2/positionRisk"): RequestCost(5),
    ("GET", "/fapi/v2/account"): RequestCost(5),
    ("POST", "/fapi/v1/countdownCancelAll"): RequestCost(10, essential=True),
    ("POST", "/fapi/v1/listenKey"): RequestCost(1),
    ("PUT", "/fapi/v1/listenKey"): RequestCost(1),
    ("DELETE", "/fapi/v1/listenKey"): RequestCost(1),
    ("WS", "order.place"): RequestCost(1, orders=1),
    ("WS", "order.modify"): RequestCost(1, orders=1),
    ("WS", "order.cancel"): RequestCost(1, essential=True),
    ("WS", "order.status"): RequestCost(1),
    ("WS", "account.position"): RequestCost(5),
}


def request_cost(
    method: str, path: str, params: Mapping[str, str | int] | None = None
) -> RequestCost:
    """Cost of one request; params matter for depth (``limit``) and openOrders (``symbol``).

    An endpoint outside the documented subset raises ProtocolError: guessing a weight would
    silently mis-count the budget.
    """
    method = method.upper()
    params = params or {}
    if (method, path) == ("GET", "/fapi/v1/depth"):
        raw = params.get("limit", 500)  # Binance's default depth limit
        try:
            limit = int(raw)
        except (TypeError, ValueError):
            raise ParameterError(f"depth limit {raw!r} is not an integer") from None
        if limit not in _DEPTH_WEIGHT:
            raise ParameterError(
                f"depth limit {limit} is not one Binance accepts: {sorted(_DEPTH_WEIGHT)}"
            )
        return RequestCost(_DEPTH_WEIGHT[limit])
    if (method, path) == ("GET", "/fapi/v1/openOrders"):
        return RequestCost(1 if params.get("symbol") else 40)
    try:
        return ENDPOINT_COSTS[(method, path)]
    except KeyError:
        raise ProtocolError(
            f"no rate-limit weight known for {method} {path}; add it to ENDPOINT_COSTS from "
            "the venue's documentation"
        ) from None


def _retry_after_ms(seconds: float) -> int:
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or seconds < 0
    ):
        raise ProtocolError(
            f"Retry-After must be a non-negative number of seconds, got {seconds!r}"
        )
    return math.ceil(seconds * 1000)


class _Window:
    """One fixed, clock-aligned window: ``[start, start + interval)``."""

    __slots__ = ("count", "interval", "limit", "start")

    def __init__(self, interval: int, limit: int) -> None:
        self.interval = interval
        self.limit = limit
        self.start = -1
        self.count = 0

    def roll(self, now: int) -> None:
        start = now - now % self.interval
        if start > self.start:  # never reopen an older window on a clock step back
            self.start = start
            self.count = 0

    def end(self) -> int:
        return self.start + self.interval


class RateBudget:
    """Local accounting of Binance's three limits, synced from the venue's headers."""

    __slots__ = (
        "_ban_418_ms",
        "_block_reason",
        "_blocked_until",
        "_margin",
        "_o1m",
        "_o10",
        "_w1m",
        "banned",
    )

    def __init__(
        self,
        limits: RateLimits | None = None,
        *,
        margin: float = 0.8,
        ban_418_ms: int = DEFAULT_418_BAN_MS,
    ) -> None:
        if isinstance(margin, bool) or not isinstance(margin, int | float) or not 0 < margin <= 1:
            raise ParameterError(f"rate-limit margin must be in (0, 1], got {margin!r}")
        if isinstance(ban_418_ms, bool) or not isinstance(ban_418_ms, int) or ban_418_ms <= 0:
            raise ParameterError(f"ban_418_ms must be a positive integer, got {ban_418_ms!r}")
        limits = limits or RateLimits()
        self._margin = float(margin)
        self._w1m = _Window(MINUTE_MS, limits.weight_1m)
        self._o10 = _Window(TEN_SECONDS_MS, limits.orders_10s)
        self._o1m = _Window(MINUTE_MS, limits.orders_1m)
        self._blocked_until: int | None = None
        self._block_reason: str | None = None
        self.banned = False  # a 418 was received: the operator must know, it is a failure
        self._ban_418_ms = ban_418_ms

    def _ceiling(self, window: _Window, essential: bool) -> int:
        return window.limit if essential else math.floor(window.limit * self._margin)

    def _needs(self, weight: int, is_order: bool) -> list[tuple[_Window, int]]:
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            raise ParameterError(f"request weight must be a non-negative integer, got {weight!r}")
        n = 1 if is_order else 0
        return [(self._w1m, weight), (self._o10, n), (self._o1m, n)]

    def _roll(self, now_ms: int) -> None:
        for w in (self._w1m, self._o10, self._o1m):
            w.roll(now_ms)
        if self._blocked_until is not None and now_ms >= self._blocked_until:
            self._blocked_until = None
            self._block_reason = None
            self.banned = False

    def wait_ms(self, weight: int, is_order: bool, now_ms: int, *, essential: bool = False) -> int:
        """Milliseconds until this request could be granted (0 = now).

        A request that cannot fit even an empty window raises ParameterError (waiting would
        never help).
        """
        needs = self._needs(weight, is_order)
        self._roll(now_ms)
        if self._blocked_until is not None:
            return self._blocked_until - now_ms
        wait = 0
        for window, n in needs:
            ceiling = self._ceiling(window, essential)
            if n > ceiling:
                raise ParameterError(
                    f"request needs {n} of a limit whose usable ceiling is {ceiling} "
                    f"per {window.interval} ms; it can never be sent"
                )
            if n and window.count + n > ceiling:
                wait = max(wait, window.end() - now_ms)
        return wait

    def try_acquire(
        self, weight: int, is_order: bool, now_ms: int, *, essential: bool = False
    ) -> bool:
        """Reserve the budget for one request at ``now_ms`` if it fits; False if it must wait."""
        if self.wait_ms(weight, is_order, now_ms, essential=essential):
            return False
        for window, n in self._needs(weight, is_order):
            window.count += n
        return True

    def try_acquire_cost(self, cost: RequestCost, now_ms: int) -> bool:
        """:meth:`try_acquire` for an endpoint cost from :func:`request_cost`."""
        return self.try_acquire(cost.weight, cost.orders > 0, now_ms, essential=cost.essential)

    def update_from_headers(
        self,
        used_weight_1m: int | None,
        order_count_10s: int | None,
        order_count_1m: int | None,
        now_ms: int,
    ) -> None:
        """Take the venue's usage headers (None = header absent) as a floor for our counts."""
        self._roll(now_ms)
        for window, value, name in (
            (self._w1m, used_weight_1m, "X-MBX-USED-WEIGHT-1M"),
            (self._o10, order_count_10s, "X-MBX-ORDER-COUNT-10S"),
            (self._o1m, order_count_1m, "X-MBX-ORDER-COUNT-1M"),
        ):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ProtocolError(f"{name} header must be a non-negative integer, got {value!r}")
            window.count = max(window.count, value)

    def _block(self, until: int, reason: str) -> None:
        if self._blocked_until is None or until > self._blocked_until:
            self._blocked_until = until
            self._block_reason = reason

    def on_retry_after(self, seconds: float | None, now_ms: int) -> None:
        """HTTP 429: no request at all before ``now_ms + seconds``.

        Without a Retry-After header, block until the current weight minute ends (the
        window the 429 is about).
        """
        self._roll(now_ms)
        if seconds is None:
            self._block(self._w1m.end(), "HTTP 429 without Retry-After: until the minute ends")
            return
        self._block(now_ms + _retry_after_ms(seconds), f"HTTP 429: Retry-After {seconds} s")

    def on_418(self, now_ms: int, retry_after_s: float | None = None) -> None:
        """HTTP 418 (IP banned): block for Retry-After or at least the default ban."""
        self._roll(now_ms)
        ms = self._ban_418_ms
        if retry_after_s is not None:
            if (
                isinstance(retry_after_s, bool)
                or not math.isfinite(retry_after_s)
                or retry_after_s < 0
            ):
                raise ProtocolError(
                    f"Retry-After must be a non-negative number, got {retry_after_s!r}"
                )
            ms = max(ms, math.ceil(retry_after_s * 1000))
        self.banned = True
        self._block(now_ms + ms, f"HTTP 418 IP ban for {ms} ms")

    def blocked_until(self, now_ms: int) -> int | None:
        self._roll(now_ms)
        return self._blocked_until

    def usage(self, now_ms: int) -> dict[str, object]:
        """Counts, limits and resets for the status screen."""
        self._roll(now_ms)
        out: dict[str, object] = {}
        for name, w in (
            ("weight_1m", self._w1m),
            ("orders_10s", self._o10),
            ("orders_1m", self._o1m),
        ):
            out[name] = {
                "used": w.count,
                "limit": w.limit,
                "soft_limit": self._ceiling(w, essential=False),
                "resets_in_ms": w.end() - now_ms,
            }
        out["blocked_for_ms"] = 0 if self._blocked_until is None else self._blocked_until - now_ms
        out["block_reason"] = self._block_reason
        out["banned"] = self.banned
        return out
