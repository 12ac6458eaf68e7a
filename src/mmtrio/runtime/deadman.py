"""The dead-man heartbeat: keep the venue-side countdown cancel-all armed while we live.

If the process dies outright (kill -9, power loss, a hung loop), no cleanup code runs; the
venue's countdown (``POST /fapi/v1/countdownCancelAll``) then cancels every open order when
it is not refreshed in time. ``refresh_ms`` must be well under ``countdown_ms`` so a slow
or failed refresh or two does not let it fire while we are healthy.

Pacing (issue #20, finding 2). The countdown runs from the last refresh the venue *received*,
so the next one is due ``refresh_ms`` after the start of the last successful attempt (the
venue got it no earlier), not ``refresh_ms`` after an attempt ended: sleeping a full period
after an attempt that itself hung for ~10 s let one stalled refresh use up the whole 30 s
countdown, and the venue cancelled a live bot's quotes. Each attempt is bounded
(:func:`attempt_timeout`), so a hung connection is abandoned in time to try again; a failed
attempt is retried after :func:`retry_delay` (fast: about a second) for as long as the
countdown runs, and a 429/418 is waited out for its Retry-After (the client refuses to send
before then anyway).

Every request an arm or a refresh sends is paced in the rate budget's protective tier
(:func:`~mmtrio.runtime.pace_tier.protecting`), for a venue whose connector pays them from
the budget: the arm itself and any read it needs (a clock resync after a refused time).
"""

from __future__ import annotations

import trio
from loguru import logger

from mmtrio.errors import (
    ConfigError,
    ConnectionFailed,
    MmtrioError,
    OutcomeUnknownError,
    RateLimited,
)
from mmtrio.runtime.pace_tier import protecting
from mmtrio.venues.protocol import Gateway

DISARM_TIMEOUT_S = 5.0
MIN_BACK_OFF_WAIT_S = 0.05  # a back-off reported as (almost) over is still waited a moment
MAX_ATTEMPT_S = 5.0  # one refresh request: beyond this the connection is presumed hung
MAX_RETRY_S = 1.0  # the wait before trying a failed refresh again
ARMED = "dead-man armed for "  # logged once the first arm is confirmed (first_arm)


def attempt_timeout(refresh_s: float) -> float:
    """How long one refresh request may take: half a period, within [0.5, 5] s. A request
    that has not answered by then is abandoned and tried again on a fresh one."""
    return min(MAX_ATTEMPT_S, max(0.5, refresh_s / 2))


def retry_delay(refresh_s: float) -> float:
    """The wait after a failed refresh: a quarter period, at most a second."""
    return min(MAX_RETRY_S, refresh_s / 4)


def check_timing(countdown_ms: int, refresh_ms: int) -> None:
    """Refuse a countdown and refresh the venue would fire on a live bot with."""
    if countdown_ms <= 0:
        raise ConfigError(f"dead-man countdown must be > 0 ms, got {countdown_ms}")
    if not 0 < refresh_ms < countdown_ms:
        raise ConfigError(
            f"dead-man refresh ({refresh_ms} ms) must be positive and shorter than the "
            f"countdown ({countdown_ms} ms), or the venue cancels everything while we are alive"
        )


async def first_arm(
    gateway: Gateway, symbol: str, countdown_ms: int, refresh_ms: int, *, patient: bool = False
) -> float:
    """Arm until the venue confirms it; the Trio time the confirmed attempt started (the
    venue received it no earlier: the next refresh is due a period after it).

    Paced as a refresh is: each attempt is bounded by :func:`attempt_timeout`, and an
    unknown outcome or a lost connection is tried again after :func:`retry_delay`; a 429/418
    is waited out as the venue asks. A definite refusal (an auth or a config error)
    propagates. Hyperliquid chaos seed 20158: a restarted bot's first arm went out over the
    websocket, the venue applied it and its answer was lost; the arm then waited 4 s for the
    post's timeout and 1 s more on REST, whose timeout crashed the task into a supervisor
    restart that met a 429, and the venue's 6 s countdown fired on the live bot. The earlier
    process's countdown is running while a restarted bot arms, so the first arm is retried
    as fast as a refresh.

    The engine's start-up calls it before the trading loop runs (``engine_startup.py``), so
    no order goes out before the countdown protects it; once confirmed it logs
    :data:`ARMED`, which the chaos judge reads (a countdown that fires before a process's
    first arm is its predecessor's: ``chaos/deadman_checks.py``).

    ``patient`` (start-up's arm, before any order of this process exists): an attempt that
    timed out doubles the next one's bound, up to :data:`MAX_ATTEMPT_S`. A venue that does
    answer, only slower than half a period, was otherwise never heard: every attempt was
    abandoned just before its answer came (DST seed 117631: 28 arms answered after 0.67 to
    1.39 s, each abandoned at 0.5 s, and start-up ran past its 30 s deadline). A restarted
    heartbeat (orders live, the countdown running) keeps the fixed bound, so a hung
    connection is still left in time to try a fresh one.
    """
    check_timing(countdown_ms, refresh_ms)
    refresh_s = refresh_ms / 1000.0
    bound = attempt_timeout(refresh_s)
    while True:
        wait = retry_delay(refresh_s)
        started = trio.current_time()
        with trio.move_on_after(bound) as attempt:
            try:
                with protecting():  # its requests in the budget's protective tier
                    await gateway.arm_deadman(symbol, countdown_ms)
            except RateLimited as exc:
                wait = max(exc.retry_after_s or 1.0, MIN_BACK_OFF_WAIT_S)
                problem = f"the venue rate-limited us ({exc.msg})"
            except (OutcomeUnknownError, ConnectionFailed) as exc:
                problem = str(exc)
            else:
                logger.info(
                    "{}{}: the venue cancels every order if not refreshed for {} ms "
                    "(refresh every {} ms)",
                    ARMED,
                    symbol,
                    countdown_ms,
                    refresh_ms,
                )
                return started
        if attempt.cancelled_caught:
            # "not confirmed", not "no answer": the attempt's bound also covers waiting for
            # the link and the rate budget, so the request may never have left.
            problem = f"not confirmed within {bound:g} s"
            if patient and bound < MAX_ATTEMPT_S:
                bound = min(MAX_ATTEMPT_S, bound * 2)
                problem += f" (the next attempt waits up to {bound:g} s)"
        logger.warning("dead-man arm for {} waits {:.2g} s: {}", symbol, wait, problem)
        await trio.sleep(wait)


async def deadman_heartbeat(
    gateway: Gateway,
    symbol: str,
    countdown_ms: int,
    refresh_ms: int,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    *,
    disarm_on_exit: bool = True,
    armed_at: float | None = None,
) -> None:
    """Arm the countdown, report started, refresh every ``refresh_ms``; disarm on exit.
    ``armed_at``: the countdown was armed already (:func:`first_arm` at the engine's
    start-up, at that Trio time): the first refresh is due a period after it.

    The first arm must succeed before we report started (we do not claim protection we do
    not have). A 429/418 back-off is waited out as the venue asks (a restart would only meet
    the same back-off, and burn the supervisor's restart budget: chaos seed 11); an unknown
    outcome, a lost connection or an attempt past :func:`attempt_timeout` is tried again
    after :func:`retry_delay` (:func:`first_arm`); any other error propagates and the
    supervisor restarts us. A failed refresh is logged and retried on the next beat; the
    countdown still runs from the last successful one. On cancellation the
    countdown is disarmed (0) in a shielded scope, so a clean stop does not leave a timer
    that would cancel the next run's orders. The engine passes ``disarm_on_exit=False`` and
    disarms in its cleanup instead, once zero open orders are confirmed: a disarm here runs
    before the cancel-all, holds the stop up for as long as the venue does not answer (chaos
    seed 26 over a silent link: 5 s), and leaves the orders unprotected when the cancel-all
    then fails.
    """
    check_timing(countdown_ms, refresh_ms)
    if armed_at is None:
        armed_at = await first_arm(gateway, symbol, countdown_ms, refresh_ms)
    try:
        task_status.started()
        while True:
            await trio.sleep_until(armed_at + refresh_ms / 1000.0)
            armed_at = await _refresh(gateway, symbol, countdown_ms, refresh_ms, armed_at)
    except trio.Cancelled:
        # A clean stop. On any other exit (a crash) the countdown stays armed on purpose:
        # it is the protection for exactly that case.
        if not disarm_on_exit:
            raise
        with trio.move_on_after(DISARM_TIMEOUT_S, shield=True):
            try:
                await gateway.arm_deadman(symbol, 0)
            except MmtrioError as exc:
                logger.error(
                    "dead-man disarm for {} failed (countdown still armed): {}", symbol, exc
                )
        raise


async def _refresh(
    gateway: Gateway, symbol: str, countdown_ms: int, refresh_ms: int, armed_at: float
) -> float:
    """Refresh until one attempt succeeds; returns when that attempt started (the venue's
    countdown restarted no earlier). Failures are retried fast, with a warning that says how
    long the countdown has left; once it has run out the venue has cancelled our orders, and
    the error says so (the trading loop learns of the cancels from the venue)."""
    refresh_s = refresh_ms / 1000.0
    failures = 0
    while True:
        started = trio.current_time()
        wait = retry_delay(refresh_s)
        with trio.move_on_after(attempt_timeout(refresh_s)) as attempt:
            try:
                with protecting():  # its requests in the budget's protective tier
                    await gateway.arm_deadman(symbol, countdown_ms)
                if failures:
                    logger.info("dead-man refresh for {} succeeded after {} failure(s)",
                                symbol, failures)  # fmt: skip
                return started
            except RateLimited as exc:
                wait = max(exc.retry_after_s or 1.0, MIN_BACK_OFF_WAIT_S)
                problem = f"rate-limited ({exc.msg})"
            except MmtrioError as exc:
                problem = str(exc)
        if attempt.cancelled_caught:
            problem = f"not confirmed within {attempt_timeout(refresh_s):g} s"
        failures += 1
        left = armed_at + countdown_ms / 1000.0 - trio.current_time()
        if left > 0:
            logger.warning(
                "dead-man refresh for {} failed: {}; trying again in {:.2g} s "
                "({:.1f} s left on the venue's countdown)",
                symbol, problem, wait, left,
            )  # fmt: skip
        else:
            logger.error(
                "dead-man refresh for {} failed: {}; the venue's countdown has run out, so it "
                "has cancelled our orders; trying again in {:.2g} s",
                symbol, problem, wait,
            )  # fmt: skip
        await trio.sleep(wait)
