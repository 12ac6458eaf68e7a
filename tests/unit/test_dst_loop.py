"""The deterministic simulation's cheaper run loop (mmtrio.chaos.dst_loop): it skips the I/O
polls that cannot find anything, and still sees every wakeup Python code sends it (a
``run_sync_soon``, a thread's result); its clock reads the same times as Trio's MockClock.

Virtual time (MockClock, autojump) as the simulation runs; a wakeup the loop missed shows as
a wait that runs into its virtual deadline instead of ending at once.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import trio
import trio.testing

from mmtrio.chaos import dst_loop
from mmtrio.chaos.dst_sched import quiet_signals


def _run(fn: Any, clock: trio.testing.MockClock | None = None) -> Any:
    with dst_loop.cheap_loop():
        return trio.run(fn, clock=clock or trio.testing.MockClock(autojump_threshold=0))


async def _handed_back() -> tuple[bool, float]:
    """Work handed back through Trio's entry queue (what a thread's result does): whether
    it ran, and the virtual time it took."""
    quiet_signals()
    await trio.sleep(0.05)  # past arm()'s one real poll: from here polls are skipped
    done = trio.Event()
    start = trio.current_time()
    trio.lowlevel.current_trio_token().run_sync_soon(done.set)
    with trio.move_on_after(10):
        await done.wait()
    return done.is_set(), trio.current_time() - start


def test_a_run_of_tasks_waiting_on_each_other_skips_its_polls() -> None:
    async def main() -> None:
        quiet_signals()
        for _ in range(100):
            await trio.sleep(0.05)

    before = dst_loop._Loop.skipped
    _run(main)
    assert dst_loop._Loop.skipped - before >= 100


def test_no_poll_is_skipped_before_the_signal_socket_is_detached() -> None:
    async def main() -> None:  # no quiet_signals(): a signal could write to the socket
        for _ in range(100):
            await trio.sleep(0.05)

    before = dst_loop._Loop.skipped
    _run(main)
    assert dst_loop._Loop.skipped == before


def test_work_handed_back_through_the_entry_queue_runs_at_once() -> None:
    ran, took = _run(_handed_back)
    assert ran
    assert took == 0  # no virtual time passed: the loop saw the wakeup at its next poll


def test_without_the_ring_the_handed_back_work_is_missed() -> None:
    """The test above can fail: a wakeup that does not mark the loop rung is never polled
    for (put back before the run ends: Trio's own shutdown waits on such a wakeup)."""
    pair = trio._core._wakeup_socketpair.WakeupSocketpair

    async def main() -> tuple[bool, float]:
        # the method swapped on purpose: Trio's own wakeup, then the patched one back
        pair.wakeup_thread_and_signal_safe = dst_loop._real_wakeup  # type: ignore[method-assign]
        try:
            return await _handed_back()
        finally:
            pair.wakeup_thread_and_signal_safe = dst_loop._wakeup  # type: ignore[method-assign]
            dst_loop._Loop.rung = True  # the byte written meanwhile is found now

    ran, took = _run(main)
    assert not ran
    assert took == 10


def test_a_threads_result_reaches_the_run() -> None:
    async def main() -> float:
        quiet_signals()

        def work() -> float:
            time.sleep(0.01)
            return 42.0

        return await trio.to_thread.run_sync(work)

    assert _run(main) == 42.0


def test_the_clock_reads_the_times_trio_s_mock_clock_reads() -> None:
    async def main() -> list[float]:
        seen = []
        for delay in (0.05, 0.3, 1e-9, 0.0, 7.25, 0.001):
            await trio.sleep(delay)
            seen.append(trio.current_time())
        trio.lowlevel.current_clock().jump(0.002)  # type: ignore[attr-defined]
        seen.append(trio.current_time())
        return seen

    with_patch = _run(main)
    without = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert with_patch == without
    assert with_patch[-1] == pytest.approx(7.603000001)


def test_a_clock_with_a_rate_still_runs_on_real_time() -> None:
    async def main() -> float:
        start = trio.current_time()
        await trio.sleep(0.5)
        return trio.current_time() - start

    took = _run(main, clock=trio.testing.MockClock(rate=1000.0))
    assert took >= 0.5


def test_the_patches_are_taken_off_after_the_block() -> None:
    real_poll = trio._core._io_epoll.EpollIOManager.get_events
    real_now = trio.testing.MockClock.current_time
    with dst_loop.cheap_loop():
        assert trio._core._io_epoll.EpollIOManager.get_events is not real_poll
    assert trio._core._io_epoll.EpollIOManager.get_events is real_poll
    assert trio.testing.MockClock.current_time is real_now
