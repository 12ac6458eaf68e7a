"""The engine's pure parts: config → StrategyConfig mapping, and the trading loop's timers,
config application and journaling order (with a scripted strategy, virtual time)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio

from mmtrio.config import load_config
from mmtrio.config.strategy import build_strategy_config
from mmtrio.core.commands import CancelOrder, Command, PlaceOrder
from mmtrio.core.events import BookDelta, BookInvalid, Event, OrderUpdate, Side, Timer
from mmtrio.core.instruments import Instrument
from mmtrio.core.notices import Notice
from mmtrio.errors import ConfigError
from mmtrio.runtime.inbox import Inbox
from mmtrio.runtime.trading import ApplyConfig, TradingLoop, make_clock_ms
from mmtrio.venues.binance.recording import scan_recording

ROOT = Path(__file__).resolve().parents[2]


def test_strategy_config_maps_units() -> None:
    config = load_config(ROOT / "config.toml")
    assert config.sim is not None
    inst = scan_recording(list(config.sim.data_files)).instrument
    sc = build_strategy_config(config, inst, orders_per_minute=1200)
    assert sc.instrument is inst
    # γ per (USDT·BTC) → per tick per base-size unit of q.
    expected = config.quoting.gamma * float(config.quoting.base_qty) * float(inst.tick_size)
    assert sc.quote.gamma == pytest.approx(expected)
    assert sc.quote.base_size_lots == inst.base_to_lots(config.quoting.base_qty)
    assert sc.limits.max_position_lots == inst.base_to_lots(config.risk.max_position)
    assert sc.limits.max_orders_per_window == int(1200 * (1 - config.execution.rate_budget_margin))
    assert sc.use_amend is (config.quoting.amend_vs_replace == "amend")
    assert sc.query_delay_ms > config.execution.request_timeout_ms


def test_sizes_that_do_not_fit_the_venues_instrument_are_named() -> None:
    config = load_config(ROOT / "config.toml")
    coarse = Instrument("XUSDT", Decimal("0.1"), Decimal("0.01"), 1, 10**9, Decimal(5))
    with pytest.raises(ConfigError, match=r"quoting\.base_qty = 0\.002 is not a whole number"):
        build_strategy_config(config, coarse)
    # OKX-like contracts: 0.01 BTC per contract, lot 1 contract; 0.002 BTC is no whole lot
    contracts = Instrument(
        "BTC-USDT-SWAP", Decimal("0.1"), Decimal("1"), 1, 10**9, Decimal(0),
        contract_size=Decimal("0.01"),
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"0\.01 base units each"):
        build_strategy_config(config, contracts)


class Scripted:
    """A strategy stand-in: decides a place after a Timer, records everything applied."""

    def __init__(self, deadline: int | None) -> None:
        self.deadline = deadline
        self.seen: list[Event] = []
        self.configs: list[Any] = []
        self.notices: list[Notice] = []
        self.decisions = 0
        self._pending: list[Command] = []

    def apply(self, event: Event, now: int) -> None:
        self.seen.append(event)
        if isinstance(event, Timer):
            self.deadline = None
            self._pending.append(PlaceOrder("c1", "BTCUSDT", Side.BUY, 100, 1))

    def decide(self, now: int) -> list[Command]:
        self.decisions += 1
        out, self._pending = self._pending, []
        return out

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
    inbox = Inbox(clock_ms=clock)
    in_send = inbox
    rec = Rec()
    loop = TradingLoop(mm, out_send, clock, rec)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run, inbox)
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
        inbox.market(BookInvalid("BTCUSDT", "gap", 1))
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
    def apply(self, event: Event, now: int) -> None:
        self.seen.append(event)
        if isinstance(event, OrderUpdate):
            self._pending.append(PlaceOrder("c2", "BTCUSDT", Side.BUY, 100, 1))


def _fill_update() -> OrderUpdate:
    from decimal import Decimal

    from mmtrio.core.events import ExecType, Fill, OrderStatus, TimeInForce

    fill = Fill("BTCUSDT", 7, "c1", 1, Side.BUY, 100, 1, Decimal("0.01"), "USDT", True, 5)
    return OrderUpdate(
        "BTCUSDT",
        "c1",
        1,
        Side.BUY,
        ExecType.TRADE,
        OrderStatus.FILLED,
        100,
        1,
        1,
        TimeInForce.POST_ONLY,
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
    def apply(self, event: Event, now: int) -> None:
        self.seen.append(event)
        self.notices.append(Notice("book_resync", now, "resync needed: crossed", {}))


async def test_a_resync_notice_reaches_the_market_feed(autojump_clock: trio.abc.Clock) -> None:
    out_send, _ = trio.open_memory_channel[Command](8)
    loop = TradingLoop(AsksForResync(deadline=None), out_send, make_clock_ms())
    asked: list[str] = []
    loop.on_book_resync = asked.append
    await loop.handle(BookInvalid("BTCUSDT", "test", 1))
    assert asked == ["resync needed: crossed"]


async def test_a_burst_of_market_data_is_applied_whole_then_decided_once(
    autojump_clock: trio.abc.Clock,
) -> None:
    mm = Scripted(deadline=None)
    out_send, _ = trio.open_memory_channel[Command](8)
    inbox = Inbox(clock_ms=make_clock_ms())
    deltas = [BookDelta("BTCUSDT", ((100, i),), (), i, seq=i) for i in range(1, 6)]
    for d in deltas:  # all five are queued before the loop looks
        inbox.market(d)
    loop = TradingLoop(mm, out_send, make_clock_ms())
    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run, inbox)
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert mm.seen == deltas  # every delta reached the strategy, in order
    assert loop.absorbed == 4 and inbox.conflated == 4
    assert loop.steps == 1 and mm.decisions == 1  # one decision, on the newest state


async def test_an_order_update_that_leads_to_no_decision_waits_for_no_fsync(
    autojump_clock: trio.abc.Clock,
) -> None:

    from mmtrio.core.events import ExecType, OrderStatus, TimeInForce

    update = OrderUpdate(
        "BTCUSDT", "c1", 1, Side.BUY, ExecType.NEW, OrderStatus.NEW, 100, 1, 0,
        TimeInForce.POST_ONLY, False, 5,
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
    """Every decision is refused locally, as during a long rate-limit back-off."""

    def apply(self, event: Event, now: int) -> None:
        self.seen.append(event)
        reason = f"rate budget exhausted for {5000 - len(self.seen)} ms; not queued"
        self.notices.append(
            Notice(
                "reject",
                now,
                f"place mmt1-{len(self.seen):x} refused: not sent by this bot ({reason})",
                {"reject_kind": "local", "code": "", "reason": reason},
            )
        )


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
            Notice(
                "reject",
                0,
                "place x refused: not enough margin (-2019 Margin is insufficient.)",
                {"reject_kind": "insufficient_margin", "code": "-2019", "reason": "margin"},
            )
        )
        await loop.handle(Timer(0))
    finally:
        logger.remove(sink)
    assert len(lines) == 3, lines  # the last step's own refusal is inside the new window
    assert lines[0].startswith("place mmt1-1 refused: not sent by this bot (rate budget")
    assert lines[1].startswith("place mmt1-33 refused: not sent by this bot (rate budget")
    assert lines[1].endswith("(and 49 more like it since the last such line)")
    assert lines[2] == "place x refused: not enough margin (-2019 Margin is insufficient.)"
    assert sum(1 for kind, _ in rec.log if kind == "notice") == 53  # the journal has every one


class CrossesEveryStep(Scripted):
    """Every post-only place would have crossed: routine while the book moves."""

    def apply(self, event: Event, now: int) -> None:
        self.seen.append(event)
        self.notices.append(
            Notice(
                "reject",
                now,
                f"place mmt1-{len(self.seen):x} refused: post-only, it would have crossed the "
                "book (-5022 Post Only order will be rejected)",
                {"reject_kind": "would_cross", "code": "-5022", "reason": "po"},
            )
        )


async def test_a_would_cross_refusal_is_debug_and_not_repeated_every_time(
    autojump_clock: trio.abc.Clock,
) -> None:
    from loguru import logger

    out_send, _ = trio.open_memory_channel[Command](8)
    rec = Rec()
    loop = TradingLoop(CrossesEveryStep(deadline=None), out_send, make_clock_ms(), rec)
    records: list[tuple[str, str]] = []
    sink = logger.add(
        lambda m: records.append((m.record["level"].name, m.record["message"])), level="DEBUG"
    )
    try:
        for _ in range(50):  # 5 s of would-cross refusals, one every 100 ms
            await loop.handle(Timer(0))
            await trio.sleep(0.1)
    finally:
        logger.remove(sink)
    said = [(level, msg) for level, msg in records if "refused" in msg]
    assert said == [
        (
            "DEBUG",
            "place mmt1-1 refused: post-only, it would have crossed the book "
            "(-5022 Post Only order will be rejected)",
        )
    ]
    assert sum(1 for kind, _ in rec.log if kind == "notice") == 50  # the journal has every one


async def test_a_burst_of_1000_depth_messages_is_one_decision_and_the_whole_book(
    autojump_clock: trio.abc.Clock,
) -> None:
    """The real strategy behind the inbox: 1,000 deltas queued while the loop is busy are all
    applied (the book equals applying every one of them) and decided on once."""
    import random

    from mmtrio.core.book import OrderBook
    from mmtrio.core.client_ids import ClientIdGenerator
    from mmtrio.core.events import BookSnapshot
    from mmtrio.core.instruments import BTCUSDT
    from mmtrio.core.strategy import MarketMaker
    from mmtrio.venues.binance.client_ids import client_id_format

    config = load_config(ROOT / "config.toml")
    mm = MarketMaker(
        build_strategy_config(config, BTCUSDT), ClientIdGenerator(client_id_format("t"), 1)
    )
    out_send, _ = trio.open_memory_channel[Command](1000)
    inbox = Inbox(clock_ms=make_clock_ms())
    rng = random.Random(5)
    mid = 600_000
    snap = BookSnapshot(
        "BTCUSDT",
        tuple((mid - i, rng.randint(1, 50)) for i in range(1, 200)),
        tuple((mid + i, rng.randint(1, 50)) for i in range(1, 200)),
        0,
        seq=1,
    )
    reference = OrderBook("BTCUSDT")
    reference.apply_snapshot(snap)
    inbox.market(snap)
    for k in range(1_000):
        bids = tuple((mid - rng.randint(1, 200), rng.randint(0, 50)) for _ in range(5))
        asks = tuple((mid + rng.randint(1, 200), rng.randint(0, 50)) for _ in range(5))
        delta = BookDelta("BTCUSDT", bids, asks, k, seq=k + 2, prev_seq=k + 1)
        reference.apply_delta(delta)
        inbox.market(delta)
    loop = TradingLoop(mm, out_send, make_clock_ms())
    async with trio.open_nursery() as nursery:
        nursery.start_soon(loop.run, inbox)
        await trio.sleep(0.001)
        nursery.cancel_scope.cancel()
    assert loop.steps == 1 and loop.absorbed == 1_000
    for side in (Side.BUY, Side.SELL):
        assert mm.book.levels(side, 10_000) == reference.levels(side, 10_000)
    assert mm.book.seq == 1_001


async def test_the_real_journal_has_the_fill_before_the_decision_and_no_wait_after(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    """JournalRecorder on a real writer: the decision a fill causes leaves only once the fill
    is committed; a later decision waits for nothing (the group commit already covered it),
    and an order update without a fill is never waited for."""
    import sqlite3
    from dataclasses import replace

    from mmtrio.core.events import ExecType, OrderStatus, TimeInForce
    from mmtrio.runtime.journal import JOURNAL_NAME, Journal
    from mmtrio.runtime.journal_recorder import JournalRecorder
    from mmtrio.runtime.journal_writer import JournalWriter

    journal = Journal.open(tmp_path)
    journal.next_epoch()
    writer = JournalWriter(journal)
    recorder = JournalRecorder(writer, lambda: 1_000)
    out_send, out_recv = trio.open_memory_channel[Command](8)
    loop = TradingLoop(RequotesOnFill(deadline=None), out_send, make_clock_ms(), recorder)
    waits: list[int] = []
    real = writer.committed_through

    async def counted(position: int) -> None:
        waits.append(writer.committed - position)  # < 0: the fill was not committed yet
        await real(position)

    writer.committed_through = counted  # type: ignore[method-assign]
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        await loop.handle(_fill_update())
        out_recv.receive_nowait()
        fills = sqlite3.connect(tmp_path / JOURNAL_NAME).execute("SELECT count(*) FROM fills")
        assert fills.fetchone()[0] == 1  # committed before the order was handed on
        assert len(waits) == 1 and waits[0] < 0
        # A fill whose batch decides nothing; the writer commits it meanwhile; the next
        # decision (a Timer's place) asks, and finds it committed: no wait.
        loop.mm = Scripted(deadline=None)
        update = _fill_update()
        assert update.fill is not None
        await loop.handle(replace(update, fill=replace(update.fill, trade_id=8)))
        await writer.flush()  # the group commit happens (a barrier, off the loop's path)
        await loop.handle(Timer(0))
        assert out_recv.receive_nowait() == PlaceOrder("c1", "BTCUSDT", Side.BUY, 100, 1)
        assert len(waits) == 2 and waits[1] >= 0
        update = OrderUpdate(
            "BTCUSDT", "c2", 2, Side.BUY, ExecType.NEW, OrderStatus.NEW, 100, 1, 0,
            TimeInForce.POST_ONLY, False, 5,
        )  # fmt: skip
        assert recorder.event(update, 0) is False  # an order state without a fill: no wait
        nursery.cancel_scope.cancel()
    journal.close()


async def test_a_return_to_active_is_info_and_a_restriction_a_warning(
    autojump_clock: trio.abc.Clock,
) -> None:
    """``HALTED -> ACTIVE: all risk checks clear`` comes at every start: good news, logged at
    INFO; a restriction stays a WARNING."""
    from loguru import logger

    out_send, _ = trio.open_memory_channel[Command](8)
    mm = RefusedEveryStep(deadline=None)
    loop = TradingLoop(mm, out_send, make_clock_ms(), Rec())
    lines: list[tuple[str, str]] = []
    sink = logger.add(
        lambda m: lines.append((m.record["level"].name, m.record["message"])), level="INFO"
    )
    try:
        for to_state, reason in (("ACTIVE", "all risk checks clear"), ("HALTED", "stale book")):
            mm.notices.append(
                Notice(
                    "state_change",
                    0,
                    f"X -> {to_state}: {reason}",
                    {"from_state": "X", "to_state": to_state},
                )
            )
        await loop.handle(Timer(0))
    finally:
        logger.remove(sink)
    changes = [(level, msg) for level, msg in lines if "->" in msg]
    assert changes == [
        ("INFO", "X -> ACTIVE: all risk checks clear"),
        ("WARNING", "X -> HALTED: stale book"),
    ]
