"""`run_bot` against the real simulated venue on loopback, in-process.

Quotes rest at the venue, fills are booked, the kill switch over the control socket halts and
cancels, resume quotes again, a supervised child that crashes once is restarted, one that
keeps crashing stops the bot safely (exit 3) — and every stop leaves zero open orders at the
venue (the sim's own order book is the ground truth).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import trio

from mmtrio.config import load_config
from mmtrio.core.guards import TradingState
from mmtrio.runtime.control import control_request
from tests.integration.paper import PaperEngine, paper_engine, run_paper

DATA = Path(__file__).resolve().parents[2] / "data" / "binance-usdm" / "btcusdt_20240808.gz"


def write_config(
    tmp: Path, *, speed: float = 3.0, overrides: Mapping[str, str] | None = None
) -> Path:
    """A config for a fast paper run in ``tmp`` (state, socket, kill file inside it);
    ``overrides``: config text → its replacement (a mapping, not keywords: its keys are text)."""
    text = (Path(__file__).resolve().parents[2] / "config.toml").read_text()
    text = text.replace(
        'data_files = ["data/binance-usdm/btcusdt_20240808.gz"]', f'data_files = ["{DATA}"]'
    )
    text = text.replace("speed = 1.0 ", f"speed = {speed} ")
    text = text.replace("warmup_ms = 30000", "warmup_ms = 1000")
    text = text.replace("latency_ms = 5 ", "latency_ms = 0 ")
    text = text.replace("enabled = true ", "enabled = false ")
    # state, control socket and kill file beside the config (the shipped file leaves them to
    # the per-bot default under the state root)
    text = text.replace("[runtime]", '[runtime]\nstate_dir = "state"', 1)
    for old, new in (overrides or {}).items():
        text = text.replace(old, new)
    path = tmp / "config.toml"
    path.write_text(text)
    return path


async def wait_for(cond: Callable[[], bool], timeout_s: float, what: str) -> None:
    with trio.move_on_after(timeout_s):
        while not cond():  # noqa: ASYNC110 - polling a live bot's state
            await trio.sleep(0.05)
        return
    raise AssertionError(f"timed out waiting for {what}")


def venue_open(engine: PaperEngine) -> list[Any]:
    return list(engine.sim_venue.engine.open_orders())


async def run_engine(engine: PaperEngine, codes: list[int]) -> None:
    """Run ``engine`` (and its paper venue) to its end and record its exit code."""
    codes.append(await run_paper(engine))


async def quotes_resting(engine: PaperEngine, timeout_s: float, what: str) -> None:
    """Wait until the bot has at least two quotes resting at the sim venue."""
    await wait_for(
        lambda: engine.sim_venue is not None and len(venue_open(engine)) >= 2, timeout_s, what
    )


def _fills(engine: PaperEngine) -> int:
    mm = engine.mm
    return 0 if mm is None else mm.status(engine.clock_ms()).ledger.fills


async def test_quotes_rest_fill_books_and_stop_is_clean(tmp_path: Path) -> None:
    cfg_path = write_config(tmp_path)
    engine = paper_engine(cfg_path)
    codes: list[int] = []

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, engine, codes)
        await quotes_resting(engine, 30, "two quotes resting at the venue")
        sides = {o.side for o in venue_open(engine)}
        assert len(sides) == 2  # two-sided
        await wait_for(lambda: _fills(engine) > 0, 60, "a fill")
        assert engine.mm is not None
        # The venue's position and ours agree once the user stream has delivered every fill
        # (a later fill can sit at the venue for a moment before its event arrives): each fill
        # was booked once.
        await wait_for(
            lambda: (
                engine.mm is not None
                and engine.mm.status(engine.clock_ms()).position_lots
                == engine.sim_venue.account.position
            ),
            10,
            "our position to equal the venue's",
        )
        st = engine.mm.status(engine.clock_ms())
        assert st.ledger.fees != 0
        engine.request_stop("test stop")
    assert codes == [0]
    assert venue_open(engine) == []


async def test_kill_and_resume_over_the_control_socket(tmp_path: Path) -> None:
    cfg_path = write_config(tmp_path)
    config = load_config(cfg_path)
    engine = paper_engine(cfg_path, config)
    codes: list[int] = []

    sock = config.runtime.control_socket
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, engine, codes)
        await quotes_resting(engine, 30, "quotes resting")
        assert oct(sock.stat().st_mode & 0o777) == "0o600"
        answer = await trio.to_thread.run_sync(control_request, sock, {"cmd": "kill"})
        assert answer["ok"] is True
        assert answer["status"]["strategy"]["trading_state"] == TradingState.HALTED.value
        await wait_for(lambda: venue_open(engine) == [], 10, "kill to cancel every order")
        await trio.sleep(1.0)
        assert venue_open(engine) == []  # halted: nothing is re-quoted
        answer = await trio.to_thread.run_sync(control_request, sock, {"cmd": "resume"})
        assert answer["ok"] is True, answer
        await wait_for(lambda: len(venue_open(engine)) >= 1, 20, "quotes after resume")
        status = await trio.to_thread.run_sync(control_request, sock, {"cmd": "status"})
        assert status["status"]["strategy"]["trading_state"] != TradingState.HALTED.value
        engine.request_stop("test stop")
    assert codes == [0]
    assert venue_open(engine) == []


async def test_kill_file_latches_and_exit_code_says_so(tmp_path: Path) -> None:
    cfg_path = write_config(tmp_path)
    config = load_config(cfg_path)
    engine = paper_engine(cfg_path, config)
    codes: list[int] = []

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, engine, codes)
        await quotes_resting(engine, 30, "quotes resting")
        config.risk.kill_file.parent.mkdir(parents=True, exist_ok=True)
        config.risk.kill_file.write_text("stop")
        await wait_for(lambda: venue_open(engine) == [], 10, "kill file to cancel every order")
        answer = await trio.to_thread.run_sync(
            control_request, config.runtime.control_socket, {"cmd": "resume"}
        )
        assert answer["ok"] is False and "kill file" in answer["error"]
        engine.request_stop("test stop")
    assert codes == [3]  # halted at exit: a guard stopped it
    assert venue_open(engine) == []


async def test_child_crashing_once_is_restarted(tmp_path: Path) -> None:
    cfg_path = write_config(tmp_path, overrides={"base_delay_s = 0.5 ": "base_delay_s = 0.05 "})
    engine = paper_engine(cfg_path)
    runs: list[int] = []

    async def flaky() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("boom once")
        await trio.sleep_forever()

    engine.extra_children.append(("flaky", flaky))
    codes: list[int] = []

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, engine, codes)
        await wait_for(lambda: len(runs) >= 2, 30, "the flaky child to be restarted")
        await wait_for(
            lambda: engine.sim_venue is not None and len(venue_open(engine)) >= 1,
            30,
            "quotes resting",
        )
        engine.request_stop("test stop")
    assert codes == [0]
    assert venue_open(engine) == []


async def test_child_that_keeps_crashing_stops_safely(tmp_path: Path) -> None:
    cfg_path = write_config(
        tmp_path,
        overrides={
            "base_delay_s = 0.5 ": "base_delay_s = 0.05 ",
            "max_restarts = 5 ": "max_restarts = 2 ",
        },
    )
    engine = paper_engine(cfg_path)
    started = trio.Event()

    async def broken() -> None:
        # Crash only once quotes rest, so the safe stop has something to cancel.
        await started.wait()
        raise RuntimeError("always broken")

    engine.extra_children.append(("broken", broken))
    codes: list[int] = []

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, engine, codes)
        await wait_for(
            lambda: engine.sim_venue is not None and len(venue_open(engine)) >= 1,
            30,
            "quotes resting",
        )
        started.set()
    assert codes == [3]
    assert engine.ended.escalated is not None and "broken" in engine.ended.escalated
    assert venue_open(engine) == []


async def test_streams_dropped_reconnect_resync_and_fills_booked_once(tmp_path: Path) -> None:
    cfg_path = write_config(tmp_path, speed=5.0)
    engine = paper_engine(cfg_path)
    codes: list[int] = []

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, engine, codes)
        await quotes_resting(engine, 30, "quotes resting")
        venue = engine.sim_venue
        market, user = engine.sources.market, engine.sources.user
        assert market is not None and user is not None
        fills_before = _fills(engine)
        venue.inject("ws_close", {"target": "all"})
        await wait_for(lambda: not market.connected or not user.connected, 10, "streams down")
        await wait_for(lambda: market.connected and user.connected, 30, "both streams back")
        await wait_for(lambda: len(venue_open(engine)) >= 2, 30, "quotes again after resync")
        venue.inject("user_duplicate", {"count": 20})
        await wait_for(lambda: _fills(engine) >= fills_before + 2, 90, "fills after reconnect")
        engine.request_stop("test stop")
    assert codes == [0]
    assert venue_open(engine) == []
    assert engine.mm is not None
    st = engine.mm.status(engine.clock_ms())
    # Every venue fill booked exactly once (duplicates and reconnects included).
    assert st.ledger.fills == len(engine.sim_venue.account.fills)
    assert st.position_lots == engine.sim_venue.account.position


async def test_reload_with_a_wider_spread_moves_the_resting_quotes(tmp_path: Path) -> None:
    # SIGHUP's handler is Engine.reload (the subprocess test covers the signal itself).
    cfg_path = write_config(tmp_path)
    engine = paper_engine(cfg_path)
    codes: list[int] = []

    def widest_inner_distance() -> int | None:
        """Ticks from our best quote on each side to the venue's mid, the nearer of the two."""
        if engine.sim_venue is None:
            return None
        orders = venue_open(engine)
        mid2 = engine.sim_venue.engine.best_bid(), engine.sim_venue.engine.best_ask()
        if len(orders) < 2 or None in mid2:
            return None
        mid = (mid2[0][0] + mid2[1][0]) / 2
        return int(min(abs(o.price - mid) for o in orders))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, engine, codes)
        await wait_for(lambda: (widest_inner_distance() or 0) > 0, 30, "quotes resting")
        before = widest_inner_distance()
        assert before is not None and before < 150
        cfg_path.write_text(
            cfg_path.read_text()
            .replace("min_half_spread_ticks = 16 ", "min_half_spread_ticks = 300 ")
            .replace("max_half_spread_ticks = 100 ", "max_half_spread_ticks = 400 ")
        )
        await engine.reload()
        assert engine.config.quoting.min_half_spread_ticks == 300
        await wait_for(
            lambda: (widest_inner_distance() or 0) >= 290,
            20,
            "quotes at least 300 ticks from the mid after the reload",
        )
        engine.request_stop("test stop")
    assert codes == [0]
    assert venue_open(engine) == []


async def test_reload_applies_the_journal_s_disk_guard_and_retention(tmp_path: Path) -> None:
    # Issue 13: `journal.disk_halt_free_mb: 256 → 999` was logged as applied while the disk
    # guard kept 256, and the retention keys were not applied either.
    cfg_path = write_config(tmp_path)
    engine = paper_engine(cfg_path)
    codes: list[int] = []
    text = cfg_path.read_text()
    for key in ("retention_days = 30", "disk_warn_free_mb = 1024", "disk_halt_free_mb = 256"):
        assert key in text, key  # the shipped file's values this test changes

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, engine, codes)
        await quotes_resting(engine, 30, "quotes resting")
        assert engine.surface.disk.halt_free_mb == 256
        cfg_path.write_text(
            text.replace("retention_days = 30", "retention_days = 7")
            .replace("disk_warn_free_mb = 1024", "disk_warn_free_mb = 2000")
            .replace("disk_halt_free_mb = 256", "disk_halt_free_mb = 999")
        )
        await engine.reload()
        assert engine.config.journal.disk_halt_free_mb == 999
        assert (engine.surface.disk.warn_free_mb, engine.surface.disk.halt_free_mb) == (2000, 999)
        assert engine._writer is not None and engine._writer.retention is not None
        assert engine._writer.retention.max_age_days == 7
        engine.request_stop("test stop")
    assert codes == [0]


async def test_a_foreign_order_appearing_while_running_is_named_once(tmp_path: Path) -> None:
    # Chaos seed 13: the periodic pass only counted foreign orders, so neither the operator
    # nor the harness could tell which order the bot had seen. Each is now named once.
    from loguru import logger

    from mmtrio.sim.binance import trading

    cfg_path = write_config(
        tmp_path, overrides={"reconcile_interval_s = 30.0": "reconcile_interval_s = 1.0"}
    )
    engine = paper_engine(cfg_path)
    codes: list[int] = []
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(m.record["message"]), level="WARNING")

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_engine, engine, codes)
            await quotes_resting(engine, 30, "quotes resting")
            venue = engine.sim_venue
            bid = venue.book.best()[0][0]
            far = str(venue.instrument.tick_size * (bid - 1_000))  # rests below the touch
            params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
            trading.place(venue, params | {"price": far, "quantity": "0.002",
                                           "newClientOrderId": "someone-else-1"})  # fmt: skip
            await wait_for(lambda: any("someone-else-1" in w for w in warnings), 10, "named")
            await trio.sleep(2.5)  # two more passes see it again
            named = [w for w in warnings if "someone-else-1" in w]
            engine.request_stop("test stop")
    finally:
        logger.remove(sink)
    # named once, at its first user-stream update (core/foreign.py); reconciliation, which
    # sees it open at every pass, does not name it again
    assert len(named) == 1, named
    assert named[0].startswith(
        "an order this bot did not place trades this account: someone-else-1 "
    )
    assert codes == [0]
    # The bot left it alone: cancel-all at stop is the only thing that removed it.
    assert venue_open(engine) == []


@pytest.mark.parametrize("where", ["writer", "commit"])
async def test_a_journal_that_cannot_write_stops_the_bot_and_cancels_everything(
    tmp_path: Path, monkeypatch: Any, where: str
) -> None:
    """A full disk under the journal: nothing may be decided that cannot be recorded, so the
    bot stops with exit code 1 (not a traceback) and its shielded cleanup still cancels every
    order at the venue — whether the writer meets the failure first or the trading loop does,
    awaiting the commit of a fill before acting on it."""
    from mmtrio.errors import JournalError
    from mmtrio.runtime.journal import Journal
    from mmtrio.runtime.journal_recorder import JournalRecorder

    cfg_path = write_config(tmp_path)
    engine = paper_engine(cfg_path)
    codes: list[int] = []

    def disk_full(self: Journal, rows: Any) -> list[int]:
        raise JournalError(f"journal {self.path}: cannot write {len(rows)} record(s): disk full")

    from loguru import logger

    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="ERROR")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, engine, codes)
        await quotes_resting(engine, 30, "quotes resting")
        if where == "writer":
            monkeypatch.setattr(Journal, "write_rows", disk_full)
        else:

            async def commit_fails(self: JournalRecorder) -> None:
                raise JournalError("journal write failed: disk full")

            monkeypatch.setattr(JournalRecorder, "commit", commit_fails)
        await wait_for(lambda: bool(codes), 30, "the bot to stop on its own")
    logger.remove(sink)
    assert codes == [1]
    # A designed stop, whichever task met the failure first (the trading loop awaiting its
    # commit, or the writer): never "the bot crashed" with a traceback (chaos journal_full).
    assert not [line for line in lines if "crashed" in line], lines
    assert engine.ended.crashed is not None and engine.ended.crashed.startswith("journal failed")
    assert "disk full" in engine.ended.crashed
    assert venue_open(engine) == []
