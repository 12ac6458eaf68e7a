"""Skipping a plan nothing new feeds: it happens, and it changes no decision."""

from __future__ import annotations

from mmtrio.core.client_ids import ClientIdGenerator
from mmtrio.core.commands import Command, PlaceOrder
from mmtrio.core.events import BookDelta, BookSnapshot, Event, Trade
from mmtrio.core.strategy import MarketMaker
from mmtrio.venues.binance.client_ids import client_id_format
from tests.unit.test_strategy import MID, make_config, quoting_session
from tests.unit.test_strategy_replay import AckVenue, recorded_events


def test_a_diff_below_the_touch_is_not_planned_on_and_a_touch_change_is() -> None:
    s, _, _ = quoting_session()
    s.mm.gate.skipped = 0
    plans = s.mm.gate.plans
    # A level deep in the book changes: nothing the quotes depend on moved.
    assert s.diff(((MID - 30, 7),), ((MID + 30, 7),), dt=500) == []
    assert s.mm.gate.skipped == 1 and s.mm.gate.plans == plans
    # The touch size changes (the microprice reads it): planned again; the same quotes come
    # out, so their reconciliation against the same orders is skipped.
    reconciles_skipped = s.mm.gate.reconciles_skipped
    assert s.diff(((MID - 1, 4),), (), dt=10) == []
    assert s.mm.gate.plans == plans + 1
    assert s.mm.gate.reconciles_skipped == reconciles_skipped + 1
    # The touch moves by 20 ticks: planned, and the quotes are amended.
    cmds = s.move(MID + 19, MID + 21, (MID - 1, MID + 1), dt=500)
    assert cmds and s.mm.gate.plans == plans + 2


def _replay(mm: MarketMaker) -> list[tuple[int, Command]]:
    """The recorded replay of test_strategy_replay (acks and fills included); every command."""
    venue = AckVenue()
    sent: list[tuple[int, Command]] = []
    now = 0

    def run(event: Event) -> None:
        cmds = mm.step(event, now)
        sent.extend((now, c) for c in cmds)
        for ev in venue.answer(cmds, now):
            run(ev)

    for event in recorded_events(20):
        if isinstance(event, BookSnapshot | BookDelta | Trade):
            now = max(now, event.ts)
        run(event)
        if isinstance(event, Trade):
            for ev in venue.on_trade(event, now):
                run(ev)
    return sent


def test_skipping_changes_no_decision_on_the_recorded_market() -> None:
    """The same 20 s of recorded BTCUSDT, acks and fills, with and without skipping: the
    commands (ids, prices, sizes, times) are identical, and most decisions were skipped."""
    skipping = MarketMaker(make_config(), ClientIdGenerator(client_id_format("r"), 1))
    planning = MarketMaker(make_config(), ClientIdGenerator(client_id_format("r"), 1))
    planning.gate.enabled = False
    a, b = _replay(skipping), _replay(planning)
    assert a == b
    assert sum(isinstance(c, PlaceOrder) for _, c in a) > 10
    assert planning.gate.skipped == 0 and planning.gate.reconciles_skipped == 0
    assert skipping.gate.reconciles_skipped > 0
    assert skipping.gate.skipped > skipping.gate.plans  # the book mostly moves below the touch


def test_a_reloaded_emitter_config_reconciles_the_same_quotes_again() -> None:
    """The same desired quotes under a new reprice tolerance are reconciled: a quote 1 tick
    off, kept under a tolerance of 2, is amended once the tolerance is 0."""
    s, _, _ = quoting_session()
    # The touch moves up 1 tick: the quotes want 1 tick higher, within the tolerance: kept.
    assert s.move(MID, MID + 2, (MID - 1, MID + 1), dt=500) == []
    assert s.mm.gate.settled is not None
    cmds = s.mm.reconfigure(make_config(reprice_tolerance_ticks=0), s.now + 10)
    assert sorted(type(c).__name__ for c in cmds) == ["AmendOrder", "AmendOrder"]
