"""Chaos schedules: seeded, reproducible, well-formed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmtrio.chaos.schedule import CHAOS_KINDS, make_schedule, run_seed
from mmtrio.errors import ParameterError
from mmtrio.sim.faults import FAULT_KINDS


def test_same_seed_same_schedule() -> None:
    assert make_schedule(42, 60_000) == make_schedule(42, 60_000)


def test_different_seeds_differ() -> None:
    schedules = {repr(make_schedule(seed, 60_000).actions) for seed in range(20)}
    assert len(schedules) == 20


@given(seed=st.integers(min_value=0, max_value=2**32 - 1), duration=st.integers(12_000, 300_000))
def test_schedule_is_well_formed(seed: int, duration: int) -> None:
    sch = make_schedule(seed, duration)
    times = [a.at_ms for a in sch.actions]
    assert times == sorted(times)
    # run-level layers (issue #20) act from the start; every other fault within the window
    windowed = [a.at_ms for a in sch.actions if a.kind not in ("early_kill", "cpu_starved_run")]
    assert all(4_000 <= t <= duration - 6_000 + 50 for t in windowed)
    for act in sch.actions:
        assert act.kind in CHAOS_KINDS
        if act.executor == "admin":
            assert act.params["kind"] in FAULT_KINDS
        elif act.executor == "signal":
            assert act.params["signal"] in ("KILL", "HUP")
    assert sch.end in ("sigterm", "sigkill")
    assert sum(sch.counts().values()) == sum(1 for a in sch.actions if a.counted)


def test_helper_actions_restore_state() -> None:
    """Every clock skew is undone and every bad config is followed by a valid one."""
    for seed in range(200):
        sch = make_schedule(seed, 60_000)
        skews = [a.params["ms"] for a in sch.actions if a.params.get("kind") == "clock_skew"]
        if skews:
            assert skews[-1] == 0
        hups = [a.params["config"] for a in sch.actions if a.params.get("signal") == "HUP"]
        if hups:
            assert hups[-1] == "valid"


def test_a_campaign_covers_every_kind() -> None:
    seen: set[str] = set()
    ends: set[str] = set()
    for i in range(60):
        sch = make_schedule(run_seed(5, i), 60_000)
        seen.update(sch.counts())
        ends.add(sch.end)
    assert seen == set(CHAOS_KINDS) - {"quiet_tail"}  # a helper of every run, never counted
    assert ends == {"sigterm", "sigkill"}


def test_run_seeds_are_distinct() -> None:
    assert len({run_seed(3, i) for i in range(1_000)}) == 1_000


def test_too_short_a_run_is_refused() -> None:
    with pytest.raises(ParameterError, match="no fault window"):
        make_schedule(1, 9_000)


def test_child_crash_targets_a_supervised_task_through_the_control_socket() -> None:
    from mmtrio.chaos.schedule import SUPERVISED_CHILDREN

    crashes = [
        act
        for seed in range(40)
        for act in make_schedule(seed, 30_000).actions
        if act.kind == "child_crash"
    ]
    assert crashes
    for act in crashes:
        assert act.executor == "control"
        assert act.params["cmd"] == "crash" and act.params["child"] in SUPERVISED_CHILDREN


def test_journal_full_is_a_layer_that_leaves_each_seeds_base_schedule_alone() -> None:
    fulls = []
    for seed in range(100):
        sch = make_schedule(seed, 25_000)
        acts = [a for a in sch.actions if a.kind == "journal_full"]
        assert len(acts) <= 1
        if acts:
            (act,) = acts
            assert act.executor == "fsize" and 300 <= act.params["restart_after_ms"] <= 2_000
            assert 4_000 <= act.at_ms <= 25_000 - 6_000 - 3_000  # room to restart and settle
            fulls.append(seed)
            # the other faults are exactly those of a schedule drawn without the layer
            others = tuple(a for a in sch.actions if a.kind != "journal_full")
            assert others == tuple(
                a for a in make_schedule(seed, 25_000).actions if a.kind != "journal_full"
            )
    assert 10 <= len(fulls) <= 35  # about one run in five
    assert 26 in fulls  # a smoke seed: the CI run covers this kind
