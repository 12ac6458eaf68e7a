"""The runtime supervisor: restart with backoff, escalation, cancellation, observability."""

from __future__ import annotations

import itertools
import random
from collections.abc import Awaitable, Callable

import pytest
import trio

from mmtrio.errors import MmtrioError, ParameterError
from mmtrio.runtime.supervisor import (
    ChildState,
    RestartPolicy,
    Supervisor,
    SupervisorEscalation,
)


class FixedRng:
    """Always draws the same value, so full jitter becomes a known fraction of the ceiling."""

    def __init__(self, value: float = 1.0) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


class Boom(RuntimeError):
    pass


class Fatal(BaseException):
    """A non-Exception BaseException (like KeyboardInterrupt): never absorbed as a failure."""


def crasher(
    starts: list[float], *, fail_times: int | None = None, run_for: float = 0.0
) -> Callable[[], Awaitable[None]]:
    """A child that records its start, runs ``run_for`` s, then raises (``fail_times`` times)."""

    async def child() -> None:
        starts.append(trio.current_time())
        await trio.sleep(run_for)
        if fail_times is None or len(starts) <= fail_times:
            raise Boom(f"crash #{len(starts)}")

    return child


async def test_crash_once_is_restarted_after_the_base_delay(autojump_clock: trio.abc.Clock) -> None:
    starts: list[float] = []
    sup = Supervisor(rng=FixedRng(1.0))
    sup.add("feed", crasher(starts, fail_times=1), RestartPolicy(base_delay_s=2.0, cap_s=30.0))
    t0 = trio.current_time()
    await sup.run()  # second run returns normally: on-failure → done, run() returns
    assert [s - t0 for s in starts] == [0.0, 2.0]
    (status,) = sup.snapshot()
    assert status.state is ChildState.STOPPED
    assert status.restarts == 1
    assert status.last_error == "Boom: crash #1"


async def test_jitter_scales_the_delay_by_the_injected_rng(autojump_clock: trio.abc.Clock) -> None:
    starts: list[float] = []
    sup = Supervisor(rng=FixedRng(0.25))
    sup.add("feed", crasher(starts, fail_times=1), RestartPolicy(base_delay_s=2.0, cap_s=30.0))
    t0 = trio.current_time()
    await sup.run()
    assert [s - t0 for s in starts] == [0.0, 0.5]


async def test_repeated_crashes_escalate_after_max_restarts_in_window(
    autojump_clock: trio.abc.Clock,
) -> None:
    starts: list[float] = []
    sup = Supervisor(rng=FixedRng(1.0))
    policy = RestartPolicy(base_delay_s=0.1, cap_s=1.0, max_restarts=3, window_s=60.0)
    sup.add("feed", crasher(starts), policy)
    with pytest.raises(SupervisorEscalation) as info:
        await sup.run()
    assert len(starts) == 4  # 1 start + 3 restarts; the 4th failure escalates
    assert info.value.child == "feed"
    assert isinstance(info.value.last_error, Boom)
    assert str(info.value.last_error) == "crash #4"
    assert info.value.__cause__ is info.value.last_error
    assert "'feed'" in str(info.value) and "3 times" in str(info.value)
    (status,) = sup.snapshot()
    assert status.state is ChildState.FAILED
    assert status.restarts == 3


async def test_escalation_cancels_the_other_children(autojump_clock: trio.abc.Clock) -> None:
    cancelled = trio.Event()

    async def steady() -> None:
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            cancelled.set()
            raise

    sup = Supervisor(rng=FixedRng(1.0))
    sup.add("steady", steady)
    sup.add("bad", crasher([]), RestartPolicy(base_delay_s=1.0, max_restarts=1, window_s=60.0))
    with pytest.raises(SupervisorEscalation):
        await sup.run()
    assert cancelled.is_set()
    states = {s.name: s.state for s in sup.snapshot()}
    assert states == {"steady": ChildState.STOPPED, "bad": ChildState.FAILED}


async def test_backoff_is_exponential_and_capped(autojump_clock: trio.abc.Clock) -> None:
    starts: list[float] = []
    sup = Supervisor(rng=FixedRng(1.0))
    policy = RestartPolicy(base_delay_s=1.0, cap_s=4.0, max_restarts=10, window_s=1000.0)
    sup.add("feed", crasher(starts, fail_times=6), policy)
    await sup.run()
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]


async def test_failures_older_than_the_window_do_not_count(autojump_clock: trio.abc.Clock) -> None:
    # Each run lasts 20 s, longer than the 10 s window: no two failures share a window, so 8
    # failures never escalate although max_restarts is 2, and backoff stays at the base.
    starts: list[float] = []
    sup = Supervisor(rng=FixedRng(1.0))
    policy = RestartPolicy(base_delay_s=1.0, cap_s=30.0, max_restarts=2, window_s=10.0)
    sup.add("feed", crasher(starts, fail_times=8, run_for=20.0), policy)
    await sup.run()
    assert len(starts) == 9
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == [21.0] * 8


async def test_same_failures_inside_the_window_do_escalate(autojump_clock: trio.abc.Clock) -> None:
    # Control for the test above: runs of 2 s keep three failures inside the 10 s window.
    starts: list[float] = []
    sup = Supervisor(rng=FixedRng(1.0))
    policy = RestartPolicy(base_delay_s=1.0, cap_s=30.0, max_restarts=2, window_s=10.0)
    sup.add("feed", crasher(starts, fail_times=8, run_for=2.0), policy)
    with pytest.raises(SupervisorEscalation):
        await sup.run()
    assert len(starts) == 3


async def test_cancellation_stops_all_children_without_escalation(
    autojump_clock: trio.abc.Clock,
) -> None:
    async def forever() -> None:
        await trio.sleep_forever()

    async def with_inner_nursery() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.sleep_forever)
            nursery.start_soon(trio.sleep_forever)

    starts: list[float] = []
    sup = Supervisor(rng=FixedRng(1.0))
    sup.add("a", forever)
    sup.add("b", with_inner_nursery)
    # "c" will be backing off (delay 100 s) when the cancel arrives at t=5.
    sup.add("c", crasher(starts), RestartPolicy(base_delay_s=100.0, cap_s=100.0))
    with trio.move_on_after(5) as scope:
        await sup.run()
    assert scope.cancelled_caught
    assert len(starts) == 1
    for status in sup.snapshot():
        assert status.state is ChildState.STOPPED, status
        assert status.next_start_s is None
    statuses = {s.name: s for s in sup.snapshot()}
    assert statuses["a"].recent_failures == 0 and statuses["b"].recent_failures == 0


async def test_errors_during_cancellation_are_not_counted(autojump_clock: trio.abc.Clock) -> None:
    async def noisy_teardown() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.sleep_forever)
            try:
                await trio.sleep_forever()
            finally:
                raise Boom("teardown")

    sup = Supervisor(rng=FixedRng(1.0))
    sup.add("noisy", noisy_teardown, RestartPolicy(max_restarts=0))
    with trio.move_on_after(1) as scope:
        await sup.run()
    assert scope.cancelled_caught
    (status,) = sup.snapshot()
    assert status.state is ChildState.STOPPED
    assert status.recent_failures == 0


async def test_exception_group_from_a_child_nursery_is_a_failure(
    autojump_clock: trio.abc.Clock,
) -> None:
    runs: list[float] = []

    async def grouped() -> None:
        runs.append(trio.current_time())
        if len(runs) == 1:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(trio.sleep_forever)
                raise Boom("inside nursery")

    sup = Supervisor(rng=FixedRng(1.0))
    sup.add("grouped", grouped, RestartPolicy(base_delay_s=0.5))
    await sup.run()
    assert len(runs) == 2
    (status,) = sup.snapshot()
    assert status.restarts == 1
    assert status.last_error is not None and "Boom: inside nursery" in status.last_error


async def test_base_exceptions_propagate_and_are_not_restarted(
    autojump_clock: trio.abc.Clock,
) -> None:
    runs: list[int] = []

    async def fatal() -> None:
        runs.append(1)
        raise Fatal("stop now")

    sup = Supervisor(rng=FixedRng(1.0))
    sup.add("fatal", fatal)
    caught: list[BaseException] = []
    try:
        await sup.run()
    except* Fatal as group:
        caught.extend(group.exceptions)
    assert len(caught) == 1 and runs == [1]
    assert sup.snapshot()[0].state is ChildState.STOPPED


async def test_always_policy_restarts_normal_returns_and_counts_them(
    autojump_clock: trio.abc.Clock,
) -> None:
    starts: list[float] = []

    async def returns() -> None:
        starts.append(trio.current_time())

    sup = Supervisor(rng=FixedRng(1.0))
    policy = RestartPolicy(base_delay_s=1.0, cap_s=8.0, max_restarts=3, restart="always")
    sup.add("loop", returns, policy)
    with pytest.raises(SupervisorEscalation) as info:
        await sup.run()
    assert len(starts) == 4
    assert info.value.last_error is None
    assert "restart='always'" in str(info.value)


async def test_snapshot_reflects_states(autojump_clock: trio.abc.Clock) -> None:
    ready = trio.Event()
    release = trio.Event()
    attempts: list[int] = []

    async def handshake(task_status: trio.TaskStatus[None]) -> None:
        await ready.wait()
        task_status.started()
        await trio.sleep_forever()

    async def flaky() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise Boom("first")
        await release.wait()

    sup = Supervisor(rng=FixedRng(1.0))
    sup.add("ws", handshake, signals_ready=True)
    sup.add("flaky", flaky, RestartPolicy(base_delay_s=10.0, cap_s=10.0))
    assert [s.state for s in sup.snapshot()] == [ChildState.STARTING, ChildState.STARTING]

    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        await trio.sleep(1)
        ws, fl = sup.snapshot()
        assert ws.state is ChildState.STARTING
        assert fl.state is ChildState.BACKING_OFF
        assert fl.recent_failures == 1 and fl.restarts == 0
        assert fl.last_error == "Boom: first"
        assert fl.last_start_s is not None and fl.next_start_s == fl.last_start_s + 10.0

        ready.set()
        await trio.sleep(10)
        ws, fl = sup.snapshot()
        assert ws.state is ChildState.RUNNING
        assert fl.state is ChildState.RUNNING and fl.restarts == 1
        assert fl.next_start_s is None

        release.set()
        await trio.sleep(1)
        ws, fl = sup.snapshot()
        assert fl.state is ChildState.STOPPED
        assert ws.state is ChildState.RUNNING

        # A child added while running is started at once.
        late: list[int] = []

        async def late_child() -> None:
            late.append(1)
            await trio.sleep_forever()

        sup.add("late", late_child)
        await trio.sleep(0.1)
        assert late == [1]
        assert sup.snapshot()[2].state is ChildState.RUNNING
        nursery.cancel_scope.cancel()
    assert all(s.state is ChildState.STOPPED for s in sup.snapshot())


async def test_failures_leave_the_window_in_the_snapshot(autojump_clock: trio.abc.Clock) -> None:
    sup = Supervisor(rng=FixedRng(1.0))
    sup.add("x", crasher([], fail_times=1), RestartPolicy(base_delay_s=1.0, window_s=5.0))
    await sup.run()
    assert sup.snapshot()[0].recent_failures == 1
    await trio.sleep(10)
    assert sup.snapshot()[0].recent_failures == 0


def test_duplicate_or_empty_child_names_are_refused() -> None:
    sup = Supervisor(rng=random.Random(1))

    async def child() -> None:
        return None

    sup.add("a", child)
    with pytest.raises(ParameterError, match="already exists"):
        sup.add("a", child)
    with pytest.raises(ParameterError, match="non-empty"):
        sup.add("", child)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"base_delay_s": 0.0}, "base_delay_s"),
        ({"cap_s": float("nan")}, "cap_s"),
        ({"window_s": -1.0}, "window_s"),
        ({"base_delay_s": 10.0, "cap_s": 1.0}, "<= cap_s"),
        ({"max_restarts": -1}, "max_restarts"),
        ({"restart": "sometimes"}, "restart"),
    ],
)
def test_restart_policy_validation(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ParameterError, match=needle):
        RestartPolicy(**kwargs)  # type: ignore[arg-type]


def test_full_jitter_stays_within_the_ceiling() -> None:
    policy = RestartPolicy(base_delay_s=0.5, cap_s=8.0)
    rng = random.Random(42)
    draws = [policy.delay(3, rng) for _ in range(200)]
    assert all(0.0 <= d <= 4.0 for d in draws)
    assert max(draws) > 2.0 and min(draws) < 2.0  # really jittered, not a constant
    assert policy.delay_ceiling(100) == 8.0
    with pytest.raises(ParameterError, match="RNG"):
        policy.delay(0, FixedRng(1.5))


async def test_an_injected_crash_counts_as_a_failure_and_restarts(
    autojump_clock: trio.abc.Clock,
) -> None:
    starts: list[float] = []

    async def forever() -> None:
        starts.append(trio.current_time())
        await trio.sleep_forever()

    sup = Supervisor(rng=FixedRng(1.0))
    sup.add("reconciler", forever, RestartPolicy(base_delay_s=2.0, cap_s=30.0))
    async with trio.open_nursery() as n:
        n.start_soon(sup.run)
        await trio.sleep(1)
        with pytest.raises(MmtrioError, match="no running supervised task 'nope'"):
            sup.crash("nope", "test")
        sup.crash("reconciler", "chaos")
        await trio.sleep(0.5)
        (status,) = sup.snapshot()
        assert status.state is ChildState.BACKING_OFF
        assert status.last_error is not None and "injected crash of reconciler" in status.last_error
        await trio.sleep(2)
        assert len(starts) == 2 and sup.snapshot()[0].restarts == 1
        n.cancel_scope.cancel()


async def test_injected_crashes_past_the_policy_escalate(autojump_clock: trio.abc.Clock) -> None:
    async def forever() -> None:
        await trio.sleep_forever()

    sup = Supervisor(rng=FixedRng(1.0))
    sup.add("feed", forever, RestartPolicy(base_delay_s=0.1, cap_s=1.0, max_restarts=2))

    async def crash_repeatedly() -> None:
        while True:
            await trio.sleep(2)
            if sup.snapshot()[0].state is ChildState.RUNNING:
                sup.crash("feed", "chaos")

    escalated: list[SupervisorEscalation] = []
    async with trio.open_nursery() as n:
        n.start_soon(crash_repeatedly)
        try:
            await sup.run()
        except SupervisorEscalation as exc:
            escalated.append(exc)
        n.cancel_scope.cancel()
    assert len(escalated) == 1 and "InjectedCrash" in str(escalated[0])
