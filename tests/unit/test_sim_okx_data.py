"""The shipped recordings said as OKX swaps: the same ticks and lots, OKX's units."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mmtrio.core.instruments import BTCUSDT, ETHUSDT, Instrument
from mmtrio.errors import ConfigError
from mmtrio.sim.okx.data import okx_instrument


def test_btc_and_eth_in_contracts_with_the_same_integers() -> None:
    btc = okx_instrument(BTCUSDT)
    assert (btc.symbol, btc.tick_size, btc.lot_size, btc.contract_size) == (
        "BTC-USDT-SWAP", Decimal("0.1"), Decimal("0.1"), Decimal("0.01"),
    )  # fmt: skip
    # One engine lot is one OKX lot: the same BTC and the same money.
    assert btc.base_per_lot == BTCUSDT.base_per_lot == Decimal("0.001")
    assert btc.qty_str(5) == "0.5" and BTCUSDT.qty_str(5) == "0.005"
    assert btc.price_str(281451) == "28145.1"
    assert btc.ticks_to_price(281451) == BTCUSDT.ticks_to_price(281451)
    assert btc.notional(281451, 5) == BTCUSDT.notional(281451, 5)
    eth = okx_instrument(ETHUSDT)
    assert (eth.symbol, eth.lot_size, eth.contract_size) == ("ETH-USDT-SWAP", Decimal("0.01"),
                                                             Decimal("0.1"))  # fmt: skip


def test_a_base_without_okx_rules_is_refused() -> None:
    doge = Instrument("DOGEUSDT", Decimal("0.00001"), Decimal(1), 1, 10, Decimal(5),
                      base_asset="DOGE")  # fmt: skip
    with pytest.raises(ConfigError, match="no OKX contract value"):
        okx_instrument(doge)
