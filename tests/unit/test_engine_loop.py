"""The engine's pure parts: config → StrategyConfig mapping, and the trading loop's timers,
config application and journaling order (with a scripted strategy, virtual time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from mmtrio.config import load_config
from mmtrio.config.strategy import build_strategy_config
from mmtrio.core.commands import CancelOrder, Command, PlaceOrder
from mmtrio.core.events import BookInvalid, Event, OrderUpdate, Side, Timer
from mmtrio.core.notices import Notice
from mmtrio.runtime.trading import ApplyConfig, LoopItem, TradingLoop, make_clock_ms

ROOT = Path(__file__).resolve().parents[2]


def test_strategy_config_maps_units() -> None:
    config = load_config(ROOT / "config.toml")
    sc = build_strategy_config(config)
    inst = config.instrument
    assert sc.instrument is inst
    # γ per (USDT·BTC) → per tick per base-size unit of q.
    expected = config.quoting.gamma * float(config.quoting.base_qty) * float(inst.tick_size)
    assert sc.quote.gamma == pytest.approx(expected)
    assert sc.quote.base_size_lots == config.base_qty_lots
    assert sc.limits.max_position_lots == config.max_position_lots
    assert sc.use_amend is (config.quoting.amend_vs_replace == "amend")
    assert sc.query_delay_ms > config.execution.request_timeout_ms


class Scripted:
    """A strategy stand-in: answers a Timer with a place, records everything it is given."""

    def __init__(self, deadline: int | None) -> None:
        self.deadline = deadline
        self.seen: list[Event] = []
        self.configs: list[Any] = []
        self.notices: list[Notice] = []
        self.absorbed: list[Event] = []

    def step(self, event: Event, now: int) -> list[Command]:
        self.seen.append(event)
        if isinstance(event, Timer):
            self.deadline = None
            return [PlaceOrder("c1", "BTCUSDT", Side.BUY, 100, 1)]
        return []

    def absorb(self, event: Event, now: int) -> None:
        self.seen.append(event)
        self.absorbed.append(event)

    def next_deadline(self) -> int | None:
        return self.deadline

    def reconfigure(self, config: Any, now: int) -> list[Command]:
        self.configs.append(config)
        return [CancelOrder("c1", "BTCUSDT")]

    def drain_notices(self) -> list[Notice]:
        out, self.notices = self.notices, []
        return out


class Rec:
    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []

    def event(self, event: Event, now: int) -> bool:
        self.log.append(("event", event))
        return isinstance(event, OrderUpdate)

    async def commit(self) -> None:
        self.log.append(("commit", None))

    def command(self, command: Command, now: int) -> None:
        self.log.append(("command", command))

    def notice(self, notice: Notice, now: int) -> None:
        self.log.append(("notice", notice))

    def note(self, kind: str, payload: dict[str, Any], now: int) -> None:
        self.log.append((kind, payload))


async def test_timer_fires_at_deadline_and_commands_are_journaled_first(
    autojump_clock: trio.abc.Clock,
) -> None:
    clock = make_clock_ms()
    mm = Scripted(deadline=clock() + 500)
    out_send, out_recv = trio.open_memory_channel[Command](8)
    in_send, in_recv = trio.open_memory_channel[LoopItem](8)
    rec = Rec()
    loop = TradingLoop(mm, out_send, clock, rec)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run, in_recv)
        cmd = await out_recv.receive()
        assert isinstance(cmd, PlaceOrder)
        assert isinstance(mm.seen[0], Timer)
        assert clock() >= mm.seen[0].ts  # never early
        assert ("command", cmd) in rec.log
        await in_send.send(ApplyConfig("new-config", "config reload: quoting.gamma: 0.1 → 0.2"))
        cancel = await out_recv.receive()
        assert isinstance(cancel, CancelOrder)
        assert mm.configs == ["new-config"]
        assert any(k == "config_reload" for k, _ in rec.log)
        await in_send.send(BookInvalid("BTCUSDT", "gap", 1))
        await trio.sleep(0.1)
        assert isinstance(mm.seen[-1], BookInvalid)
        nursery.cancel_scope.cancel()


async def test_user_reconnect_triggers_reconcile(autojump_clock: trio.abc.Clock) -> None:
    from mmtrio.core.events import FeedStatus

    mm = Scripted(deadline=None)
    out_send, _out_recv = trio.open_memory_channel[Command](8)
    loop = TradingLoop(mm, out_send, make_clock_ms())
    hits: list[int] = []
    loop.on_user_reconnect = lambda: hits.append(1)
    await loop.handle(FeedStatus("market", True, "connected", 1))
    await loop.handle(FeedStatus("user", False, "down", 2))
    assert hits == []
    await loop.handle(FeedStatus("user", True, "connected", 3))
    assert hits == [1]
    assert len(mm.seen) == 3


class RequotesOnFill(Scripted):
    def step(self, event: Event, now: int) -> list[Command]:
        self.seen.append(event)
        if isinstance(event, OrderUpdate):
            return [PlaceOrder("c2", "BTCUSDT", Side.BUY, 100, 1)]
        return []


def _fill_update() -> OrderUpdate:
    from decimal import Decimal

    from mmtrio.core.events import ExecType, Fill, TimeInForce, VenueOrderStatus

    fill = Fill("BTCUSDT", 7, "c1", 1, Side.BUY, 100, 1, Decimal("0.01"), "USDT", True, 5)
    return OrderUpdate(
        "BTCUSDT",
        "c1",
        1,
        Side.BUY,
        ExecType.TRADE,
        VenueOrderStatus.FILLED,
        100,
        1,
        1,
        TimeInForce.GTX,
        False,
        5,
        fill,
    )


async def test_a_fill_is_committed_before_the_decision_it_causes_is_sent(
    autojump_clock: trio.abc.Clock,
) -> None:
    update = _fill_update()
    out_send, out_recv = trio.open_memory_channel[Command](8)
    rec = Rec()
    loop = TradingLoop(RequotesOnFill(deadline=None), out_send, make_clock_ms(), rec)
    sent_at_commit: list[int] = []

    async def commit() -> None:
        sent_at_commit.append(out_recv.statistics().current_buffer_used)
        rec.log.append(("commit", None))

    rec.commit = commit  # type: ignore[method-assign]
    await loop.handle(update)
    cmd = out_recv.receive_nowait()
    kinds = [k for k, _ in rec.log]
    # The fill and the order it causes are both on record, and durable, before the order
    # leaves: nothing had been sent when the commit ran.
    assert kinds == ["event", "command", "commit"]
    assert rec.log[1] == ("command", cmd)
    assert sent_at_commit == [0]


async def test_a_fill_notice_is_drained_before_the_loop_waits(
    autojump_clock: trio.abc.Clock,
) -> None:
    # Whatever reads state while the loop awaits the commit (metrics, the status screen) must
    # see the fill's notice with the fill: the notices are drained before the first await.
    out_send, _ = trio.open_memory_channel[Command](8)
    rec = Rec()
    mm = RequotesOnFill(deadline=None)
    loop = TradingLoop(mm, out_send, make_clock_ms(), rec)
    seen_at_commit: list[list[str]] = []

    async def commit() -> None:
        seen_at_commit.append([k for k, _ in rec.log])

    rec.commit = commit  # type: ignore[method-assign]
    mm.notices.append(Notice("fill", 0, "BUY 1 lot", {}))
    await loop.handle(_fill_update())
    assert seen_at_commit == [["event", "command", "notice"]]


class AsksForResync(Scripted):
    def step(self, event: Event, now: int) -> list[Command]:
        self.seen.append(event)
        self.notices.append(Notice("book_resync", now, "resync needed: crossed", {}))
        return []


async def test_a_resync_notice_reaches_the_market_feed(autojump_clock: trio.abc.Clock) -> None:
    out_send, _ = trio.open_memory_channel[Command](8)
    loop = TradingLoop(AsksForResync(deadline=None), out_send, make_clock_ms())
    asked: list[str] = []
    loop.on_book_resync = asked.append
    await loop.handle(BookInvalid("BTCUSDT", "test", 1))
    assert asked == ["resync needed: crossed"]


async def test_a_burst_of_market_data_is_planned_once_on_the_newest_event(
    autojump_clock: trio.abc.Clock,
) -> None:
    from mmtrio.core.events import DepthDiff

    mm = Scripted(deadline=None)
    out_send, _ = trio.open_memory_channel[Command](8)
    in_send, in_recv = trio.open_memory_channel[LoopItem](16)
    diffs = [DepthDiff("BTCUSDT", i, i, i - 1, ((100, 1),), (), i) for i in range(1, 6)]
    for d in diffs:  # all five are queued before the loop looks
        in_send.send_nowait(d)
    loop = TradingLoop(mm, out_send, make_clock_ms())
    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run, in_recv)
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert mm.seen == diffs  # every diff reached the strategy, in order
    assert mm.absorbed == diffs[:-1] and loop.absorbed == 4
    assert loop.steps == 1  # one planning step, on the newest


async def test_an_order_update_that_leads_to_no_decision_waits_for_no_fsync(
    autojump_clock: trio.abc.Clock,
) -> None:

    from mmtrio.core.events import ExecType, TimeInForce, VenueOrderStatus

    update = OrderUpdate(
        "BTCUSDT", "c1", 1, Side.BUY, ExecType.NEW, VenueOrderStatus.NEW, 100, 1, 0,
        TimeInForce.GTX, False, 5,
    )  # fmt: skip
    out_send, out_recv = trio.open_memory_channel[Command](8)
    rec = Rec()
    loop = TradingLoop(Scripted(deadline=None), out_send, make_clock_ms(), rec)
    await loop.handle(update)  # Scripted answers an update with nothing
    assert [k for k, _ in rec.log] == ["event"]
    loop.mm = RequotesOnFill(deadline=None)  # the next update leads to a decision
    await loop.handle(update)
    assert [k for k, _ in rec.log] == ["event", "event", "command", "commit"]
    assert out_recv.receive_nowait()


class RefusedEveryStep(Scripted):
    """Every step is refused locally, as during a long rate-limit back-off."""

    def step(self, event: Event, now: int) -> list[Command]:
        self.seen.append(event)
        reason = f"rate budget exhausted for {5000 - len(self.seen)} ms; not queued"
        self.notices.append(
            Notice(
                "reject",
                now,
                f"PlaceRejected mmt1-{len(self.seen):x}: 0 {reason}",
                {"code": 0, "reason": reason},
            )
        )
        return []


async def test_repeated_rejections_are_logged_once_per_window_and_all_journaled(
    autojump_clock: trio.abc.Clock,
) -> None:
    from loguru import logger

    out_send, _ = trio.open_memory_channel[Command](8)
    rec = Rec()
    loop = TradingLoop(RefusedEveryStep(deadline=None), out_send, make_clock_ms(), rec)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="INFO")
    try:
        for _ in range(50):  # 5 s of refusals, one every 100 ms
            await loop.handle(Timer(0))
            await trio.sleep(0.1)
        await trio.sleep(6.0)  # past the 10 s window
        await loop.handle(Timer(0))
        # A different reason is news: logged at once.
        loop.mm.notices.append(  # type: ignore[attr-defined]
            Notice("reject", 0, "PlaceRejected x: -5022 post only", {"code": -5022, "reason": "po"})
        )
        await loop.handle(Timer(0))
    finally:
        logger.remove(sink)
    assert len(lines) == 3, lines  # the last step's own refusal is inside the new window
    assert lines[0].startswith("PlaceRejected mmt1-1: 0 rate budget exhausted")
    assert lines[1].startswith("PlaceRejected mmt1-33: 0 rate budget exhausted")
    assert lines[1].endswith("(and 49 more like it since the last such line)")
    assert lines[2] == "PlaceRejected x: -5022 post only"
    assert sum(1 for kind, _ in rec.log if kind == "notice") == 53  # the journal has every one
