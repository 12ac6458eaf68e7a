"""Fees paid in another asset than the quote (Binance's BNB discount) are in equity at that
asset's price, once the runtime feeds one (issue 13); until then they are outside it and the
ledger says which (never a silent 0). A restart values them at the price journaled."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from mmtrio.core.events import Side
from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.ledger import Ledger
from mmtrio.core.loss_limits import LimitsState
from mmtrio.errors import ParameterError
from mmtrio.units import unpriced_fees
from tests.unit.test_ledger import attribution_sum, fill


def _ledger() -> Ledger:
    led = Ledger(BTCUSDT)
    led.on_fill(fill(1, Side.BUY, "60000", "0.010", fee="0.12"), D("60000"))  # USDT fee
    led.on_fill(fill(2, Side.SELL, "60010", "0.010", fee="0.0002", fee_asset="BNB"), D("60005"))
    return led


def test_a_bnb_fee_is_outside_equity_and_named_until_a_price_is_fed() -> None:
    led = _ledger()
    # realised 0.1, minus the USDT fee 0.12: the BNB fee is not counted, and said so
    assert led.equity() == D("0.1") - D("0.12")
    snap = led.snapshot()
    assert snap.unpriced_fees == (("BNB", D("0.0002")),)
    assert snap.other_fees_value == 0
    assert led.fee_assets() == ("BNB",)
    assert unpriced_fees(snap.unpriced_fees) == (
        "equity excludes 0.0002 BNB of fees (no BNB price yet)"
    )


def test_a_bnb_fee_is_in_equity_at_the_price_and_moves_with_it() -> None:
    led = _ledger()
    led.on_asset_price("BNB", D("600"))
    assert led.equity() == D("0.1") - D("0.12") - D("0.12")  # 0.0002 BNB at 600
    snap = led.snapshot()
    assert snap.unpriced_fees == () and unpriced_fees(snap.unpriced_fees) is None
    assert snap.other_fees_value == D("0.12") and snap.all_fees == D("0.24")
    assert attribution_sum(snap) == snap.equity  # the parts still sum exactly
    assert snap.attribution["fees"] == D("-0.24")
    led.on_asset_price("BNB", D("700"))  # BNB's mark moved: so does equity
    assert led.equity() == D("0.1") - D("0.12") - D("0.14")
    assert led.equity_at(None) == D("-0.16")  # flat: the same with the position unvalued


def test_a_bad_asset_price_is_refused_naming_it() -> None:
    led = _ledger()
    with pytest.raises(ParameterError, match="BNB price must be positive"):
        led.on_asset_price("BNB", D("0"))
    with pytest.raises(ParameterError, match="USDT is the quote asset"):
        led.on_asset_price("USDT", D("1"))


def test_the_journaled_risk_state_keeps_the_price_the_fees_were_valued_at() -> None:
    state = LimitsState(
        ts=1, total=D("-0.24"), position_lots=0, valued_at=None, peak=D(0), day=0,
        day_start=D(0), cumulative_base=D(0), asset_prices=(("BNB", D("600")),),
    )  # fmt: skip
    again = LimitsState.from_json(state.to_json())
    assert again.asset_prices == (("BNB", D("600")),)
    bad = state.to_json() | {"asset_prices": {"BNB": "-1"}}
    with pytest.raises(ParameterError, match="asset price is not positive"):
        LimitsState.from_json(bad)
