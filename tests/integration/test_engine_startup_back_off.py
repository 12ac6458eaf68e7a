"""Start-up meets a 429 (chaos seed 7015) or a 500 (seed 50): the bot waits out Retry-After
(or tries the read again) and starts, instead of crashing into a restart loop against the same
back-off; a stop during that wait is honoured at once. `run_bot` runs in-process against the
real simulated venue on loopback, whose first REST answers are injected faults.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import trio
from loguru import logger

from mmtrio.runtime.rate_usage import FILE_NAME as USAGE_FILE
from mmtrio.runtime.venue_block import FILE_NAME
from mmtrio.venues.binance.rest import wall_clock_ms as wall_ms
from mmtrio.venues.hyperliquid.costs import WEIGHT, info_weight
from tests.integration.paper import PaperEngine, paper_engine
from tests.integration.test_run_engine import (
    quotes_resting,
    run_engine,
    venue_open,
    wait_for,
    write_config,
)


def _fault(engine: PaperEngine, count: int, retry_after: float, kind: str = "http_429") -> None:
    """The paper venue's first REST answers are injected faults."""
    venue: Any = engine.sim_venue
    if kind == "http_429":
        venue.inject("http_429", {"count": count, "retry_after": retry_after})
    else:
        venue.inject(kind, {"count": count, "code": -1000, "msg": "injected", "status": 500})


async def test_start_up_waits_out_a_429_and_then_quotes(tmp_path: Path) -> None:
    cfg_path = write_config(tmp_path)
    engine = paper_engine(cfg_path)
    _fault(engine, count=2, retry_after=1)
    codes: list[int] = []

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, engine, codes)
        await quotes_resting(engine, 60, "two quotes resting after the start-up back-off")
        engine.request_stop("test stop")
    assert codes == [0]
    assert venue_open(engine) == []
    limiter = engine.sim_venue.limiter
    assert limiter.count_429 == 2  # both injected answers were met ...
    assert limiter.count_418 == 0  # ... and nothing was sent into the back-off


def _recorded_back_off(tmp_path: Path) -> bool:
    """The bot has recorded a venue back-off (in ``<state_dir>/venue_block.json``)."""
    path = tmp_path / "state" / FILE_NAME
    return path.exists() and int(json.loads(path.read_text())["until_ms"]) > 0


async def test_a_stop_during_the_start_up_back_off_is_honoured_at_once(tmp_path: Path) -> None:
    quick_stop = {
        "shutdown_deadline_s = 15.0": "shutdown_deadline_s = 3.0",
        "request_timeout_ms = 5000": "request_timeout_ms = 1000",
    }
    cfg_path = write_config(tmp_path, overrides=quick_stop)
    engine = paper_engine(cfg_path)
    _fault(engine, count=1, retry_after=600)
    codes: list[int] = []

    # Generous bound: without the stop, start-up would wait 600 s for the back-off.
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_engine, engine, codes)
            # Once the bot has recorded the back-off, not merely once the venue has sent the
            # 429: a request the bot sent before the answer arrived is in flight (a fresh
            # clone's CI run, under load, once stopped in that gap and counted the shutdown
            # cancel-all it sent meanwhile).
            await wait_for(lambda: _recorded_back_off(tmp_path), 30, "the start-up 429 recorded")
            requests = engine.sim_venue.limiter.requests
            engine.request_stop("test stop")
    # Nothing more was sent. The 429 met the very first read (the clock sync), so this process
    # never reached order entry, and the journal is new (no earlier session left orders): a
    # clean stop. (After an unclean earlier session the same stop exits 1:
    # tests/unit/test_shutdown.py.)
    assert codes == [0]
    assert venue_open(engine) == []
    assert engine.sim_venue.limiter.count_418 == 0
    assert engine.sim_venue.limiter.requests == requests


async def test_start_up_tries_a_failed_read_again(tmp_path: Path) -> None:
    # Chaos seed 50: a restarted bot's start-up met one HTTP 500 on a read and crashed.
    cfg_path = write_config(tmp_path)
    engine = paper_engine(cfg_path)
    _fault(engine, count=2, retry_after=0, kind="error_code")
    codes: list[int] = []

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, engine, codes)
        await quotes_resting(engine, 60, "two quotes resting after two failed start-up reads")
        assert engine.sim_venue.faults.error_count == 0  # both 500s were met
        engine.request_stop("test stop")
    assert codes == [0]
    assert venue_open(engine) == []


async def test_a_stop_while_waiting_out_an_earlier_processs_back_off_is_honoured_at_once(
    tmp_path: Path,
) -> None:
    # Chaos seed 26: a bot restarted into a recorded ban (venue_block.json) slept it out
    # before its start-up began, and a SIGTERM meanwhile was noted but not acted on: it ran
    # past the stop budget until the harness killed it.
    cfg_path = write_config(tmp_path)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / FILE_NAME).write_text(json.dumps({"until_ms": wall_ms() + 600_000}))
    engine = paper_engine(cfg_path)
    waiting: list[str] = []
    sink = logger.add(
        lambda m: waiting.append(str(m)) if "before the first request" in str(m) else None,
        level="WARNING",
    )
    codes: list[int] = []
    try:
        # Generous bound: without the stop honoured, the bot would sleep 600 s.
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(run_engine, engine, codes)
                await wait_for(lambda: bool(waiting), 30, "the wait for the recorded back-off")
                engine.request_stop("test stop")
    finally:
        logger.remove(sink)
    # A fresh journal (no earlier session of this bot left orders) and nothing sent: clean.
    assert codes == [0]
    assert engine.sim_venue.limiter.requests == 0  # not one request into the back-off


def _saved_weight(tmp_path: Path) -> int:
    """The Hyperliquid weight ``<state_dir>/rate_usage.json`` holds (0 when absent)."""
    path = tmp_path / "state" / USAGE_FILE
    if not path.exists():
        return 0
    windows = json.loads(path.read_text().rstrip("\0 \n"))["windows"]
    return sum(n for _t, n in windows.get(WEIGHT, []))


async def test_a_start_up_read_is_recorded_before_start_up_ends(tmp_path: Path) -> None:
    # Hyperliquid chaos seed 2041: processes killed during start-up left no trace of their
    # reads (the rate budget was saved only once start-up had finished), and the next one's
    # restored budget undercounted what the venue had seen. Here start-up's first read draws
    # a 429 with a 600 s back-off: start-up never ends, yet its read is on disk.
    cfg_path = write_config(
        tmp_path,
        overrides={'name = "binance"': 'name = "hyperliquid"', "shutdown_deadline_s = 15.0": (
            "shutdown_deadline_s = 3.0"
        ), "request_timeout_ms = 5000": "request_timeout_ms = 1000"},
    )  # fmt: skip
    engine = paper_engine(cfg_path)
    _fault(engine, count=1, retry_after=600)
    codes: list[int] = []
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_engine, engine, codes)
            await wait_for(lambda: _recorded_back_off(tmp_path), 30, "the start-up 429 recorded")
            assert engine.running is None  # still in start-up
            assert _saved_weight(tmp_path) == info_weight("clearinghouseState")
            engine.request_stop("test stop")
    assert codes == [0]
    assert _saved_weight(tmp_path) == info_weight("clearinghouseState")  # kept at the stop
