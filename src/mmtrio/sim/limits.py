"""Request-cost and order-count accounting, 429 back-off and 418 bans, venue-neutral.

A front end says what each request costs (its venue's weight table) and how many orders it
counts; this module keeps the windows and decides. A refusal is a :class:`RateLimitHit`
(status 429 or 418, why, which window, how long to wait, the usage): the front end renders
it in its venue's codes and headers, and can show :class:`Usage` on every answer.

Windows are fixed and aligned (the minute, the ten seconds), like real venues' counters, so
usage resets at the top of each minute. After a 429 the client must wait ``Retry-After``
seconds; a request before that earns a 418 and a ban (``ban_seconds``; real venues escalate
from 2 minutes), except within ``inflight_grace_s`` of the 429: a request arriving then was
most likely already on the wire when the 429 left (the server cannot tell), so it gets another
429, not a ban. Venues ban clients that *keep going* after a 429; the grace keeps the sim from
banning a well-behaved client for requests it could not recall. Every 429 and 418 is
recorded: a 418 is a failure the chaos harness checks for. Time is a monotonic float in
seconds, passed in.

A refusal sent while the link to the client is silent (:meth:`RateLimiter.link_silent`: the
chaos harness's fault proxy holds every byte), or just after it came back, reaches the client
late or not at all: what waited in the link arrives at once, and a request whose timeout ran
out while the link was silent gives up just as its answer comes (chaos seed 7: a 429 the
bot never read, then a 418 for its next request a second later). The grace for such a 429
counts from the end of the window and is ``LINK_GRACE_S`` long; if the link ends in a
reset, the answer never arrives and the client is never banned for that back-off (it still
gets 429s until it ends). Outside those windows the rule is unchanged.

A 429 held on its way out by a latency fault is judged from when it leaves, and only if
someone still waits for it: a client whose request timed out meanwhile closed the
connection and never reads it, so it is not banned for that back-off until another 429 of
it reaches the client (the front ends hold answers with :func:`mmtrio.sim.asgi.hold_answer`).
The ground truth says when each refusal's answer left (:func:`answer_left`): the client
counts its Retry-After wait from when it reads the answer, not from when the venue decided.

A 429 sent while the client is starved of CPU (:meth:`RateLimiter.client_slow`: the chaos
harness shares its core with busy processes) is read late too: the client's own steps are
slow, so a request it decided before its reader got to the 429 arrives well after the usual
grace (DST seed 100067: the 429 left at 9.432 s, the starved bot read it at 9.656 s, and a
place it had sent at 9.644 s arrived at 9.800 s, 0.37 s after the 429, and was banned). Such a
429's grace is ``LINK_GRACE_S`` too; a client that goes on past that is banned as before.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from dataclasses import dataclass, field

from mmtrio.errors import MmtrioError

LINK_GRACE_S = 2.0  # the grace of a 429 a silent link held back (see the module docstring)
LINK_MARGIN_S = 0.5  # a 429 this soon after a window ends still met its backlog


class LimitReason(enum.Enum):
    """Why a request was refused by the limiter."""

    WEIGHT = "weight"  # the per-minute request budget is spent
    ORDERS = "orders"  # an order-count window is full (``window`` says which)
    IN_FLIGHT = "in_flight"  # during a back-off, but probably sent before the 429 left
    IGNORED_BACKOFF = "ignored_backoff"  # sent during a back-off it was told of: banned
    BANNED = "banned"  # while banned
    INJECTED = "injected"  # a fault (http_429)


@dataclass(frozen=True, slots=True)
class Usage:
    """What the client has used of each window, now (a front end may send it as headers)."""

    weight_1m: int
    orders_10s: int
    orders_1m: int


class RateLimitHit(MmtrioError):
    """A request refused by the limiter: 429 (back off ``retry_after_s``) or 418 (banned)."""

    def __init__(
        self,
        status: int,
        reason: LimitReason,
        detail: str,
        retry_after_s: int,
        usage: Usage,
        *,
        window_s: int = 60,
        limit: int = 0,
        event: LimitEvent | None = None,
    ) -> None:
        super().__init__(f"rate limit ({status}, {reason.value}): {detail}")
        self.status = status
        self.reason = reason
        self.detail = detail
        self.retry_after_s = retry_after_s
        self.usage = usage
        self.window_s = window_s  # the window that overflowed (ORDERS, WEIGHT)
        self.limit = limit  # its limit
        self.event = event  # its record in the ground truth


@dataclass(slots=True)
class LimitConfig:
    weight_per_minute: int = 2400
    orders_per_10s: int = 300
    orders_per_minute: int = 1200
    ban_seconds: float = 120.0
    inflight_grace_s: float = 0.25


@dataclass(slots=True)
class _Window:
    seconds: float
    key: int = -1
    used: int = 0

    def add(self, amount: int, now: float) -> int:
        key = math.floor(now / self.seconds)
        if key != self.key:
            self.key, self.used = key, 0
        self.used += amount
        return self.used

    def current(self, now: float) -> int:
        return self.used if math.floor(now / self.seconds) == self.key else 0

    def reset_in(self, now: float) -> float:
        return (math.floor(now / self.seconds) + 1) * self.seconds - now


@dataclass(slots=True)
class LimitEvent:
    """One 429 or 418 answer, for the ground truth."""

    wall_ms: int  # when the venue decided it (its back-off or ban counts from here)
    status: int
    reason: str
    retry_after_s: int  # the Retry-After header sent: how long the client was told to wait
    # When the answer left for a client still waiting for it (None: never sent, its client
    # gave up): the client waits Retry-After from when it reads the answer (:func:`answer_left`).
    sent_ms: int | None = None


def answer_left(hit: RateLimitHit | None, wall_ms: int) -> None:
    """The answer of ``hit`` (None: not a refusal of the limiter) leaves the venue at
    ``wall_ms`` for a client that still waits for it; the ground truth records when. A client
    counts Retry-After from when it reads the answer (it cannot know when the venue decided),
    so a delay fault that held a 429 keeps it away that much longer than the venue's own
    back-off (DST seed 104568: a 429 decided at 8.399 s and held 959 ms kept the bot from
    the venue until 11.358 s, not 10.399 s, and the dead-man's refresh with it)."""
    if hit is not None and hit.event is not None:
        hit.event.sent_ms = wall_ms


@dataclass
class RateLimiter:
    config: LimitConfig = field(default_factory=LimitConfig)
    weight: _Window = field(default_factory=lambda: _Window(60.0))
    orders_10s: _Window = field(default_factory=lambda: _Window(10.0))
    orders_1m: _Window = field(default_factory=lambda: _Window(60.0))
    backoff_until: float = 0.0
    backoff_started: float = -math.inf  # when the 429 that set backoff_until was sent
    banned_until: float = 0.0
    count_429: int = 0
    count_418: int = 0
    requests: int = 0  # every REST request that reached the limiter, answered or not
    events: deque[LimitEvent] = field(default_factory=lambda: deque(maxlen=10_000))
    # (start, end, reset) of the latest silent windows of the link to the client
    silent: deque[tuple[float, float, bool]] = field(default_factory=lambda: deque(maxlen=16))
    # (start, end) of the latest windows in which the client was starved of CPU
    slow: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=16))

    def add_weight(self, weight: int, now: float) -> None:
        """Weight counted after the request was answered (Hyperliquid's per-item weight of an
        answer): it counts against the next requests, this one is not refused for it."""
        self.weight.add(weight, now)

    def link_silent(self, now: float, seconds: float, *, reset: bool) -> None:
        """The link to the client is silent from ``now`` for ``seconds`` (then reset or not)."""
        self.silent.append((now, now + seconds, reset))

    def client_slow(self, now: float, seconds: float | None) -> None:
        """The client is starved of CPU from ``now`` for ``seconds`` (None: from now on)."""
        self.slow.append((now, math.inf if seconds is None else now + seconds))

    def _in_flight(self, now: float) -> bool:
        """Whether a request arriving at ``now`` inside the back-off may not have known of
        the 429 that set it (then it gets a 429, not a ban)."""
        started = self.backoff_started
        for start, end, reset in self.silent:
            if start <= started <= end and reset:
                return True  # the answer died with the link: never read
            if start <= started <= end + LINK_MARGIN_S:
                return now - max(started, end) <= max(LINK_GRACE_S, self.config.inflight_grace_s)
        grace = self.config.inflight_grace_s
        if any(start <= started <= end for start, end in self.slow):
            grace = max(LINK_GRACE_S, grace)
        return now - started <= grace

    def usage(self, now: float) -> Usage:
        return Usage(
            self.weight.current(now), self.orders_10s.current(now), self.orders_1m.current(now)
        )

    def _reject(
        self,
        status: int,
        reason: LimitReason,
        msg: str,
        *,
        retry: float,
        now: float,
        wall_ms: int,
        window_s: int = 60,
        limit: int = 0,
    ) -> RateLimitHit:
        if status == 418:
            self.count_418 += 1
        else:
            self.count_429 += 1
        retry_after_s = max(1, math.ceil(retry))
        event = LimitEvent(wall_ms, status, msg, retry_after_s)
        self.events.append(event)
        return RateLimitHit(
            status,
            reason,
            msg,
            retry_after_s,
            self.usage(now),
            window_s=window_s,
            limit=limit,
            event=event,
        )

    def refuse(
        self,
        reason: LimitReason,
        msg: str,
        *,
        retry: float,
        now: float,
        wall_ms: int,
        window_s: int = 60,
        limit: int = 0,
    ) -> RateLimitHit:
        """A 429 a front end decided with its own windows (a venue that limits each endpoint
        over its own interval, as OKX does): recorded and counted like the limiter's own."""
        return self._reject(
            429, reason, msg, retry=retry, now=now, wall_ms=wall_ms, window_s=window_s, limit=limit
        )

    def check(
        self, weight: int, orders: int, now: float, wall_ms: int, orders_1m: int | None = None
    ) -> Usage:
        """Count one request; return the usage, or raise the 429/418 :class:`RateLimitHit`.
        ``orders`` counts towards both order windows unless ``orders_1m`` says what the
        minute window counts (a venue's batch may count differently in each)."""
        self.requests += 1
        if now < self.banned_until:
            raise self._reject(
                418,
                LimitReason.BANNED,
                "Way too many requests; banned.",
                retry=self.banned_until - now,
                now=now,
                wall_ms=wall_ms,
            )
        if now < self.backoff_until and self._in_flight(now):
            # Probably in flight when the 429 was sent: answer 429 again, no ban.
            raise self._reject(
                429,
                LimitReason.IN_FLIGHT,
                "Too many requests; back off until Retry-After.",
                retry=self.backoff_until - now,
                now=now,
                wall_ms=wall_ms,
            )
        if now < self.backoff_until:
            # It was told to wait (Retry-After) and did not: ban, like real venues.
            self.banned_until = now + self.config.ban_seconds
            raise self._reject(
                418,
                LimitReason.IGNORED_BACKOFF,
                "Way too many requests; banned for not backing off after a 429.",
                retry=self.config.ban_seconds,
                now=now,
                wall_ms=wall_ms,
            )
        used = self.weight.add(weight, now)
        if used > self.config.weight_per_minute:
            retry = self.weight.reset_in(now)
            self.backoff_until, self.backoff_started = now + retry, now
            raise self._reject(
                429,
                LimitReason.WEIGHT,
                f"Too many requests; current limit is {self.config.weight_per_minute} "
                "request weight per minute.",
                retry=retry,
                now=now,
                wall_ms=wall_ms,
                limit=self.config.weight_per_minute,
            )
        if orders:
            n10 = self.orders_10s.add(orders, now)
            n60 = self.orders_1m.add(orders if orders_1m is None else orders_1m, now)
            for n, limit, window in (
                (n10, self.config.orders_per_10s, self.orders_10s),
                (n60, self.config.orders_per_minute, self.orders_1m),
            ):
                if n > limit:
                    retry = window.reset_in(now)
                    self.backoff_until, self.backoff_started = now + retry, now
                    seconds = int(window.seconds)
                    raise self._reject(
                        429,
                        LimitReason.ORDERS,
                        f"Too many new orders; current limit is {limit} orders per {seconds} s.",
                        retry=retry,
                        now=now,
                        wall_ms=wall_ms,
                        window_s=seconds,
                        limit=limit,
                    )
        return self.usage(now)

    def answer_held(self, started: float) -> bool:
        """The 429 that set the back-off at ``started`` is held back (a latency fault): until
        it leaves, the client cannot know, so what arrives meanwhile is in flight (429, no
        ban). Returns whether that 429 was the one setting the current back-off."""
        if self.backoff_started != started:
            return False
        self.backoff_started = math.inf
        return True

    def answer_sent(self, now: float, refused: RateLimitHit | None = None) -> None:
        """A 429 has left at ``now`` for a client that waits for it: if the one that set the
        back-off was held (:meth:`answer_held`), the in-flight grace counts from here. A held
        429 whose client gave up meanwhile (its request timed out) is never sent: until
        another 429 of the back-off reaches the client, what it sends is in flight (429, no
        ban). Chaos seed 40010 on Extended: the two 429s of a back-off were held 1.16 s, past
        the bot's 1 s request timeout; it never read either, sent its next read 0.8 s after
        the first had left for nobody, and was banned.

        ``refused`` (the limiter's refusal this answer carries) must tell of the current
        back-off: read at ``now``, its Retry-After reaches ``backoff_until``. An older 429,
        decided before a later one extended the back-off, tells the client to wait less, and
        a client that honours it is not to be banned for the rest (DST seed 118007: a depth
        read's 429 decided at 23.294 s said 1 s, left at 23.972 s after a held 429 of 23.735
        s had extended the back-off to 25.735 s and was never read; the bot waited until
        24.972 s, as told, and was banned)."""
        if refused is not None and now + refused.retry_after_s < self.backoff_until:
            return  # tells of an earlier back-off: the current one is still unknown
        if self.backoff_started == math.inf:
            self.backoff_started = now

    def forced_429(self, now: float, wall_ms: int, retry_after: float) -> RateLimitHit:
        """A 429 injected by a fault: the client must honour Retry-After like a real one."""
        self.backoff_until, self.backoff_started = now + retry_after, now
        return self._reject(
            429,
            LimitReason.INJECTED,
            "Too many requests (injected fault); back off.",
            retry=retry_after,
            now=now,
            wall_ms=wall_ms,
        )
