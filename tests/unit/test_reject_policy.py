"""The reject policy: one rule per reject kind, and no kind loops at requote pace."""

from __future__ import annotations

import pytest

from mmtrio.core.commands import CancelAll, Command, PlaceOrder
from mmtrio.core.events import AmendRejected, PlaceAccepted, PlaceRejected, Side
from mmtrio.core.reject_policy import (
    BACKOFF_BASE_MS,
    BACKOFF_MAX_MS,
    MARGIN_HOLD_MAX_MS,
    MARGIN_HOLD_MS,
    POLICY,
    MarginHold,
    RejectRule,
    SlotBackoff,
    rule_for,
)
from mmtrio.core.rejects import RejectKind
from mmtrio.core.risk import TradingState
from tests.unit.test_strategy import Session, by_side

BID = (Side.BUY, 0)
ASK = (Side.SELL, 0)


def placed_on(cmds: list[Command], side: Side) -> list[PlaceOrder]:
    return [c for c in cmds if isinstance(c, PlaceOrder) and c.side is side]


# --- the pure parts --------------------------------------------------------------------------


def test_every_reject_kind_has_a_rule() -> None:
    assert set(POLICY) == set(RejectKind)
    assert rule_for(RejectKind.AUTH) is RejectRule.STOP
    assert rule_for(RejectKind.INSUFFICIENT_MARGIN) is RejectRule.MARGIN_HOLD
    assert rule_for(RejectKind.POSITION_SIDE) is RejectRule.HALT
    assert rule_for(RejectKind.REDUCE_ONLY) is RejectRule.RECONCILE
    assert rule_for(RejectKind.UNKNOWN) is RejectRule.BACKOFF


def test_slot_backoff_doubles_up_to_its_cap_and_an_accept_clears_it() -> None:
    b = SlotBackoff()
    delays = [b.on_reject(BID, 0) for _ in range(9)]
    assert delays[:4] == [BACKOFF_BASE_MS, 2 * BACKOFF_BASE_MS, 4_000, 8_000]
    assert delays[-1] == BACKOFF_MAX_MS and max(delays) == BACKOFF_MAX_MS
    assert b.until(BID) == BACKOFF_MAX_MS and b.until(ASK) is None
    b.on_accept(BID)
    assert b.until(BID) is None
    assert b.on_reject(BID, 500) == BACKOFF_BASE_MS  # a fresh start after the accept


def test_tolerated_strikes_back_off_only_after_the_free_ones() -> None:
    b = SlotBackoff()
    assert [b.strike(BID, 0, 2) for _ in range(4)] == [None, None, 1_000, 1_000]  # flat
    b.on_accept(BID)
    assert b.strike(BID, 0, 2) is None  # an accept starts the count again


def test_slot_backoff_moves_only_backed_off_slots_in_the_pacing_map() -> None:
    b = SlotBackoff()
    last = {BID: 100, ASK: 100}
    assert b.paced(last, 100) is last  # nothing backed off: the same map
    b.on_reject(BID, 200)  # until 1,200
    paced = b.paced(last, 100)
    assert paced[BID] + 100 == 1_200  # requote pacing holds the slot to its deadline
    assert paced[ASK] == 100
    assert last == {BID: 100, ASK: 100}  # the caller's map is not changed
    later = b.paced({BID: 5_000}, 100)
    assert later[BID] == 5_000  # a later action is never moved back


def test_margin_hold_doubles_on_a_repeat_and_starts_over_after_a_quiet_spell() -> None:
    h = MarginHold()
    assert h.active(0) is None
    assert h.hold(0, "balance low") == MARGIN_HOLD_MS
    reason = h.active(10_000)
    assert reason == "insufficient margin (balance low): reducing only for 20 s more"
    assert h.active(MARGIN_HOLD_MS) is None  # the hold ended
    assert h.hold(MARGIN_HOLD_MS + 1, "again") == 2 * MARGIN_HOLD_MS  # refused soon after
    t = MARGIN_HOLD_MS + 1
    for _ in range(10):
        t += 1
        last = h.hold(t, "again")
    assert last == MARGIN_HOLD_MAX_MS
    assert h.hold(t + 10 * MARGIN_HOLD_MAX_MS, "much later") == MARGIN_HOLD_MS


# --- the policy in the strategy ----------------------------------------------------------------


def test_an_invalid_price_refusal_backs_the_slot_off_doubling_then_resets() -> None:
    s = Session()
    bid = by_side(s.snapshot(), Side.BUY)
    ask = next(o for o in s.mm.orders.live_orders() if o.side is Side.SELL)
    s.step(PlaceAccepted(ask.client_id, 2, s.now))
    tried: list[int] = []
    cid = bid.client_id
    for _ in range(4):  # four refusals in a row
        s.step(PlaceRejected(cid, RejectKind.INVALID_PRICE, "-4014", "price not increased", s.now))
        refused_at = s.now
        for _ in range(200):  # a book update every 100 ms (the requote pace), until re-placed
            again = placed_on(s.diff(dt=100), Side.BUY)
            if again:
                tried.append(s.now - refused_at)
                cid = again[0].client_id
                break
        else:
            raise AssertionError("the bid was never placed again")
    assert tried == [1_000, 2_000, 4_000, 8_000]  # 1 s doubling, not every 100 ms
    notes = [n.message for n in s.mm.drain_notices() if n.kind == "alert"]
    assert any("backs off 8 s" in m for m in notes)
    # In words, not the reject kind's enum value.
    assert "slot BUY L0 backs off 8 s after a refusal: the price is not accepted (-4014)" in notes
    s.step(PlaceAccepted(cid, 3, s.now))  # accepted: the next refusal starts at 1 s again
    assert s.mm.emitter.backoff.until(BID) is None
    assert s.mm.emitter.backoff.until(ASK) is None  # the ask was never refused


@pytest.mark.parametrize("kind", list(RejectKind), ids=lambda k: k.value)
def test_no_reject_kind_loops_at_requote_pace(kind: RejectKind) -> None:
    """The venue refuses every bid for 20 s of book updates every 100 ms (the requote pace):
    a loop would re-place ~200 times."""
    s = Session()
    bid = by_side(s.snapshot(), Side.BUY)
    cids = [bid.client_id]
    attempts = 1
    for _ in range(200):
        cmds = s.step(PlaceRejected(cids[-1], kind, "x", "refused", s.now)) if cids else []
        cids = []
        cmds += s.diff(dt=100)
        again = placed_on(cmds, Side.BUY)
        attempts += len(again)
        cids = [c.client_id for c in again]
    # BACKOFF: 1+2+4+8 s → 5 places in 20 s; a margin hold or a halt: one. WIDEN: one per
    # safety step (0→1→2→4→8 ticks), two tolerated at the widest, then one a second.
    limit = 30 if kind is RejectKind.WOULD_CROSS else 6
    assert attempts <= limit, f"{kind.value}: {attempts} places in 20 s"


def test_insufficient_margin_goes_reducing_only_for_a_hold_with_the_reason() -> None:
    s = Session()
    bid = by_side(s.snapshot(), Side.BUY)
    s.step(PlaceRejected(bid.client_id, RejectKind.INSUFFICIENT_MARGIN, "-2019", "margin", s.now))
    s.step(PlaceAccepted(next(o.client_id for o in s.mm.orders.live_orders()), 2, s.now))
    st = s.mm.status(s.now)
    assert st.trading_state is TradingState.REDUCING_ONLY
    assert st.reason == "insufficient margin (margin): reducing only for 30 s more"
    alerts = [n.message for n in s.mm.drain_notices() if n.kind == "alert"]
    assert any("reducing only for 30 s" in m and "leverage" in m for m in alerts)
    assert not s.mm.orders.live_orders() or all(
        o.state.value != "OPEN" for o in s.mm.orders.live_orders()
    )  # the ask (flat: it does not reduce) is being pulled
    # Flat: reducing only means no quote at all; none is sent during the hold.
    sent = [c for _ in range(290) for c in s.diff(dt=100)]
    assert placed_on(sent, Side.BUY) == [] and placed_on(sent, Side.SELL) == []
    sent = [c for _ in range(20) for c in s.diff(dt=100)]
    assert placed_on(sent, Side.BUY)  # the hold ended: quoting again
    assert s.mm.status(s.now).trading_state is TradingState.ACTIVE


def test_an_auth_refusal_latches_the_kill_switch_and_asks_to_stop() -> None:
    s = Session()
    bid = by_side(s.snapshot(), Side.BUY)
    s.mm.drain_notices()
    cmds = s.step(PlaceRejected(bid.client_id, RejectKind.AUTH, "-2015", "Invalid API-key", s.now))
    assert placed_on(cmds, Side.BUY) == [] and placed_on(cmds, Side.SELL) == []
    assert any(isinstance(c, CancelAll) for c in cmds)  # the halt pulls what is left
    st = s.mm.status(s.now)
    assert st.trading_state is TradingState.HALTED and "API credentials" in st.reason
    fatal = [n for n in s.mm.drain_notices() if n.kind == "fatal"]
    assert len(fatal) == 1 and "IP allow-list" in fatal[0].message
    assert "-2015" in fatal[0].message


def test_a_position_side_refusal_halts_naming_the_fix() -> None:
    s = Session()
    bid = by_side(s.snapshot(), Side.BUY)
    s.step(PlaceRejected(bid.client_id, RejectKind.POSITION_SIDE, "-4061", "side", s.now))
    st = s.mm.status(s.now)
    assert st.trading_state is TradingState.HALTED and "one-way" in st.reason
    sent = [c for _ in range(50) for c in s.diff(dt=100)]
    assert placed_on(sent, Side.BUY) == [] and placed_on(sent, Side.SELL) == []
    # A plain kill latch: the operator fixes the account and resumes without an override.
    assert s.mm.risk.resume("operator: switched to one-way").accepted


def test_a_reduce_only_refusal_asks_for_reconciliation_and_backs_off() -> None:
    s = Session()
    s.snapshot()
    order = next(o for o in s.mm.orders.live_orders() if o.side is Side.SELL)
    s.step(PlaceRejected(order.client_id, RejectKind.REDUCE_ONLY, "-2022", "reduce only", s.now))
    kinds = [n.kind for n in s.mm.drain_notices()]
    assert "reconcile_request" in kinds
    assert s.mm.emitter.backoff.until(ASK) == s.now + 1_000


def test_a_refused_amend_backs_off_too() -> None:
    s = Session()
    bid = by_side(s.snapshot(), Side.BUY)
    s.step(PlaceAccepted(bid.client_id, 1, s.now))
    s.step(AmendRejected(bid.client_id, RejectKind.INVALID_SIZE, "-4003", "qty", s.now))
    assert s.mm.emitter.backoff.until(BID) == s.now + 1_000
