"""A bot that never quotes is caught (invariant 12, ``chaos/venue_checks.check_quoted``).

Every other invariant holds for a bot that sends no order: no fill to lose, no position to
disagree about, no order left behind. Here the planner is broken inside this test (it wants
no quote, ever, as a planner bug or a guard stuck on would) and one seed runs both ways: clean
on the real planner with orders at the venue, invariant 12 with the broken one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mmtrio.chaos.dst import run_one
from mmtrio.core.planner import QuotePlanner

DURATION_S = 30.0  # more than the judge's 20 s of bot time
SEED = 3


def test_a_bot_that_never_quotes_violates_invariant_12(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = run_one(SEED, DURATION_S, tmp_path / "real").result
    assert real.ok, [v.to_json() for v in real.violations]
    assert real.fills > 0

    def wants_nothing(self: QuotePlanner, *args: Any) -> dict[Any, Any]:
        return {}

    monkeypatch.setattr(QuotePlanner, "desired", wants_nothing)
    broken = run_one(SEED, DURATION_S, tmp_path / "broken").result
    assert [v.invariant for v in broken.violations] == [12], [
        v.to_json() for v in broken.violations
    ]
    assert "never quoted" in broken.violations[0].message
