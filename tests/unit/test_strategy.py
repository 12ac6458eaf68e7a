"""MarketMaker: a scripted session with real events, one behaviour per test."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from mmtrio.core.client_ids import ClientIdGenerator
from mmtrio.core.commands import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    Command,
    PlaceOrder,
    QueryOrder,
)
from mmtrio.core.events import (
    BookDelta,
    BookInvalid,
    BookSnapshot,
    CancelAccepted,
    Event,
    ExecType,
    FeedStatus,
    Fill,
    KillSwitch,
    MarkPrice,
    OrderNotFound,
    OrderStatus,
    OrderUpdate,
    OutcomeUnknown,
    PlaceAccepted,
    PlaceRejected,
    Resume,
    Side,
    TimeInForce,
    Timer,
)
from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.orders import OrderState
from mmtrio.core.quote_params import QuoteModel, QuoteParams
from mmtrio.core.rejects import RejectKind
from mmtrio.core.risk import RiskLimits, TradingState
from mmtrio.core.strategy import MarketMaker
from mmtrio.core.strategy_config import StrategyConfig
from mmtrio.errors import ParameterError
from mmtrio.venues.binance.client_ids import client_id_format

SYM = "BTCUSDT"
MID = 600_000  # 60,000.0 on the 0.10 grid


def make_config(**overrides: object) -> StrategyConfig:
    """A BTCUSDT config with a fixed half spread of 5 ticks (min = max clamp)."""
    quote = QuoteParams(
        model=QuoteModel.GLFT,
        gamma=0.01,
        base_size_lots=3,
        max_inventory_lots=20,
        levels=1,
        min_half_spread_ticks=5.0,
        max_half_spread_ticks=5.0,
        inventory_skew=0.0,
        use_microprice=False,
    )
    limits = RiskLimits(
        max_position_lots=20,
        max_notional=Decimal(100_000),
        max_drawdown=Decimal(1_000),
        stale_book_ms=5_000,
        max_feed_latency_ms=60_000,
        max_orders_per_window=1_000,
    )
    base: dict[str, object] = dict(
        instrument=BTCUSDT,
        quote=quote,
        limits=limits,
        vol_half_life_ms=10_000,
        vol_min_returns=20,
        sigma_fallback_ticks=5.0,
        intensity_window_ms=60_000,
        intensity_min_trades=50,
        fallback_a=1.0,
        fallback_k=0.5,
        reprice_tolerance_ticks=2,
        size_tolerance_lots=1,
        use_amend=True,
        min_requote_interval_ms=100,
        cancel_deadline_ms=1_000,
        query_delay_ms=5_000,
        post_only_base_ticks=0,
        post_only_max_ticks=8,
        post_only_decay_after=3,
        markout_horizons_ms=(1_000, 5_000),
        flatten_slippage_bps=10.0,
        mid_sample_ms=1_000,
    )
    base.update(overrides)
    return StrategyConfig(**base)  # type: ignore[arg-type]


class Session:
    """A MarketMaker plus a diff-chain builder and a clock."""

    def __init__(self, **overrides: object) -> None:
        self.mm = MarketMaker(make_config(**overrides), ClientIdGenerator(client_id_format("t"), 1))
        self.now = 1_000
        self.u = 100
        self.trade_id = 1

    def step(self, event: Event, dt: int = 10) -> list[Command]:
        self.now += dt
        return self.mm.step(event, self.now)

    def snapshot(self, bid: int = MID - 1, ask: int = MID + 1) -> list[Command]:
        snap = BookSnapshot(SYM, ((bid, 10),), ((ask, 10),), 0, seq=self.u)
        return self.step(snap)

    def diff(
        self,
        bids: tuple[tuple[int, int], ...] = (),
        asks: tuple[tuple[int, int], ...] = (),
        dt: int = 10,
    ) -> list[Command]:
        prev, self.u = self.u, self.u + 1
        d = BookDelta(SYM, bids, asks, self.now + dt, seq=self.u, prev_seq=prev)
        return self.step(d, dt)

    def move(self, bid: int, ask: int, old: tuple[int, int], dt: int = 10) -> list[Command]:
        """Replace the top of book (old bid/ask levels removed, new ones 10 lots)."""
        return self.diff(((old[0], 0), (bid, 10)), ((old[1], 0), (ask, 10)), dt)

    def fill(
        self,
        cid: str,
        side: Side,
        price: int,
        qty: int,
        cum: int,
        total: int,
        trade_id: int | None = None,
    ) -> list[Command]:
        tid = trade_id if trade_id is not None else self.trade_id
        self.trade_id = tid + 1
        fill = Fill(SYM, tid, cid, 7, side, price, qty, Decimal("0.001"), "USDT", True, self.now)
        status = OrderStatus.FILLED if cum >= total else OrderStatus.PARTIALLY_FILLED
        upd = OrderUpdate(
            SYM,
            cid,
            7,
            side,
            ExecType.TRADE,
            status,
            price,
            total,
            cum,
            TimeInForce.POST_ONLY,
            False,
            self.now,
            fill,
        )
        return self.step(upd)


def places(cmds: list[Command]) -> list[PlaceOrder]:
    return [c for c in cmds if isinstance(c, PlaceOrder)]


def by_side(cmds: list[Command], side: Side) -> PlaceOrder:
    (order,) = [c for c in places(cmds) if c.side is side]
    return order


def quoting_session(**overrides: object) -> tuple[Session, PlaceOrder, PlaceOrder]:
    """Snapshot → a two-sided quote placed and acknowledged."""
    s = Session(**overrides)
    cmds = s.snapshot()
    bid, ask = by_side(cmds, Side.BUY), by_side(cmds, Side.SELL)
    s.step(PlaceAccepted(bid.client_id, 1, s.now))
    s.step(PlaceAccepted(ask.client_id, 2, s.now))
    return s, bid, ask


# --- start-up and quoting ----------------------------------------------------------------------


def test_no_quotes_before_a_book_and_explicit_reason() -> None:
    s = Session()
    assert s.step(Timer(s.now)) == []
    status = s.mm.status(s.now)
    assert status.trading_state is TradingState.HALTED
    assert status.cannot_quote
    assert not status.book_synced


def test_snapshot_places_a_post_only_two_sided_quote() -> None:
    s = Session()
    cmds = s.snapshot()
    bid, ask = by_side(cmds, Side.BUY), by_side(cmds, Side.SELL)
    # Mid 600,000 and a half spread of 5 ticks, rounded outward.
    assert (bid.price, ask.price) == (MID - 5, MID + 5)
    assert bid.qty == ask.qty == 3
    assert bid.time_in_force is TimeInForce.POST_ONLY and not bid.reduce_only
    assert s.mm.orders.get(bid.client_id).state is OrderState.PENDING_NEW  # type: ignore[union-attr]
    kinds = [n.kind for n in s.mm.drain_notices()]
    assert "state_change" in kinds and kinds.count("quote") == 2
    assert s.mm.drain_notices() == []


def test_no_quote_before_the_warm_up_and_the_status_says_so() -> None:
    s = Session(warmup_ms=2_000)
    assert not [c for c in s.snapshot() if isinstance(c, PlaceOrder)]
    reason = s.mm.status(s.now).cannot_quote
    assert reason.startswith("warming up: 0 s of market data of 2 s"), reason
    placed: list[PlaceOrder] = []
    for _ in range(19):  # 1.9 s of diffs: still warming up
        placed += [c for c in s.diff(dt=100) if isinstance(c, PlaceOrder)]
    assert placed == []
    assert "warming up: 2 s" in s.mm.status(s.now).cannot_quote  # rounded: 1.9 s
    # one notice for the whole warm-up (numbers ignored), not one per step
    notes = [n for n in s.mm.drain_notices() if n.kind == "cannot_quote"]
    assert [n.message.split(":")[0] for n in notes] == ["warming up"]
    cmds = s.diff(dt=100)  # 2.0 s after the first book
    assert {c.side for c in cmds if isinstance(c, PlaceOrder)} == {Side.BUY, Side.SELL}
    assert s.mm.status(s.now).cannot_quote == ""


def test_pending_orders_are_not_touched_until_acknowledged() -> None:
    s = Session()
    s.snapshot()
    # The market moves 20 ticks: the quotes are far off target, but both are PENDING_NEW.
    assert s.move(MID + 19, MID + 21, (MID - 1, MID + 1), dt=500) == []


def test_fill_is_booked_once_even_when_the_event_repeats() -> None:
    s, bid, _ = quoting_session()
    s.fill(bid.client_id, Side.BUY, bid.price, 1, 1, 3, trade_id=55)
    s.fill(bid.client_id, Side.BUY, bid.price, 1, 1, 3, trade_id=55)  # duplicate delivery
    assert s.mm.ledger.position_lots == 1
    assert s.mm.ledger.snapshot().fills == 1
    assert [n.kind for n in s.mm.drain_notices()].count("fill") == 1


def test_fill_after_cancel_is_booked() -> None:
    s, bid, _ = quoting_session(use_amend=False)
    cmds = s.move(MID + 19, MID + 21, (MID - 1, MID + 1), dt=500)
    assert CancelOrder(bid.client_id, SYM) in cmds
    s.step(CancelAccepted(bid.client_id, s.now))
    assert s.mm.orders.get(bid.client_id).state is OrderState.CANCELED  # type: ignore[union-attr]
    s.fill(bid.client_id, Side.BUY, bid.price, 2, 2, 3)
    assert s.mm.ledger.position_lots == 2


def test_reprice_within_tolerance_keeps_the_orders() -> None:
    s, _, _ = quoting_session()
    # Mid moves by 1 tick: within reprice_tolerance_ticks=2, no churn.
    assert s.move(MID, MID + 2, (MID - 1, MID + 1), dt=500) == []


def test_reprice_beyond_tolerance_amends() -> None:
    s, bid, ask = quoting_session()
    cmds = s.move(MID + 3, MID + 5, (MID - 1, MID + 1), dt=500)
    amends = {c.client_id: c for c in cmds if isinstance(c, AmendOrder)}
    assert set(amends) == {bid.client_id, ask.client_id}
    assert amends[bid.client_id].price == MID - 1 and amends[ask.client_id].price == MID + 9
    assert s.mm.orders.get(bid.client_id).state is OrderState.PENDING_AMEND  # type: ignore[union-attr]


def test_reprice_beyond_tolerance_without_amend_cancels_then_places() -> None:
    s, bid, ask = quoting_session(use_amend=False)
    cmds = s.move(MID + 3, MID + 5, (MID - 1, MID + 1), dt=500)
    assert set(cmds) == {CancelOrder(bid.client_id, SYM), CancelOrder(ask.client_id, SYM)}
    s.step(CancelAccepted(bid.client_id, s.now), dt=1)
    # Slot free, but within min_requote_interval_ms of the cancel: wait, and ask for a timer.
    assert places(s.step(Timer(s.now), dt=1)) == []
    deadline = s.mm.next_deadline()
    assert deadline is not None and deadline <= s.now + 100
    s.now = deadline - 1
    cmds = s.step(Timer(deadline), dt=1)
    assert by_side(cmds, Side.BUY).price == MID - 1


def test_requote_pacing_delays_repeated_actions_on_a_slot() -> None:
    s, bid, _ = quoting_session()
    s.move(MID + 9, MID + 11, (MID - 1, MID + 1), dt=500)
    from mmtrio.core.events import AmendAccepted

    s.step(AmendAccepted(bid.client_id, MID + 5, 3, s.now), dt=1)
    # Another big move right after the amend: the bid slot waits out the pacing interval.
    cmds = s.move(MID + 29, MID + 31, (MID + 9, MID + 11), dt=1)
    assert not any(isinstance(c, AmendOrder) and c.client_id == bid.client_id for c in cmds)
    assert s.mm.next_deadline() is not None


def test_post_only_reject_widens_safety_and_acks_decay_it() -> None:
    s = Session()
    cmds = s.snapshot()
    bid = by_side(cmds, Side.BUY)
    s.step(
        PlaceRejected(bid.client_id, RejectKind.WOULD_CROSS, "-5022", "post only would take", s.now)
    )
    assert s.mm.safety.ticks == 1
    assert any(n.kind == "reject" for n in s.mm.drain_notices())
    # The slot is free again: after the pacing interval the bid is re-placed.
    cmds = s.step(Timer(s.now + 200), dt=200)
    again = by_side(cmds, Side.BUY)
    ask_cid = next(o.client_id for o in s.mm.orders.live_orders() if o.side is Side.SELL)
    for cid in (again.client_id, ask_cid):
        s.step(PlaceAccepted(cid, 9, s.now))
    # decay_after=3: two acks since the reject are not yet enough; a third is.
    assert s.mm.safety.ticks == 1


def test_cancel_timeout_frees_the_slot_and_queries_after_delay() -> None:
    s, bid, _ = quoting_session(use_amend=False)
    cmds = s.move(MID + 3, MID + 5, (MID - 1, MID + 1), dt=500)
    assert CancelOrder(bid.client_id, SYM) in cmds
    deadline = s.mm.next_deadline()
    assert deadline is not None and deadline <= s.now + 1_000
    # No confirmation: at the cancel deadline the slot frees and the order becomes UNKNOWN.
    cancel_deadline = s.now + 1_000
    cmds = s.step(Timer(cancel_deadline), dt=1_000)
    assert s.mm.orders.get(bid.client_id).state is OrderState.UNKNOWN  # type: ignore[union-attr]
    assert by_side(cmds, Side.BUY).price == MID - 1  # the freed slot quotes again
    assert not any(isinstance(c, QueryOrder) for c in cmds)
    cmds = s.step(Timer(s.now + 5_000), dt=5_000)
    assert QueryOrder(bid.client_id, SYM) in cmds
    s.step(OrderNotFound(bid.client_id, s.now))
    assert s.mm.orders.get(bid.client_id).state is OrderState.CANCELED  # type: ignore[union-attr]


def test_unknown_place_outcome_is_queried_after_delay_and_nothing_resubmitted() -> None:
    s = Session()
    bid = by_side(s.snapshot(), Side.BUY)
    s.step(OutcomeUnknown(bid.client_id, "place", "timeout", s.now))
    deadline = s.mm.next_deadline()
    assert deadline is not None and deadline <= s.now + 5_000
    cmds = s.diff(((MID - 2, 4),), dt=4_000)  # the book stays fresh
    assert places(cmds) == [] and not any(isinstance(c, QueryOrder) for c in cmds)
    cmds = s.diff(((MID - 2, 5),), dt=1_000)
    assert QueryOrder(bid.client_id, SYM) in cmds and not any(
        c.side is Side.BUY for c in places(cmds)
    )
    # The venue never had it: the slot frees and the bid is placed again.
    cmds = s.step(OrderNotFound(bid.client_id, s.now))
    assert s.mm.orders.get(bid.client_id).state is OrderState.REJECTED  # type: ignore[union-attr]
    assert by_side(cmds, Side.BUY).client_id != bid.client_id


def test_a_failed_query_is_retried_soon_backing_off_up_to_the_query_delay() -> None:
    # QA: after a burst of 500s, a query the venue failed was asked again only a whole
    # query delay (10 s live) later, holding the unknown quote and the quotes it would cross.
    # The first query waits the delay (a late copy of the place could still land before);
    # a failed query is past that point: 1 s, then 2 s, 4 s, ... up to the delay.
    s = Session()
    bid = by_side(s.snapshot(), Side.BUY)
    s.step(OutcomeUnknown(bid.client_id, "place", "timeout", s.now))
    cmds = s.step(Timer(s.now + 5_000), dt=5_000)
    assert QueryOrder(bid.client_id, SYM) in cmds
    for wait in (1_000, 2_000, 4_000, 5_000, 5_000):  # the delay is 5 s in this session
        s.step(OutcomeUnknown(bid.client_id, "query", "HTTP 500", s.now))
        before = s.step(Timer(s.now + wait - 1), dt=wait - 1)
        assert QueryOrder(bid.client_id, SYM) not in before
        cmds = s.step(Timer(s.now + 1), dt=1)
        assert QueryOrder(bid.client_id, SYM) in cmds, wait
    # Answered at last: resolved, and a later unknown of another kind waits the full delay.
    s.step(OrderNotFound(bid.client_id, s.now))
    assert s.mm.orders.get(bid.client_id).state is OrderState.REJECTED  # type: ignore[union-attr]


def test_kill_switch_cancels_all_once_and_resume_requotes() -> None:
    s, bid, ask = quoting_session()
    cmds = s.step(KillSwitch("operator", False, s.now))
    assert cmds == [CancelAll(SYM, "kill switch: operator")]
    for cid in (bid.client_id, ask.client_id):
        assert s.mm.orders.get(cid).state is OrderState.PENDING_CANCEL  # type: ignore[union-attr]
    assert s.step(Timer(s.now)) == []  # once
    assert s.mm.status(s.now).trading_state is TradingState.HALTED
    for cid in (bid.client_id, ask.client_id):
        s.step(CancelAccepted(cid, s.now))
    cmds = s.step(Resume("operator checked", s.now), dt=200)
    assert {p.side for p in places(cmds)} == {Side.BUY, Side.SELL}


def test_kill_switch_with_flatten_sends_reduce_only_ioc_within_slippage() -> None:
    s, bid, ask = quoting_session()
    s.fill(bid.client_id, Side.BUY, bid.price, 3, 3, 3)
    cmds = s.step(KillSwitch("flatten now", True, s.now))
    # Our ask is being cancelled: no flatten sell until it is gone (it could still fill).
    assert cmds == [CancelAll(SYM, "kill switch: flatten now")]
    cmds = s.step(CancelAccepted(ask.client_id, s.now))
    (flat,) = places(cmds)
    assert flat.side is Side.SELL and flat.reduce_only and flat.qty == 3
    assert flat.time_in_force is TimeInForce.IOC
    best_bid = MID - 1
    assert best_bid * (1 - 0.001) <= flat.price <= best_bid  # within 10 bps of the touch


def test_book_gap_cancels_quotes_until_a_new_snapshot() -> None:
    # The venue's sequencer found a gap: the core is told the book is invalid.
    s, bid, ask = quoting_session()
    cmds = s.step(BookInvalid(SYM, "depth gap: pu does not continue the chain", s.now))
    assert cmds == [CancelAll(SYM, cmds[0].reason)]  # type: ignore[union-attr]
    assert not s.mm.book.synced
    for cid in (bid.client_id, ask.client_id):
        s.step(CancelAccepted(cid, s.now))
    assert places(s.step(Timer(s.now), dt=500)) == []
    s.u = 500
    cmds = s.snapshot()
    assert {p.side for p in places(cmds)} == {Side.BUY, Side.SELL}


def test_a_crossed_book_asks_the_runtime_for_a_resync() -> None:
    s, _, _ = quoting_session()
    s.mm.drain_notices()
    crossing = BookDelta(SYM, ((MID + 50, 3),), (), s.now, seq=s.u + 1, prev_seq=s.u)
    s.step(crossing)
    assert not s.mm.book.synced
    resync = [n for n in s.mm.drain_notices() if n.kind == "book_resync"]
    assert len(resync) == 1 and "crossed" in resync[0].message


def test_book_invalid_event_halts() -> None:
    s, _, _ = quoting_session()
    cmds = s.step(BookInvalid(SYM, "resync", s.now))
    assert any(isinstance(c, CancelAll) for c in cmds)


def test_user_stream_down_pulls_quotes_and_stops_quoting() -> None:
    s, bid, ask = quoting_session()
    cmds = s.step(FeedStatus("user", False, "socket closed", s.now))
    assert set(cmds) == {CancelOrder(bid.client_id, SYM), CancelOrder(ask.client_id, SYM)}
    for cid in (bid.client_id, ask.client_id):
        s.step(CancelAccepted(cid, s.now))
    assert places(s.step(Timer(s.now), dt=500)) == []
    assert "user stream down" in s.mm.status(s.now).cannot_quote
    cmds = s.step(FeedStatus("user", True, "", s.now))
    assert len(places(cmds)) == 2


def test_stale_book_halts_at_the_deadline() -> None:
    s, _, _ = quoting_session()
    deadline = s.mm.next_deadline()
    assert deadline is not None
    last_update = s.now - 20  # snapshot plus two ack steps of 10 ms
    assert deadline <= last_update + 5_001
    cmds = s.step(Timer(last_update + 5_001), dt=last_update + 5_001 - s.now)
    assert any(isinstance(c, CancelAll) for c in cmds)


def test_inventory_at_hard_limit_quotes_only_the_reducing_side() -> None:
    s, bid, ask = quoting_session(
        limits=RiskLimits(
            max_position_lots=3,
            max_notional=Decimal(100_000),
            max_drawdown=Decimal(1_000),
            stale_book_ms=5_000,
            max_feed_latency_ms=60_000,
            max_orders_per_window=1_000,
        )
    )
    cmds = s.fill(bid.client_id, Side.BUY, bid.price, 3, 3, 3)
    # Long 3 of max 3: the bid slot (freed by the fill) is not re-quoted, the ask stays.
    assert not any(p.side is Side.BUY for p in places(cmds))
    cmds = s.step(Timer(s.now + 500), dt=500)
    assert not any(p.side is Side.BUY for p in places(cmds))
    assert s.mm.orders.get(ask.client_id).state is OrderState.OPEN  # type: ignore[union-attr]


def test_every_place_respects_worst_case_position() -> None:
    s = Session(
        limits=RiskLimits(
            max_position_lots=4,
            max_notional=Decimal(100_000),
            max_drawdown=Decimal(1_000),
            stale_book_ms=5_000,
            max_feed_latency_ms=60_000,
            max_orders_per_window=1_000,
        ),
        quote=replace(make_config().quote, levels=3, base_size_lots=2),
    )
    cmds = s.snapshot()
    buys = sum(p.qty for p in places(cmds) if p.side is Side.BUY)
    assert buys == 4  # a third 2-lot bid would make the worst case 6 > 4: refused
    assert any(n.kind == "reject" for n in s.mm.drain_notices())


def test_orphan_is_cancelled() -> None:
    s, bid, _ = quoting_session(use_amend=False)
    s.move(MID + 9, MID + 11, (MID - 1, MID + 1), dt=500)
    s.step(Timer(s.now + 1_000), dt=1_000)  # cancel times out: the slot goes to a new bid
    # The venue says the old bid is still open: it is live without a slot -> cancelled.
    upd = OrderUpdate(
        SYM,
        bid.client_id,
        1,
        Side.BUY,
        ExecType.NEW,
        OrderStatus.NEW,
        bid.price,
        3,
        0,
        TimeInForce.POST_ONLY,
        False,
        s.now,
    )
    cmds = s.step(upd)
    assert CancelOrder(bid.client_id, SYM) in cmds


def test_adopted_order_is_cancelled_and_position_adopted() -> None:
    s, _, _ = quoting_session()
    upd = OrderUpdate(
        SYM,
        "t0-99",
        5,
        Side.SELL,
        ExecType.NEW,
        OrderStatus.NEW,
        MID + 50,
        2,
        0,
        TimeInForce.POST_ONLY,
        False,
        s.now,
    )
    s.mm.adopt_order(upd, s.now)
    s.mm.adopt_position(-2, Decimal("60010.0"), s.now)
    assert s.mm.ledger.position_lots == -2
    cmds = s.step(Timer(s.now))
    assert CancelOrder("t0-99", SYM) in cmds


def test_reconfigure_is_atomic_and_keeps_state() -> None:
    s, bid, _ = quoting_session()
    s.fill(bid.client_id, Side.BUY, bid.price, 1, 1, 3)
    with pytest.raises(ParameterError):
        s.mm.reconfigure(make_config(cancel_deadline_ms=0), s.now)
    with pytest.raises(ParameterError):
        s.mm.reconfigure(replace(make_config(), instrument=replace(BTCUSDT, symbol="X")), s.now)
    assert s.mm.config.quote.min_half_spread_ticks == 5.0
    wider = replace(make_config().quote, min_half_spread_ticks=20.0, max_half_spread_ticks=20.0)
    cmds = s.mm.reconfigure(make_config(quote=wider), s.now + 500)
    assert {c.price for c in cmds if isinstance(c, AmendOrder)} >= {MID + 20}
    assert s.mm.ledger.position_lots == 1


def test_a_reload_lowering_the_drawdown_limit_below_the_drawdown_halts() -> None:
    """QA: `max_drawdown` lowered by SIGHUP below the drawdown already there was recorded as
    breached but never tripped the kill switch: the bot kept quoting, ACTIVE."""
    s, bid, _ = quoting_session()
    s.fill(bid.client_id, Side.BUY, bid.price, 3, 3, 3)
    s.move(MID - 1001, MID - 999, (MID - 1, MID + 1))  # down 100 USDT: 0.30 lost on 3 lots
    s.step(MarkPrice(SYM, Decimal("59900.0"), Decimal("59900.0"), Decimal(0), 0, s.now))
    status = s.mm.status(s.now)
    assert status.drawdown > Decimal("0.25")
    assert status.trading_state is TradingState.ACTIVE  # the limit is 1,000
    lowered = replace(make_config().limits, max_drawdown=Decimal("0.05"))
    cmds = s.mm.reconfigure(make_config(limits=lowered), s.now + 10)
    cmds += s.step(Timer(s.now + 10))
    status = s.mm.status(s.now)
    assert status.trading_state is TradingState.HALTED
    assert "drawdown" in status.reason and "exceeds the limit 0.05" in status.reason
    assert any(isinstance(c, CancelAll) for c in cmds)


def test_status_snapshot() -> None:
    s, bid, _ = quoting_session()
    st = s.mm.status(s.now)
    assert st.trading_state is TradingState.ACTIVE and st.book_synced
    assert (st.best_bid, st.best_ask) == (MID - 1, MID + 1)
    assert {q.client_id for q in st.quotes} >= {bid.client_id}
    assert st.sigma_source == "fallback" and st.intensity_source == "fallback"
    assert st.cannot_quote == ""


def test_config_validation_names_the_field() -> None:
    with pytest.raises(ParameterError, match="query_delay_ms"):
        make_config(query_delay_ms=0)
    with pytest.raises(ParameterError, match="flatten_slippage_bps"):
        make_config(flatten_slippage_bps=float("nan"))


def test_new_quote_never_crosses_our_own_resting_order() -> None:
    s, _, ask = quoting_session()
    # The book jumps through our ask (MID+5): the bid's new target MID+5 would meet it, so
    # the bid waits while the ask is amended up; the ask's amend is sent.
    cmds = s.move(MID + 9, MID + 11, (MID - 1, MID + 1), dt=500)
    amended = {c.client_id for c in cmds if isinstance(c, AmendOrder)}
    assert amended == {ask.client_id}
    assert any("cross our own order" in n.message for n in s.mm.drain_notices())
    # while the ask's amend is in flight the bid keeps being held back: said once, not per step
    for _ in range(5):
        s.step(Timer(s.now), dt=200)
    assert not any("cross our own order" in n.message for n in s.mm.drain_notices())


def test_absorbed_market_data_updates_state_and_the_next_step_plans_on_it() -> None:
    s, bid, _ = quoting_session(use_amend=True)
    # three diffs arrive together: the book moves up 30 ticks in steps of 10
    old = (MID - 1, MID + 1)
    for k in (10, 20, 30):
        prev, s.u = s.u, s.u + 1
        d = BookDelta(
            SYM, ((old[0], 0), (MID - 1 + k, 10)), ((old[1], 0), (MID + 1 + k, 10)), s.now,
            seq=s.u, prev_seq=prev,
        )  # fmt: skip
        old = (MID - 1 + k, MID + 1 + k)
        if k < 30:
            s.mm.apply(d, s.now)  # nothing planned, nothing sent
        else:
            cmds = s.step(d, dt=500)
    assert s.mm.book.best_bid() == (MID - 1 + 30, 10)
    moved = [c for c in cmds if isinstance(c, AmendOrder | CancelOrder | PlaceOrder)]
    assert moved, "the step after the burst requotes on the newest book"
    for c in moved:
        if isinstance(c, AmendOrder) and c.side is Side.BUY:
            assert c.price > bid.price  # planned on the moved market, not the old one


def test_events_applied_in_a_burst_are_decided_on_once() -> None:
    # The runtime applies a burst, then decides once: applying sends nothing.
    s, _, _ = quoting_session()
    s.mm.apply(KillSwitch("operator", False, s.now), s.now)
    s.mm.apply(Timer(s.now), s.now)
    cmds = s.mm.decide(s.now)
    assert any(isinstance(c, CancelAll) for c in cmds)  # the kill, decided on
    assert s.mm.decide(s.now) == []  # and decided once


def test_a_local_risk_refusal_says_the_order_in_the_screens_units() -> None:
    """QA on the Extended paper bot: the log said ``local risk refused SELL 3@281590`` (lots
    and ticks); it says the size and price as everywhere else."""
    s = Session()
    s.snapshot()
    s.step(KillSwitch("test", False, s.now))
    s.mm.drain_notices()
    out: list[Command] = []
    s.mm.emitter.place((Side.SELL, 0), Side.SELL, MID + 7, 3, s.now, out)
    assert out == []
    (notice,) = [n for n in s.mm.drain_notices() if n.kind == "reject"]
    assert notice.message.startswith("local risk refused SELL 0.003 BTC @ 60000.70: ")
