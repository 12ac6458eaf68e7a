"""Rate-limit budgets over the venue's declared windows: pure accounting, time passed in.

Each venue declares its limits as named, clock-aligned windows (:class:`RateLimits`: Binance
"weight per minute, orders per 10 s, orders per minute"; OKX per-endpoint request counts per
2 s; Hyperliquid weight per minute) and what each request costs in them (:class:`RequestCost`:
units per window, and whether it is essential). The execution layer asks
:meth:`RateBudget.try_acquire` before a request leaves and feeds back what the venue says
(usage counts, a rate-limit answer with its Retry-After, a ban). Nothing here sleeps;
:meth:`RateBudget.wait_ms` says how long the caller should. No venue's numbers live here: the
tables are in each venue package (``venues/<name>/costs.py``).

Decisions recorded here:

- **Fixed windows aligned to the clock** (Binance counts a request at 00:01:23.456 towards the
  00:01:00 minute): a window of ``interval_ms`` is ``[k·interval, (k+1)·interval)`` in epoch ms.
  ``now_ms`` should be venue time (local time corrected by the measured offset); the safety
  margin absorbs the remaining boundary disagreement. A clock step backwards never reopens
  an older window (the current counts are kept). A venue that states "N per interval" and
  not how it aligns the interval declares the window ``sliding`` (at most N in any span of
  the interval: safe under any alignment the venue keeps; :mod:`mmtrio.core.rate_windows`).
- **Priority rule: cancels are never starved by quoting.** Non-essential requests (quotes,
  snapshots, queries) may use at most ``margin`` (default 80 %) of each limit; essential ones
  (cancels, cancel-all, the dead-man refresh) may use it up to the hard limit, so at least 20 %
  is always left for them.
- **Tiers, lowest first** (:meth:`RateBudget.ceiling`): quotes up to ``margin``; essential
  reads up to the hard limit less ``STOP_RESERVE`` less the venue's ``protect_reserve``;
  *protective* requests (:meth:`RequestCost.protective`: the dead-man refresh, cancels) up to
  the hard limit less ``STOP_RESERVE``; the stop's cancel-all and its confirmation up to the
  hard limit. A venue whose reads share a window with its dead-man refresh declares a
  ``protect_reserve`` (:class:`RateLimits`) so that reads can never fill the share the
  refresh needs (Hyperliquid DST seed 2, 60 s: a restarted bot's start-up reads and the 5 s
  reconciliation, 42 weight a pass, kept the essential band full, every ``scheduleCancel``
  was refused locally and the venue's 6 s countdown fired on the live bot). A venue that
  declares none (0, the default) has the three tiers it had: reads and protective requests
  share the essential band, and its budget decides exactly as before.
- **The venue's counts are authoritative but never lower ours.** Reported usage raises the
  local count of the current window to the venue's figure; it never lowers it below what we
  know we sent in that window.
- **A rate-limit answer or a ban blocks everything**, cancels included, until it expires: a
  request sent during a ban escalates it, and resting orders are protected by the venue-side
  dead-man countdown meanwhile.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from mmtrio.core.rate_windows import Entries, FixedWindow, SlidingWindow
from mmtrio.errors import ParameterError, ProtocolError

MINUTE_MS = 60_000
# The share of every window that only a stop's cancel-all and its confirmation may use: other
# essential requests (reads, cancels) leave it free, so a stop can always cancel even when a
# restart storm's start-up reads and reconciliations have filled the minute (Hyperliquid chaos
# seed 2041: six processes in 24 s; the last one's stop-time cancel-all found the budget, or
# the venue, full and the bot exited 1 with its quotes left to the dead-man countdown).
STOP_RESERVE = 0.05
Window = FixedWindow | SlidingWindow
DEFAULT_BAN_MS = 120_000


@dataclass(frozen=True, slots=True)
class RateWindow:
    """One limit: at most ``limit`` units per clock-aligned ``interval_ms`` window, or, with
    ``sliding``, in any span of ``interval_ms`` (:mod:`mmtrio.core.rate_windows`)."""

    name: str
    interval_ms: int
    limit: int
    sliding: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            raise ParameterError("a rate window needs a name")
        for field_name in ("interval_ms", "limit"):
            val = getattr(self, field_name)
            if isinstance(val, bool) or not isinstance(val, int) or val <= 0:
                raise ParameterError(
                    f"rate window {self.name}: {field_name} must be a positive integer, got {val!r}"
                )


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The limits a venue enforces on one account/IP (declared by the venue package).

    ``orders_per_minute``: the venue's order budget per minute (the strategy's own
    runaway-rate cap derives from it). ``ban_ms``: how long to block, at least, when the venue
    says we are banned (Binance's shortest IP ban is 2 minutes). ``protect_reserve``: the
    share of each window above the reads' ceiling that only protective requests (the dead-man
    refresh, cancels) and the stop may use (module docstring, "Tiers"); 0: none.
    """

    windows: tuple[RateWindow, ...]
    orders_per_minute: int
    ban_ms: int = DEFAULT_BAN_MS
    protect_reserve: float = 0.0

    def __post_init__(self) -> None:
        if not self.windows:
            raise ParameterError("rate limits need at least one window")
        share = self.protect_reserve
        if (
            isinstance(share, bool)
            or not isinstance(share, int | float)
            or not 0 <= share < 1 - STOP_RESERVE
        ):
            raise ParameterError(
                f"protect_reserve must be in [0, {1 - STOP_RESERVE:g}), got {share!r}"
            )
        names = [w.name for w in self.windows]
        if len(set(names)) != len(names):
            raise ParameterError(f"rate window names must be unique, got {names}")
        opm = self.orders_per_minute
        if isinstance(opm, bool) or not isinstance(opm, int) or opm <= 0:
            raise ParameterError(f"orders_per_minute must be a positive integer, got {opm!r}")
        if isinstance(self.ban_ms, bool) or not isinstance(self.ban_ms, int) or self.ban_ms <= 0:
            raise ParameterError(f"ban_ms must be a positive integer, got {self.ban_ms!r}")

    def window(self, name: str) -> RateWindow:
        for w in self.windows:
            if w.name == name:
                return w
        raise ParameterError(
            f"no rate window named {name!r}; known: {[w.name for w in self.windows]}"
        )


@dataclass(frozen=True, slots=True)
class RequestCost:
    """What one request uses, in units per window name, and its priority.

    ``units`` pairs (window name, units); a window not named costs nothing. ``essential``
    requests (cancels, cancel-all, the dead-man refresh, queries resolving unknown outcomes)
    may use a window up to its hard limit less ``STOP_RESERVE`` and the venue's
    ``protect_reserve``; ``protect`` ones (essential too: :meth:`protective`) the
    ``protect_reserve`` as well; ``stop`` requests (the stop's cancel-all and its
    confirmation, :meth:`for_stop`) up to the hard limit.
    """

    units: tuple[tuple[str, int], ...] = ()
    essential: bool = False
    stop: bool = False
    protect: bool = False

    def __post_init__(self) -> None:
        if self.protect and not self.essential:
            raise ParameterError("a protective request cost must be essential too")
        for name, n in self.units:
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise ParameterError(
                    f"request cost in window {name!r} must be a non-negative integer, got {n!r}"
                )

    def of(self, name: str) -> int:
        """Units this request uses in window ``name``."""
        return sum(n for w, n in self.units if w == name)

    def as_essential(self) -> RequestCost:
        return RequestCost(self.units, essential=True)

    def protective(self) -> RequestCost:
        """The same request as one that protects resting orders (the dead-man refresh, a
        cancel): it may use the venue's ``protect_reserve``, which reads may not."""
        return RequestCost(self.units, essential=True, protect=True)

    def for_stop(self) -> RequestCost:
        """The same request sent by a stop: it may use the window's last ``STOP_RESERVE``."""
        return RequestCost(self.units, essential=True, stop=True)


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


class RateBudget:
    """Local accounting of a venue's windows, synced from the usage the venue reports."""

    __slots__ = (
        "_ban_ms",
        "_block_reason",
        "_blocked_until",
        "_longest",
        "_margin",
        "_protect_reserve",
        "_stop_reserve",
        "_windows",
        "banned",
    )

    def __init__(
        self, limits: RateLimits, *, margin: float = 0.8, stop_reserve: float = STOP_RESERVE
    ) -> None:
        if isinstance(margin, bool) or not isinstance(margin, int | float) or not 0 < margin <= 1:
            raise ParameterError(f"rate-limit margin must be in (0, 1], got {margin!r}")
        if not 0 <= stop_reserve < 1:
            raise ParameterError(f"stop reserve must be in [0, 1), got {stop_reserve!r}")
        self._margin = float(margin)
        self._stop_reserve = float(stop_reserve)
        self._protect_reserve = float(limits.protect_reserve)
        if self._stop_reserve + self._protect_reserve >= 1:
            raise ParameterError(
                f"stop reserve {stop_reserve!r} and protect reserve "
                f"{limits.protect_reserve!r} leave reads nothing"
            )
        self._windows: dict[str, Window] = {
            w.name: (SlidingWindow if w.sliding else FixedWindow)(w.interval_ms, w.limit)
            for w in limits.windows
        }
        self._longest = max(self._windows.values(), key=lambda w: w.interval)
        self._blocked_until: int | None = None
        self._block_reason: str | None = None
        self.banned = False  # the venue banned us: the operator must know, it is a failure
        self._ban_ms = limits.ban_ms

    def _ceiling(
        self, window: Window, essential: bool, stop: bool = False, protect: bool = False
    ) -> int:
        if stop:
            return window.limit
        kept = window.limit - math.ceil(window.limit * self._stop_reserve)
        if protect:
            return kept
        if self._protect_reserve:
            kept -= math.ceil(window.limit * self._protect_reserve)
        return kept if essential else min(kept, math.floor(window.limit * self._margin))

    def ceiling(self, name: str, cost: RequestCost) -> int:
        """The most of window ``name`` a request of ``cost``'s tier may find used with it."""
        window = self._windows.get(name)
        if window is None:
            raise ParameterError(f"no rate window named {name!r}; known: {sorted(self._windows)}")
        return self._ceiling(window, cost.essential, cost.stop, cost.protect)

    def _roll(self, now_ms: int) -> None:
        for w in self._windows.values():
            w.roll(now_ms)
        if self._blocked_until is not None and now_ms >= self._blocked_until:
            self._blocked_until = None
            self._block_reason = None
            self.banned = False

    def _needs(self, cost: RequestCost) -> list[tuple[str, Window, int]]:
        out = []
        for name, n in cost.units:
            window = self._windows.get(name)
            if window is None:
                raise ParameterError(
                    f"request cost names window {name!r}, which these limits do not declare "
                    f"({sorted(self._windows)}); fix the venue's cost table"
                )
            out.append((name, window, n))
        return out

    def wait_ms(self, cost: RequestCost, now_ms: int) -> int:
        """Milliseconds until ``cost`` could be granted (0 = now).

        A request that cannot fit even an empty window raises ParameterError (waiting would
        never help).
        """
        needs = self._needs(cost)
        self._roll(now_ms)
        if self._blocked_until is not None:
            return self._blocked_until - now_ms
        wait = 0
        for name, window, n in needs:
            ceiling = self._ceiling(window, cost.essential, cost.stop, cost.protect)
            if n > ceiling:
                raise ParameterError(
                    f"request needs {n} of window {name} whose usable ceiling is {ceiling} "
                    f"per {window.interval} ms; it can never be sent"
                )
            if n:
                wait = max(wait, window.wait(n, ceiling, now_ms))
        return wait

    def pace_wait_ms(self, cost: RequestCost, every_ms: int, now_ms: int) -> int:
        """Milliseconds until ``cost`` sent once every ``every_ms`` for a whole window would
        fit now (0 = now): the room a request kept up at that pace (the dead-man refresh)
        needs before it starts, so that no copy of it is refused before the window has rolled
        over. A pace the tier can never hold in a window waits for the tier's whole ceiling."""
        if isinstance(every_ms, bool) or not isinstance(every_ms, int) or every_ms <= 0:
            raise ParameterError(f"a pace must be a positive number of ms, got {every_ms!r}")
        needs = self._needs(cost)
        self._roll(now_ms)
        if self._blocked_until is not None:
            return self._blocked_until - now_ms
        wait = 0
        for _name, window, n in needs:
            if n:
                ceiling = self._ceiling(window, cost.essential, cost.stop, cost.protect)
                need = min(ceiling, n * -(-window.interval // every_ms))
                wait = max(wait, window.wait(need, ceiling, now_ms))
        return wait

    def try_acquire(self, cost: RequestCost, now_ms: int) -> bool:
        """Reserve ``cost`` at ``now_ms`` if it fits; False if it must wait."""
        if self.wait_ms(cost, now_ms):
            return False
        for _name, window, n in self._needs(cost):
            window.add(n, now_ms)
        return True

    def charge(self, cost: RequestCost, now_ms: int, at_ms: int | None = None) -> None:
        """Book ``cost`` for a request already sent (at ``at_ms``, default now): counted in
        each window that ``at_ms`` falls in, whatever its ceiling (it is spent)."""
        self._needs(cost)  # a window it names must exist
        self._roll(now_ms)
        when = now_ms if at_ms is None else at_ms
        for _name, window, n in self._needs(cost):
            window.add(n, when)

    def update_from_usage(self, usage: Mapping[str, int | None], now_ms: int) -> None:
        """Take the venue's reported usage (window name → count; None = not reported) as a
        floor for our counts. Names this budget does not declare are ignored."""
        self._roll(now_ms)
        for name, value in usage.items():
            window = self._windows.get(name)
            if window is None or value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ProtocolError(
                    f"reported usage of {name} must be a non-negative integer, got {value!r}"
                )
            window.raise_to(value, now_ms)

    def snapshot(self, now_ms: int) -> dict[str, Entries]:
        """Each window's counted ``(time, units)`` now: what a successor process must add to
        its own (the venue counts per IP or account, not per process)."""
        self._roll(now_ms)
        return {name: w.entries() for name, w in self._windows.items()}

    def restore(self, saved: Mapping[str, Entries], now_ms: int) -> int:
        """Add an earlier process's counts still inside their windows; what has left its
        window and names not declared here are dropped. Returns the units added."""
        self._roll(now_ms)
        added = 0
        for name, entries in saved.items():
            window = self._windows.get(name)
            if window is not None:
                added += window.restore(entries, now_ms)
        return added

    def saturate(self, now_ms: int) -> None:
        """Count every window as used up to its soft ceiling: the safe reading when an earlier
        process's usage is unknown (quotes wait for the window, cancels pass)."""
        self._roll(now_ms)
        for w in self._windows.values():
            w.raise_to(self._ceiling(w, essential=False), now_ms)

    def _block(self, until: int, reason: str) -> None:
        if self._blocked_until is None or until > self._blocked_until:
            self._blocked_until = until
            self._block_reason = reason

    def on_retry_after(self, seconds: float | None, now_ms: int) -> None:
        """A rate-limit answer: no request at all before ``now_ms + seconds``.

        Without a Retry-After, block until the longest window ends (the one the answer is
        most likely about; over-waiting is safe, under-waiting earns a ban).
        """
        self._roll(now_ms)
        if seconds is None:
            self._block(
                self._longest.cleared_by(now_ms),
                "rate limited without Retry-After: until the window ends",
            )
            return
        self._block(now_ms + _retry_after_ms(seconds), f"rate limited: Retry-After {seconds} s")

    def on_ban(self, now_ms: int, retry_after_s: float | None = None) -> None:
        """Banned (Binance HTTP 418): block for Retry-After or at least the venue's ban time."""
        self._roll(now_ms)
        ms = self._ban_ms
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
        self._block(now_ms + ms, f"banned for {ms} ms")

    def blocked_until(self, now_ms: int) -> int | None:
        self._roll(now_ms)
        return self._blocked_until

    def usage(self, now_ms: int) -> dict[str, object]:
        """Counts, limits and resets per window, for the status screen."""
        self._roll(now_ms)
        out: dict[str, object] = {}
        for name, w in self._windows.items():
            out[name] = {
                "used": w.count,
                "limit": w.limit,
                "soft_limit": self._ceiling(w, essential=False),
                "resets_in_ms": w.end(now_ms) - now_ms,
            }
        out["blocked_for_ms"] = 0 if self._blocked_until is None else self._blocked_until - now_ms
        out["block_reason"] = self._block_reason
        out["banned"] = self.banned
        return out
