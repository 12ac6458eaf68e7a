"""A stop that came while start-up waited for the rate budget, before the instrument was read
(Hyperliquid DST seed 4): the stop reads it, in the stop's tier of the budget, cancels what an
unclean previous session left and confirms none is open (exit 0), or says it could not
(exit 1)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from mmtrio.errors import ConnectionFailed
from mmtrio.runtime.pace_tier import STOP_PRIORITY
from mmtrio.runtime.shutdown import EXIT_FAILED, EXIT_OK, HowItEnded, cleanup
from tests.unit.test_shutdown import LeftBehind, parts

STOP = HowItEnded(stop_reason="SIGTERM received")


async def test_a_stop_during_a_start_up_budget_wait_reads_the_instrument_then_confirms() -> None:
    p, rec, surface = parts(previous_clean=False)
    venue = LeftBehind(["left-1"])
    tiers: list[bool] = []

    async def open_gateway() -> LeftBehind:
        tiers.append(STOP_PRIORITY.get())  # its reads are paced in the stop's tier
        return venue

    p.open_gateway = open_gateway  # type: ignore[assignment]
    assert await cleanup(p, STOP, 5.0) == EXIT_OK
    assert tiers == [True]
    assert venue.calls == ["cancel_all BTCUSDT", "open_orders BTCUSDT"]
    assert rec.notes[-1] == (
        "stop",
        {"reason": "SIGTERM received", "exit_code": EXIT_OK, "open_orders": 0},
    )
    assert "stopped 0" in surface.calls
    assert not STOP_PRIORITY.get()  # only the stop ran in it


@pytest.mark.parametrize("how", ["refused", "silent"])
async def test_an_instrument_read_that_fails_at_the_stop_is_exit_1(
    how: str, autojump_clock: trio.testing.MockClock
) -> None:
    p, rec, _ = parts(previous_clean=False)

    async def open_gateway() -> LeftBehind:
        if how == "refused":
            raise ConnectionFailed("the venue did not answer")
        await trio.sleep_forever()
        raise AssertionError  # pragma: no cover

    p.open_gateway = open_gateway  # type: ignore[assignment]
    started = trio.current_time()
    assert await cleanup(p, STOP, 5.0) == EXIT_FAILED
    assert trio.current_time() - started <= 5.0  # within the stop's deadline
    assert rec.notes[-1][1]["open_orders"] == -1


async def test_a_clean_previous_session_reads_nothing() -> None:
    p, _, _ = parts(previous_clean=True)
    opened: list[int] = []

    async def open_gateway() -> LeftBehind:
        opened.append(1)
        return LeftBehind([])

    p.open_gateway = open_gateway  # type: ignore[assignment]
    assert await cleanup(p, STOP, 5.0) == EXIT_OK
    assert opened == []
