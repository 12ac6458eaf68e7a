"""Ledger properties: value is conserved, duplicates are booked once, attribution adds up."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from mmtrio.core.events import Fill
from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.ledger import Ledger, LedgerSnapshot
from tests.strategies import ledger_fills, ledger_marks

FillSeq = list[tuple[Fill, Decimal | None]]


def book(fills: FillSeq) -> Ledger:
    led = Ledger(BTCUSDT)
    for f, mid in fills:
        led.on_fill(f, mid)
    return led


def numbers(s: LedgerSnapshot) -> tuple[object, ...]:
    """Every economic number of a snapshot (the dedupe counters left out)."""
    return (
        s.position_lots,
        s.entry_price,
        s.cash,
        s.realised,
        s.unrealised,
        s.fees,
        s.equity,
        s.spread_capture,
        s.inventory_pnl,
        s.fills,
        s.volume_lots,
    )


@given(fills=ledger_fills(), marks=st.lists(ledger_marks, min_size=1, max_size=4))
def test_value_is_conserved_at_any_mark(fills: FillSeq, marks: list[int]) -> None:
    led = Ledger(BTCUSDT)
    signed = 0
    for f, mid in fills:
        led.on_fill(f, mid)
        signed += f.side.sign * f.qty
        assert led.position_lots == signed
        for m in marks:
            price = BTCUSDT.ticks_to_price(m)
            led.mark(price)
            s = led.snapshot()
            assert s.realised + s.unrealised == s.cash + s.position_qty * price
            assert s.equity == s.realised + s.unrealised - s.fees + s.funding
            if s.position_lots == 0:
                assert s.entry_price == 0
                assert s.realised == s.cash
            else:
                assert s.entry_price > 0


@given(fills=ledger_fills())
def test_entry_price_matches_exact_average_cost(fills: FillSeq) -> None:
    led = Ledger(BTCUSDT)
    pos = 0
    entry = Fraction(0)
    for f, mid in fills:
        led.on_fill(f, mid)
        price = Fraction(BTCUSDT.ticks_to_price(f.price))
        delta = f.side.sign * f.qty
        if pos == 0 or (pos > 0) == (delta > 0):
            entry = (entry * pos + price * delta) / (pos + delta)
        elif abs(delta) > abs(pos):
            entry = price
        elif abs(delta) == abs(pos):
            entry = Fraction(0)
        pos += delta
        # The only rounding is the 1e-10 quantum; repeated averaging cannot compound past it
        # by more than the number of fills.
        assert abs(Fraction(led.entry_price) - entry) <= Fraction(len(fills), 10**10)


@given(fills=ledger_fills(), data=st.data())
def test_duplicates_are_booked_once(fills: FillSeq, data: st.DataObject) -> None:
    clean = book(fills)
    # Inject re-deliveries of already-seen fills at random later positions.
    noisy: FillSeq = []
    dupes = 0
    for i, item in enumerate(fills):
        noisy.append(item)
        for _ in range(data.draw(st.integers(min_value=0, max_value=2))):
            noisy.append(fills[data.draw(st.integers(min_value=0, max_value=i))])
            dupes += 1
    led = Ledger(BTCUSDT)
    accepted = sum(led.on_fill(f, mid) for f, mid in noisy)
    assert accepted == len(fills)
    assert numbers(led.snapshot()) == numbers(clean.snapshot())
    assert led.snapshot().duplicate_fills == dupes


@given(
    fills=ledger_fills(),
    mark=ledger_marks,
    funding=st.lists(st.integers(min_value=-10_000, max_value=10_000), max_size=3),
    reconcile=st.none() | st.tuples(st.integers(-5_000, 5_000), ledger_marks),
)
def test_attribution_parts_sum_to_equity(
    fills: FillSeq, mark: int, funding: list[int], reconcile: tuple[int, int] | None
) -> None:
    led = book(fills)
    for i, cents in enumerate(funding):
        led.on_funding(Decimal(cents).scaleb(-2), ts=i)
    if reconcile is not None:
        lots, entry_ticks = reconcile
        led.set_position(lots, BTCUSDT.ticks_to_price(entry_ticks))
    led.mark(BTCUSDT.ticks_to_price(mark))
    s = led.snapshot()
    assert sum(s.attribution.values(), Decimal(0)) == s.equity == led.equity()
    assert s.spread_capture + s.inventory_pnl == s.trading_pnl
    assert s.realised + s.unrealised == s.cash + s.position_qty * BTCUSDT.ticks_to_price(mark)
