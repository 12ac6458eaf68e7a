"""A chaos harness's CPU starvation ends when the venue was told it would (``client_slow``),
not at the harness's next tick: in the deterministic simulation no virtual time is charged
past it, and the process harness's busy processes stop by themselves at its deadline."""

from __future__ import annotations

import os
import time

import pytest
import trio
import trio.testing

from mmtrio import determinism
from mmtrio.chaos.dst_faults import STEP_CHARGE_S, _Starvation, _Starver
from mmtrio.chaos.links import CpuStarver

BUSY = 2  # each bot step costs 4 ms while starved


def _run_steps(until: float | None, steps: int) -> float:
    """Trio time after a bot task takes ``steps`` steps under a starvation from 0 to ``until``."""
    starver = _Starver()
    starver.active = _Starvation(BUSY, until)

    async def bot() -> None:
        determinism.CURRENT.set(determinism.Determinism(seed=1, epoch_ms=0))
        for _ in range(steps):
            await trio.lowlevel.checkpoint()

    async def main() -> float:
        trio.lowlevel.add_instrument(starver)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(bot)
        return trio.current_time()

    return trio.run(main, clock=trio.testing.MockClock())


def test_a_starvation_charges_nothing_past_its_end() -> None:
    # DST seed 131413: starved for 5.8 s to 13.900 s, the bot was charged until the tick at
    # 14.215 s; a 429 the venue sent at 13.907 s (no longer "slow" to it) was read at 14.087 s
    # and a place the bot had sent meanwhile was banned.
    end = 5 * STEP_CHARGE_S * BUSY
    assert _run_steps(end, 50) == pytest.approx(end)


def test_a_starvation_charges_every_step_until_its_end() -> None:
    assert _run_steps(1.0, 10) == pytest.approx(10 * STEP_CHARGE_S * BUSY)
    assert _run_steps(None, 10) == pytest.approx(10 * STEP_CHARGE_S * BUSY)


@pytest.mark.integration
@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux CPU affinity")
def test_the_busy_processes_stop_at_the_deadline_without_the_harness() -> None:
    starver = CpuStarver(cpu=0)
    starver.start(1, 0.2, None)
    try:
        (busy,) = starver.busy
        busy.wait(timeout=30)  # its Python start-up may take seconds on a loaded box
        assert busy.returncode == 0
        assert time.monotonic() >= (starver.until or 0)
    finally:
        starver.stop(None)
