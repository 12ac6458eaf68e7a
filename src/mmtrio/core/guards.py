"""Risk guards: the trading state, the kill-switch latch, drawdown, data-health and order-flow.

Each guard is a small pure object: it is fed observations with the time they happened and,
asked at a time ``now``, says which :class:`TradingState` it demands and why. The
:class:`~mmtrio.core.risk.RiskManager` takes the most severe demand. Nothing here reads a
clock or does I/O.

Decisions recorded here (the spec is silent on them):

- **Stale book → HALTED (self-clearing), not REDUCING_ONLY.** Every quote, including an
  inventory-reducing one, is priced off the book; a book that has stopped updating prices
  quotes off a market that may have moved, and they get picked off. So a stale book stops all
  quoting (the strategy cancels its quotes) until a fresh update arrives. It does not latch:
  data coming back is the cure, no operator is needed.
- **Feed latency over the limit → REDUCING_ONLY (self-clearing).** Data still flows, just
  late: quoting the inventory-increasing side on late data is adverse selection, but working
  the position down is still the lower-risk action. Latency is exchange event time vs local
  receive time of the latest message, so the runtime must pass a receive time corrected for
  the measured clock offset to the venue; otherwise skew reads as latency.
- **Drawdown breach latches the kill switch** (HALTED until an operator resume), see
  :class:`DrawdownTracker` and :class:`KillSwitch`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from mmtrio.core.figures import money, utc_iso
from mmtrio.errors import ParameterError


class TradingState(enum.Enum):
    """What the strategy may do, from least to most restrictive.

    ACTIVE: quote both sides (subject to inventory bands). REDUCING_ONLY: only orders that
    reduce the position. HALTED: no new orders except reduce-only ones that reduce (used to
    flatten); resting quotes are cancelled.
    """

    ACTIVE = "ACTIVE"
    REDUCING_ONLY = "REDUCING_ONLY"
    HALTED = "HALTED"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {TradingState.ACTIVE: 0, TradingState.REDUCING_ONLY: 1, TradingState.HALTED: 2}


@dataclass(frozen=True, slots=True)
class StateChange:
    """One transition of the trading state, always with the reason, at time ``ts`` (ms)."""

    from_state: TradingState
    to_state: TradingState
    reason: str
    ts: int


@dataclass(frozen=True, slots=True)
class GuardVerdict:
    """A guard's demand: the state it requires and why."""

    state: TradingState
    reason: str


def _positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ParameterError(f"{name} must be a positive integer, got {value!r}")
    return value


def _finite_decimal(name: str, value: Decimal) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ParameterError(f"{name} must be a finite Decimal, got {value!r}")
    return value


class KillSwitch:
    """A latch: once tripped, only an explicit :meth:`resume` clears it.

    Tripping again while tripped keeps the first reason (the root cause is what an operator
    needs) but records whether any trip asked to flatten the position.
    """

    __slots__ = ("_flatten", "_reason", "_since")

    def __init__(self) -> None:
        self._reason: str | None = None
        self._since: int | None = None
        self._flatten = False

    @property
    def tripped(self) -> bool:
        return self._reason is not None

    @property
    def reason(self) -> str | None:
        return self._reason

    @property
    def since(self) -> int | None:
        return self._since

    @property
    def flatten(self) -> bool:
        """True when some trip asked to close the position (reduce-only orders)."""
        return self._flatten

    def trip(self, reason: str, now: int, *, flatten: bool = False) -> None:
        """Latch the switch with ``reason`` (kept if already tripped)."""
        if not reason:
            raise ParameterError("a kill-switch trip needs a reason; pass what triggered it")
        if self._reason is None:
            self._reason = reason
            self._since = now
        self._flatten = self._flatten or flatten

    def resume(self) -> None:
        """Clear the latch. Callers decide whether a resume is allowed (see RiskManager)."""
        self._reason = None
        self._since = None
        self._flatten = False

    def verdict(self) -> GuardVerdict | None:
        if self._reason is None:
            return None
        return GuardVerdict(TradingState.HALTED, f"kill switch: {self._reason}")


class DrawdownTracker:
    """Equity peak and drawdown from that peak; a breach latches.

    Equity is passed in (realised + unrealised − fees + funding, in quote currency; the
    strategy passes the total carried across restarts, :mod:`mmtrio.core.loss_limits`) and
    the peak is its running maximum: it is never reset when the position goes flat, so
    a string of small losing round-trips adds up exactly like one large loss. Once the
    drawdown exceeds ``max_drawdown`` the tracker stays ``breached`` until :meth:`rebase`,
    which only an operator resume with an explicit drawdown override calls.
    """

    __slots__ = ("_breach_reason", "_last", "_max", "_peak")

    def __init__(self, max_drawdown: Decimal) -> None:
        _finite_decimal("max_drawdown", max_drawdown)
        if max_drawdown <= 0:
            raise ParameterError(f"max_drawdown must be > 0 (quote currency), got {max_drawdown}")
        self._max = max_drawdown
        self._peak: Decimal | None = None
        self._last: Decimal | None = None
        self._breach_reason: str | None = None

    @property
    def max_drawdown(self) -> Decimal:
        return self._max

    @property
    def peak(self) -> Decimal | None:
        return self._peak

    @property
    def equity(self) -> Decimal | None:
        return self._last

    @property
    def drawdown(self) -> Decimal:
        """Current drawdown from the peak (≥ 0; 0 before any equity was seen)."""
        if self._peak is None or self._last is None:
            return Decimal(0)
        return self._peak - self._last

    @property
    def breached(self) -> bool:
        return self._breach_reason is not None

    @property
    def breach_reason(self) -> str | None:
        return self._breach_reason

    def update(self, equity: Decimal, now: int) -> bool:
        """Record session equity at ``now``; return True if this update newly breached."""
        _finite_decimal("session equity", equity)
        self._last = equity
        if self._peak is None or equity > self._peak:
            self._peak = equity
        if self._breach_reason is None and self.drawdown > self._max:
            self._breach_reason = (
                f"drawdown {money(self.drawdown, signed=False)} exceeds the limit "
                f"{money(self._max, signed=False)} (peak {money(self._peak)}, equity "
                f"{money(equity)}) at {utc_iso(now)}"
            )
            return True
        return False

    def latch(self, reason: str) -> None:
        """Latch a breach decided elsewhere (one restored from the journal, or a breach of a
        limit a reload replaced): it holds until :meth:`rebase`."""
        if not reason:
            raise ParameterError("a drawdown latch needs its reason")
        self._breach_reason = reason

    def rebase(self) -> None:
        """Restart the peak at the current equity and clear the breach (operator override)."""
        self._peak = self._last
        self._breach_reason = None


class StaleBookGuard:
    """No book update for more than ``max_age_ms`` → HALTED until the next update.

    Before the first update the book counts as stale (no data is not fresh data). An
    explicit invalidation (sequence gap, resync in progress) halts until the next update too.
    """

    __slots__ = ("_invalid_reason", "_last_update", "_max_age")

    def __init__(self, max_age_ms: int) -> None:
        self._max_age = _positive_int("stale_book_ms", max_age_ms)
        self._last_update: int | None = None
        self._invalid_reason: str | None = None

    def on_update(self, now: int) -> None:
        """A valid book update (snapshot or applied diff) was processed at ``now``."""
        if self._last_update is None or now > self._last_update:
            self._last_update = now
        self._invalid_reason = None

    def invalidate(self, reason: str) -> None:
        """The book is known to be unusable (gap, resync) until the next valid update."""
        self._invalid_reason = reason or "book invalid"

    def age(self, now: int) -> int | None:
        return None if self._last_update is None else now - self._last_update

    def verdict(self, now: int) -> GuardVerdict | None:
        if self._invalid_reason is not None:
            return GuardVerdict(TradingState.HALTED, f"book invalid: {self._invalid_reason}")
        age = self.age(now)
        if age is None:
            return GuardVerdict(TradingState.HALTED, "no book update received yet")
        if age > self._max_age:
            return GuardVerdict(
                TradingState.HALTED,
                f"book stale: last update {age} ms ago (limit {self._max_age} ms)",
            )
        return None


class FeedLatencyGuard:
    """Latest exchange-time → local-receive latency over ``max_latency_ms`` → REDUCING_ONLY.

    Judged on the latest sample: one late message trips it, the next timely one clears it.
    A feed that stops sending is the stale-book guard's business, not this one's.
    """

    __slots__ = ("_last", "_max")

    def __init__(self, max_latency_ms: int) -> None:
        self._max = _positive_int("max_feed_latency_ms", max_latency_ms)
        self._last: int | None = None

    @property
    def latency_ms(self) -> int | None:
        return self._last

    def observe(self, exchange_ts: int, local_ts: int) -> None:
        """A market message stamped ``exchange_ts`` by the venue was received at ``local_ts``."""
        self._last = local_ts - exchange_ts

    def verdict(self) -> GuardVerdict | None:
        if self._last is not None and self._last > self._max:
            return GuardVerdict(
                TradingState.REDUCING_ONLY,
                f"feed latency {self._last} ms exceeds {self._max} ms",
            )
        return None


class OrderFlowTracker:
    """Orders sent and fills received over a sliding window, in fixed-size buckets.

    Memory is bounded by the bucket count whatever the message rate: the window is split
    into ``buckets`` slots of ``window_ms / buckets`` each, reused as a ring. Counts are
    exact to one bucket's resolution (the oldest bucket may be partly outside the window).
    """

    __slots__ = ("_bucket_ms", "_fills", "_memo", "_n", "_orders", "_slot_ids", "_window")

    def __init__(self, window_ms: int, buckets: int = 60) -> None:
        self._window = _positive_int("order_rate_window_ms", window_ms)
        self._n = _positive_int("buckets", buckets)
        if window_ms % buckets != 0:
            raise ParameterError(
                f"order_rate_window_ms {window_ms} must be a multiple of the bucket count {buckets}"
            )
        self._bucket_ms = window_ms // buckets
        self._orders = [0] * buckets
        self._fills = [0] * buckets
        self._slot_ids = [-1] * buckets  # which absolute bucket each slot currently holds
        # (newest bucket, orders, fills) of the last sum: the strategy asks several times per
        # step and the counts only change on on_order/on_fill (which keep the memo exact,
        # see _count) or when the newest bucket moves (a different key). Pure performance,
        # same answers.
        self._memo: tuple[int, int, int] | None = None

    def _slot(self, now: int) -> int | None:
        bucket = now // self._bucket_ms
        i = bucket % self._n
        if self._slot_ids[i] > bucket:
            # Older than the window the slot now holds: it no longer counts, and reusing the
            # slot for it would wipe newer counts.
            return None
        if self._slot_ids[i] != bucket:
            self._slot_ids[i] = bucket
            self._orders[i] = 0
            self._fills[i] = 0
        return i

    def on_order(self, now: int) -> None:
        """A place or amend was sent at ``now`` (cancels are not counted: never throttled)."""
        i = self._slot(now)
        if i is not None:
            self._orders[i] += 1
        self._count(now, i, 1, 0)

    def on_fill(self, now: int) -> None:
        i = self._slot(now)
        if i is not None:
            self._fills[i] += 1
        self._count(now, i, 0, 1)

    def _count(self, now: int, slot: int | None, orders: int, fills: int) -> None:
        """Keep the memo equal to a fresh sum after one count at ``now`` (it was dropped, and
        re-summed over every bucket, after every order).

        A count in a bucket inside the memo's window adds to it. Taking a slot for ``now``
        may have wiped the slot's older bucket, but that one is at least a whole window older
        than ``now``: outside the memo's window whenever ``now`` is inside it. A count the
        memo's window does not hold (or one refused as too old) leaves the sums as they were
        only when nothing was wiped; the memo is then dropped and summed afresh."""
        memo = self._memo
        if memo is None:
            return
        bucket = now // self._bucket_ms
        newest = memo[0]
        if newest - self._n < bucket <= newest:
            if slot is not None:
                self._memo = (newest, memo[1] + orders, memo[2] + fills)
        else:
            self._memo = None

    def _sums(self, now: int) -> tuple[int, int, int]:
        newest = now // self._bucket_ms
        memo = self._memo
        if memo is None or memo[0] != newest:
            # Both counts over the buckets inside the window, in one pass over the ring.
            oldest = newest - self._n
            orders = fills = 0
            for o, f, b in zip(self._orders, self._fills, self._slot_ids, strict=True):
                if oldest < b <= newest:
                    orders += o
                    fills += f
            memo = self._memo = (newest, orders, fills)
        return memo

    def orders(self, now: int) -> int:
        return self._sums(now)[1]

    def fills(self, now: int) -> int:
        return self._sums(now)[2]

    def quote_to_trade(self, now: int) -> float:
        """Orders per fill over the window (orders / max(fills, 1))."""
        return self.orders(now) / max(self.fills(now), 1)
