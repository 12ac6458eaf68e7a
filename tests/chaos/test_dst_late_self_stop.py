"""A journal_full stop that ends in the run's last poll is judged (the DST's final stop).

The simulation judged a bot that stopped by itself (its journal refused a write) at its next
poll. One that ended after the last poll was never judged: the final stop found no bot to
stop and the run ended with neither a stop check nor a self-stop check, so orders such a stop
left behind could pass. The process harness looks for a bot that ended by itself before its
final stop (``_ended_by_itself``); the simulation now does the same. Here the fault comes at
several times in the run's last 1.2 s: every journal_full stop is judged, and at least one of
them ended after the last poll, the case that was missed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mmtrio.chaos import invariants
from mmtrio.chaos.dst import EPOCH_MS, POLL_S, run_schedule
from mmtrio.chaos.evidence import StopCheck, Violation
from mmtrio.chaos.schedule import FaultAction, Schedule

DURATION_MS = 14_000


def test_every_self_stop_is_judged_up_to_the_end_of_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    check_stop = invariants.check_stop

    def spy(stop: StopCheck | None, *args: object, **kwargs: object) -> list[Violation]:
        if stop is not None:
            seen.append(stop.kind)
        return check_stop(stop, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(invariants, "check_stop", spy)
    late = 0
    for at_ms in range(12_800, 14_000, 150):
        seen.clear()
        fault = FaultAction(at_ms, "journal_full", "fsize", {"restart_after_ms": 60_000})
        run = run_schedule(Schedule(7, DURATION_MS, (fault,), "sigterm"), tmp_path / str(at_ms))
        assert run.result.violations == [], (at_ms, run.result.violations)
        (end,) = [e for e in run.trace if e[0] == "end"]
        if end[4] != "FSIZE":
            assert seen == ["sigterm"]  # the fault came too late: the final stop's SIGTERM
            continue
        assert seen == ["journal_full"], (at_ms, seen)
        late += end[2] - EPOCH_MS > DURATION_MS - POLL_S * 1000
    assert late >= 1  # some stop ended in the last poll, after the loop's last look
