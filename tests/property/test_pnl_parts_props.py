"""Printed P&L parts add up to printed equity, each within a cent of its true value."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from hypothesis import given
from hypothesis import strategies as st

from mmtrio import units
from mmtrio.core.events import Fill
from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.ledger import Ledger
from tests.strategies import consistent_ledger, ledger_fills, ledger_marks

CENT = Decimal("0.01")
money = st.decimals(min_value=-(10**7), max_value=10**7, places=6)


def truthful(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_EVEN)


def assert_printed(printed: list[Decimal], parts: list[Decimal], total: Decimal) -> None:
    assert sum(printed, Decimal(0)) == total
    for p, true in zip(printed, parts, strict=True):
        assert p == p.quantize(CENT), p  # a whole number of cents
        assert abs(p - true) < CENT, (p, true)


@given(st.lists(money, min_size=1, max_size=8))
def test_any_parts_add_up_to_the_truthfully_rounded_total(parts: list[Decimal]) -> None:
    total = truthful(sum(parts, Decimal(0)))
    assert_printed(units.apportion(total, parts), parts, total)


@given(st.lists(money, min_size=1, max_size=8), st.integers(-1, 1))
def test_any_total_under_a_cent_away_is_reached(parts: list[Decimal], shift: int) -> None:
    # The second step of pnl_parts apportions a total that is itself rounded (within a cent).
    true_sum = sum(parts, Decimal(0))
    total = truthful(true_sum) + shift * CENT
    if abs(total - true_sum) >= CENT:
        return
    assert_printed(units.apportion(total, parts), parts, total)


def assert_pnl_adds_up(pnl: units.PnlParts, true: units.PnlParts) -> None:
    assert pnl.equity == truthful(true.equity)
    assert sum(list(pnl.pnl().values())[1:], Decimal(0)) == pnl.equity
    assert sum(pnl.attribution().values(), Decimal(0)) == pnl.equity
    for name in units.PnlParts.__slots__:
        shown, exact = getattr(pnl, name), getattr(true, name)
        assert abs(shown - exact) < CENT, (name, shown, exact)


@given(money, money, money, money, money, money)
def test_both_splits_add_up_to_equity_as_printed(
    realised: Decimal,
    unrealised: Decimal,
    fees: Decimal,
    funding: Decimal,
    spread: Decimal,
    recon: Decimal,
) -> None:
    led = consistent_ledger(
        realised=realised,
        unrealised=unrealised,
        fees=fees,
        funding=funding,
        spread_capture=spread,
        reconciliation_pnl=recon,
    )
    true = units.PnlParts(
        led.equity,
        realised,
        unrealised,
        -fees,
        funding,
        spread,
        led.inventory_pnl,
        recon,
    )
    assert_pnl_adds_up(units.ledger_pnl(led), true)


@given(
    fills=ledger_fills(),
    mark=ledger_marks,
    funding=st.lists(money, max_size=3),
    reconcile=st.none() | st.tuples(st.integers(-5_000, 5_000), ledger_marks),
)
def test_a_real_ledger_prints_parts_that_add_up(
    fills: list[tuple[Fill, Decimal | None]],
    mark: int,
    funding: list[Decimal],
    reconcile: tuple[int, int] | None,
) -> None:
    led = Ledger(BTCUSDT)
    for f, mid in fills:
        led.on_fill(f, mid)
    for i, amount in enumerate(funding):
        led.on_funding(amount, ts=i)
    if reconcile is not None:
        led.set_position(reconcile[0], BTCUSDT.ticks_to_price(reconcile[1]))
    led.mark(BTCUSDT.ticks_to_price(mark))
    s = led.snapshot()
    true = units.PnlParts(
        s.equity,
        s.realised,
        s.unrealised,
        -s.all_fees,
        s.funding,
        s.spread_capture,
        s.inventory_pnl,
        s.reconciliation_pnl,
    )
    assert_pnl_adds_up(units.ledger_pnl(s), true)
