"""The shipped recordings re-expressed as OKX swaps: exact, or refused."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mmtrio.core.events import BookDelta, BookSnapshot, MarkPrice, Trade
from mmtrio.core.instruments import BTCUSDT, ETHUSDT, Instrument
from mmtrio.errors import ConfigError
from mmtrio.sim.okx.data import reexpression


def test_btc_and_eth_keep_price_value_and_base_quantity() -> None:
    inst, conv = reexpression(BTCUSDT)
    assert (inst.symbol, inst.tick_size, inst.lot_size, inst.contract_size) == (
        "BTC-USDT-SWAP", Decimal("0.1"), Decimal("0.01"), Decimal("0.01"),
    )  # fmt: skip
    delta = BookDelta("BTCUSDT", ((281451, 5),), ((281452, 0),), 10, 7, 6, 7)
    out = conv(delta)
    assert isinstance(out, BookDelta)
    assert out.bids == ((281451, 50),) and out.asks == ((281452, 0),) and out.seq == 7
    # The same money and the same BTC on both grids.
    assert inst.ticks_to_price(out.bids[0][0]) == BTCUSDT.ticks_to_price(281451)
    assert inst.lots_to_base(50) == BTCUSDT.lots_to_base(5) == Decimal("0.005")
    trade = conv(Trade("BTCUSDT", 9, 281451, 2, True, 11))
    assert trade == Trade("BTC-USDT-SWAP", 9, 281451, 20, True, 11)
    snap = conv(BookSnapshot("BTCUSDT", ((1, 1),), (), 1, 3))
    assert isinstance(snap, BookSnapshot) and snap.symbol == "BTC-USDT-SWAP"
    mark = conv(MarkPrice("BTCUSDT", Decimal(1), Decimal(1), Decimal(0), 0, 0))
    assert isinstance(mark, MarkPrice) and mark.symbol == "BTC-USDT-SWAP"
    eth, conv_eth = reexpression(ETHUSDT)
    assert eth.symbol == "ETH-USDT-SWAP" and eth.base_per_lot == Decimal("0.001")
    t = conv_eth(Trade("ETHUSDT", 1, 250000, 3, False, 1))
    assert isinstance(t, Trade) and (t.price, t.qty) == (250000, 3)


def test_unknown_base_or_an_unfit_grid_is_refused() -> None:
    doge = Instrument("DOGEUSDT", Decimal("0.00001"), Decimal(1), 1, 10, Decimal(5),
                      base_asset="DOGE")  # fmt: skip
    with pytest.raises(ConfigError, match="no OKX swap rules"):
        reexpression(doge)
    fine_btc = Instrument("BTCUSDT", Decimal("0.01"), Decimal("0.001"), 1, 10, Decimal(5),
                          base_asset="BTC")  # fmt: skip
    with pytest.raises(ConfigError, match="tick"):
        reexpression(fine_btc)
