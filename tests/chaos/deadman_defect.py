"""Issue #20 finding 2, put back for the deterministic simulation's tests only: the dead-man
refresher as it was before commit 2880011. It slept a full refresh period *after* each
attempt, and an attempt was bounded only by the request timeout, so one stalled refresh
pushed the next one out by the stall plus a period; a failure waited a whole period too.
The countdown runs from the last refresh the venue received, so a refresh that hung used up
the countdown and the venue cancelled a live bot's quotes.

:func:`put_back` installs it where the engine calls it (``runtime.assembly``) through a
pytest ``monkeypatch``, so it never outlives the test that asked for it.
"""

from __future__ import annotations

import pytest
import trio
from loguru import logger

from mmtrio.errors import MmtrioError
from mmtrio.runtime import assembly, deadman
from mmtrio.venues.protocol import Gateway


async def defective_heartbeat(
    gateway: Gateway,
    symbol: str,
    countdown_ms: int,
    refresh_ms: int,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    *,
    disarm_on_exit: bool = True,
    armed_at: float | None = None,
) -> None:
    """The pre-fix loop (its first arm and its disarm as today: only the pacing is old)."""
    if armed_at is None:  # else armed at start-up (runtime/engine_startup.py)
        await deadman.first_arm(gateway, symbol, countdown_ms, refresh_ms)
    try:
        task_status.started()
        while True:
            await trio.sleep(refresh_ms / 1000.0)  # the defect: a period after the attempt
            try:
                await gateway.arm_deadman(symbol, countdown_ms)  # unbounded but by the client
            except MmtrioError as exc:
                logger.warning("dead-man refresh for {} failed: {}", symbol, exc)
    except trio.Cancelled:
        if not disarm_on_exit:
            raise
        with trio.move_on_after(deadman.DISARM_TIMEOUT_S, shield=True):
            try:
                await gateway.arm_deadman(symbol, 0)
            except MmtrioError as exc:
                logger.error("dead-man disarm for {} failed: {}", symbol, exc)
        raise


def put_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(assembly, "deadman_heartbeat", defective_heartbeat)
