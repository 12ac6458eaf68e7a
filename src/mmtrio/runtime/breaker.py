"""Circuit breaker for order entry: stop quoting into a venue that keeps failing.

Pure state machine, time passed in (ms). CLOSED counts consecutive failures; ``threshold``
of them open it. OPEN refuses new orders (cancels still go: they only reduce risk) until
``probe_interval_ms`` has passed; then HALF_OPEN lets exactly one request through as a
probe. The probe's success closes the breaker; its failure reopens it for another interval.

What counts as a failure is the caller's call: venue trouble (5xx, unknown outcome,
timeout, connection failure), never a definite rejection of our request (a -5022 post-only
reject says the venue is healthy).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mmtrio.errors import ConfigError


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerStatus:
    state: BreakerState
    consecutive_failures: int
    reason: str | None
    opened_at_ms: int | None
    times_opened: int


class CircuitBreaker:
    """Consecutive venue failures → open (reason) → half-open probe → closed on success.

    In HALF_OPEN any success closes it (the probe's, or a cancel's answered meanwhile)."""

    def __init__(self, threshold: int = 5, probe_interval_ms: int = 10_000) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
            raise ConfigError(
                f"circuit breaker threshold must be an integer >= 1, got {threshold!r}"
            )
        if (
            isinstance(probe_interval_ms, bool)
            or not isinstance(probe_interval_ms, int)
            or probe_interval_ms < 1
        ):
            raise ConfigError(
                "circuit breaker probe interval must be a positive integer of ms, "
                f"got {probe_interval_ms!r}"
            )
        self.threshold = threshold
        self.probe_interval_ms = probe_interval_ms
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._reason: str | None = None
        self._opened_at: int | None = None
        self._probe_in_flight = False
        self._times_opened = 0

    def state(self, now_ms: int) -> BreakerState:
        """The state at ``now_ms`` (OPEN turns HALF_OPEN once the probe interval has passed)."""
        if (
            self._state is BreakerState.OPEN
            and self._opened_at is not None
            and now_ms - self._opened_at >= self.probe_interval_ms
        ):
            self._state = BreakerState.HALF_OPEN
            self._probe_in_flight = False
        return self._state

    def allow(self, now_ms: int) -> bool:
        """May a new order request leave now? In HALF_OPEN only one (the probe) is allowed;
        the caller must report its result with :meth:`on_success` / :meth:`on_failure`."""
        st = self.state(now_ms)
        if st is BreakerState.CLOSED:
            return True
        if st is BreakerState.HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            return True
        return False

    def refusal_reason(self, now_ms: int) -> str:
        """Why :meth:`allow` said no, for the PlaceRejected reason and the log."""
        st = self.state(now_ms)
        if st is BreakerState.HALF_OPEN:
            return f"circuit breaker half-open: probe in flight after {self._reason}"
        left = 0 if self._opened_at is None else self._opened_at + self.probe_interval_ms - now_ms
        return f"circuit breaker open ({self._reason}); next probe in {max(0, left)} ms"

    def on_success(self, now_ms: int) -> None:
        """The venue answered normally (including a definite rejection of our request)."""
        self._failures = 0
        # While OPEN only the probe decides: a cancel answered during an outage does not
        # prove order entry is healthy again.
        if self.state(now_ms) is BreakerState.HALF_OPEN:
            self._state = BreakerState.CLOSED
            self._reason = None
            self._opened_at = None
            self._probe_in_flight = False

    def on_failure(self, now_ms: int, reason: str) -> None:
        """The venue failed a request (5xx, unknown outcome, transport failure)."""
        self._failures += 1
        st = self.state(now_ms)
        if st is BreakerState.HALF_OPEN or (
            st is BreakerState.CLOSED and self._failures >= self.threshold
        ):
            self._open(now_ms, reason)

    def _open(self, now_ms: int, reason: str) -> None:
        self._state = BreakerState.OPEN
        self._reason = f"{self._failures} consecutive venue failures, last: {reason}"
        self._opened_at = now_ms
        self._probe_in_flight = False
        self._times_opened += 1

    def status(self, now_ms: int) -> BreakerStatus:
        return BreakerStatus(
            state=self.state(now_ms),
            consecutive_failures=self._failures,
            reason=self._reason,
            opened_at_ms=self._opened_at,
            times_opened=self._times_opened,
        )
