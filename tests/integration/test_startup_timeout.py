"""A venue too slow to finish start-up: a plain error naming the cause, no crash traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from mmtrio.runtime import engine_startup
from mmtrio.runtime.shutdown import EXIT_FAILED
from tests.integration.sim_helpers import KEY, SECRET, running_sim
from tests.integration.test_account_awareness import captured, engine_for

pytestmark = pytest.mark.integration


async def test_a_start_up_the_venue_stalls_past_its_deadline_stops_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMTRIO_API_KEY", KEY)
    monkeypatch.setenv("MMTRIO_API_SECRET", SECRET)
    monkeypatch.setattr(engine_startup, "SESSION_START_TIMEOUT_S", 1.5)
    with captured() as lines:
        async with running_sim() as (venue, urls):
            venue.inject("delay", {"count": 100, "ms": 2500})  # every REST answer late
            engine = engine_for(tmp_path, urls.rest, urls.ws)
            with trio.fail_after(60):
                code = await engine.run()
    text = "".join(lines)
    assert code == EXIT_FAILED, text[-3000:]
    said = next(line for line in lines if "made no progress for 1.5 s" in line)
    assert "the venue answers too slowly or not at all" in said and "stopping" in said
    assert "Traceback" not in text and "crashed" not in text, text[-3000:]
