"""The dead-man heartbeat: keep the venue-side countdown cancel-all armed while we live.

If the process dies outright (kill -9, power loss, a hung loop), no cleanup code runs; the
venue's countdown (``POST /fapi/v1/countdownCancelAll``) then cancels every open order when
it is not refreshed in time. ``refresh_ms`` must be well under ``countdown_ms`` so a slow
or failed refresh or two does not let it fire while we are healthy.
"""

from __future__ import annotations

import trio
from loguru import logger

from mmtrio.errors import ConfigError, MmtrioError, RateLimited
from mmtrio.venues.protocol import Gateway

DISARM_TIMEOUT_S = 5.0
MIN_BACK_OFF_WAIT_S = 0.05  # a back-off reported as (almost) over is still waited a moment


async def _first_arm(gateway: Gateway, symbol: str, countdown_ms: int) -> None:
    while True:
        try:
            await gateway.arm_deadman(symbol, countdown_ms)
            return
        except RateLimited as exc:
            wait = max(exc.retry_after_s or 1.0, MIN_BACK_OFF_WAIT_S)
            logger.warning(
                "dead-man arm for {} waits {:.1f} s: the venue rate-limited us ({})",
                symbol,
                wait,
                exc.msg,
            )
            await trio.sleep(wait)


async def deadman_heartbeat(
    gateway: Gateway,
    symbol: str,
    countdown_ms: int,
    refresh_ms: int,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Arm the countdown, report started, refresh every ``refresh_ms``; disarm on exit.

    The first arm must succeed before we report started (we do not claim protection we do
    not have). A 429/418 back-off is waited out as the venue asks (a restart would only meet
    the same back-off, and burn the supervisor's restart budget: chaos seed 11); any other
    error propagates and the supervisor restarts us. A failed refresh is logged and retried on the
    next beat; the countdown still runs from the last successful one. On cancellation the
    countdown is disarmed (0) in a shielded scope, so a clean stop does not leave a timer
    that would cancel the next run's orders.
    """
    if countdown_ms <= 0:
        raise ConfigError(f"dead-man countdown must be > 0 ms, got {countdown_ms}")
    if not 0 < refresh_ms < countdown_ms:
        raise ConfigError(
            f"dead-man refresh ({refresh_ms} ms) must be positive and shorter than the "
            f"countdown ({countdown_ms} ms), or the venue cancels everything while we are alive"
        )
    await _first_arm(gateway, symbol, countdown_ms)
    try:
        task_status.started()
        while True:
            await trio.sleep(refresh_ms / 1000.0)
            try:
                await gateway.arm_deadman(symbol, countdown_ms)
            except MmtrioError as exc:
                logger.warning("dead-man refresh for {} failed: {}", symbol, exc)
    except trio.Cancelled:
        # A clean stop. On any other exit (a crash) the countdown stays armed on purpose:
        # it is the protection for exactly that case.
        with trio.move_on_after(DISARM_TIMEOUT_S, shield=True):
            try:
                await gateway.arm_deadman(symbol, 0)
            except MmtrioError as exc:
                logger.error(
                    "dead-man disarm for {} failed (countdown still armed): {}", symbol, exc
                )
        raise
