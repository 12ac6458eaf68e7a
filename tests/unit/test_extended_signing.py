"""Extended's Stark order signature: known answers from the official SDK, and the SDK as oracle.

The vectors are the frozen-time, frozen-nonce orders of the SDK's own test
(``x10-python-trading-starknet``: tests/signing/order_object/test_limit_order_object.py,
``test_create_sell_order`` and ``test_create_buy_order``): account vault 10002 with the
test key pair, market BTC-USD of the SDK's fixture (asset ids and resolutions below),
testnet domain, nonce 1473459052, expiry 2024-01-05 01:08:56.860694 + 14 days. The SDK
prints the order hash as the order ``id`` and the signature as ``settlement.signature``.
"""

from __future__ import annotations

import builtins
import datetime as dt
from decimal import Decimal
from typing import Any, Literal

import pytest

from mmtrio.errors import ConfigError
from mmtrio.venues.extended import signing
from mmtrio.venues.extended.signing import (
    TESTNET_DOMAIN,
    L2Assets,
    StarkKey,
    settlement_amounts,
    verify,
)

PRIVATE = "0x7a7ff6fd3cab02ccdcd4a572563f5976f8976899b03a39773795a3c486d4986"
PUBLIC = 0x61C5E7E8339B7D56F197F54EA91B776776690E3232313DE0F2ECBD0EF76F466
BTC_USD = L2Assets(
    synthetic_id=0x4254432D3600000000000000000000,
    synthetic_resolution=1_000_000,
    collateral_id=0x31857064564ED0FF978E687456963CBA09C2C6985D8F9300A1DE4962FAFA054,
    collateral_resolution=1_000_000,
)
NONCE = 1473459052
EXPIRY_MS = 1705626536861  # what the SDK prints as expiryEpochMillis for these orders
QTY, PRICE, FEE = Decimal("0.00100000"), Decimal("43445.11680000"), Decimal("0.0005")

KNOWN = {
    "SELL": (
        (-1000, 43445116, 21723),
        2969335148777495210033041829700798003994871688044444919524700744667647811801,
        0x604EF07147D4251385EAAA630E6A71DB8F0A8C7CB33021C98698047DB80EDFA,
        0x6C707D9A06604D3F8FFD34378BF4FCE7C0AAF50CBA4CF37C3525C323106CDA5,
    ),
    "BUY": (
        (1000, -43445117, 21723),
        2495374044666992118771096772295242242651427695217815113349321039194683172848,
        0xA55625C7D5F1B85BED22556FC805224B8363074979CF918091D9DDB1403E13,
        0x504CAF634D859E643569743642CCF244434322859B2421D76F853AF43AE7A46,
    ),
}


@pytest.mark.parametrize("side", ["SELL", "BUY"])
def test_order_hash_and_signature_match_the_sdk_vectors(side: Any) -> None:
    amounts, digest, r, s = KNOWN[side]
    key = StarkKey(PRIVATE, 10002, TESTNET_DOMAIN)
    assert key.public_key == PUBLIC
    st = key.settle(side, QTY, PRICE, FEE, BTC_USD, EXPIRY_MS, NONCE)
    assert (st.synthetic_amount, st.collateral_amount, st.fee_amount) == amounts
    assert st.order_hash == digest
    assert (st.r, st.s) == (r, s)
    assert verify(PUBLIC, digest, r, s)
    assert not verify(PUBLIC, digest + 1, r, s)


def test_settlement_expiration_adds_the_sdk_buffer() -> None:
    # The SDK: ceil((expire_time + 14 days).timestamp()) seconds.
    expire = dt.datetime(2024, 1, 5, 1, 8, 56, 860694, tzinfo=dt.UTC) + dt.timedelta(days=14)
    want = int((expire + dt.timedelta(days=14)).timestamp()) + 1
    assert signing.settlement_expiration_s(EXPIRY_MS) == want


def test_rounding_is_per_side() -> None:
    # 0.001 × 0.1234567 = 0.0001234567 collateral: a buy pays 124 units, a sell receives 123.
    l2 = L2Assets(1, 1_000, 2, 1_000_000)
    buy = settlement_amounts("BUY", Decimal("0.001"), Decimal("0.1234567"), Decimal(0), l2)
    sell = settlement_amounts("SELL", Decimal("0.001"), Decimal("0.1234567"), Decimal(0), l2)
    assert buy == (1, -124, 0)
    assert sell == (-1, 123, 0)


def test_the_sdk_signs_what_mmtrio_signs() -> None:
    """The official SDK (test extra) builds the same hash and signature for other orders."""
    from x10.core.stark_account import StarkPerpetualAccount
    from x10.models.market import MarketModel
    from x10.models.order import OrderSide
    from x10.signing.order_object import create_order_object

    market = MarketModel.model_validate(sdk_market_json())
    account = StarkPerpetualAccount(10002, PRIVATE, hex(PUBLIC), "dummy")
    key = StarkKey(PRIVATE, 10002, TESTNET_DOMAIN)
    expire = dt.datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=dt.UTC)
    expiry_ms = int(expire.timestamp() * 1000)
    cases: list[tuple[str, str, Literal["BUY", "SELL"], int]] = [
        ("0.01", "60000.1", "BUY", 1),
        ("1.23456", "0.5", "SELL", 2**31),
        ("0.00010", "99999.9", "SELL", 7),
    ]
    for qty, price, side, nonce in cases:
        order = create_order_object(
            account=account,
            market=market,
            amount_of_synthetic=Decimal(qty),
            price=Decimal(price),
            side=OrderSide(side),
            starknet_domain=sdk_testnet_domain(),
            expire_time=expire,
            nonce=nonce,
            taker_fee=FEE,
        )
        st = key.settle(side, Decimal(qty), Decimal(price), FEE, BTC_USD, expiry_ms, nonce)
        sent = order.to_api_request_json()
        assert sent["id"] == str(st.order_hash)
        assert int(sent["settlement"]["signature"]["r"], 16) == st.r
        assert int(sent["settlement"]["signature"]["s"], 16) == st.s


def test_bad_private_key_and_vault_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="hex number"):
        StarkKey("not-a-key", 1, TESTNET_DOMAIN)
    with pytest.raises(ConfigError, match="zero"):
        StarkKey("0x0", 1, TESTNET_DOMAIN)
    with pytest.raises(ConfigError, match="vault"):
        StarkKey(PRIVATE, 0, TESTNET_DOMAIN)
    key = StarkKey(PRIVATE, 10002, TESTNET_DOMAIN)
    with pytest.raises(ConfigError, match="nonce"):
        key.settle("BUY", QTY, PRICE, FEE, BTC_USD, EXPIRY_MS, 0)
    with pytest.raises(ConfigError, match="nonce"):
        key.settle("BUY", QTY, PRICE, FEE, BTC_USD, EXPIRY_MS, 2**31 + 1)
    assert PRIVATE[2:] not in repr(key) and str(int(PRIVATE, 16)) not in repr(key)


def test_missing_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_stark(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "fast_stark_crypto":
            raise ImportError("No module named 'fast_stark_crypto'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_stark)
    with pytest.raises(ConfigError, match=r"mmtrio\[extended\]"):
        StarkKey(PRIVATE, 10002, TESTNET_DOMAIN)


def sdk_testnet_domain() -> Any:
    from x10.config import TESTNET_CONFIG

    return TESTNET_CONFIG.signing.starknet_domain


def sdk_market_json() -> dict[str, Any]:
    """BTC-USD as the SDK's market model reads it (the fixture's trading and l2 config)."""
    return {
        "name": "BTC-USD",
        "type": "PERPETUAL",
        "assetName": "BTC",
        "assetPrecision": 5,
        "collateralAssetName": "USD",
        "collateralAssetPrecision": 6,
        "active": True,
        "isRfq": False,
        "isOffHours": False,
        "tradingHours": "CONTINUOUS",
        "marketStats": {
            "dailyVolume": "0", "dailyVolumeBase": "0", "dailyPriceChange": "0",
            "dailyLow": "1", "dailyHigh": "1", "lastPrice": "1", "askPrice": "1",
            "bidPrice": "1", "markPrice": "1", "indexPrice": "1", "fundingRate": "0",
            "nextFundingRate": 0, "openInterest": "0", "openInterestBase": "0",
        },
        "tradingConfig": {
            "minOrderSize": "0.0001", "minOrderSizeChange": "0.00001", "minPriceChange": "0.1",
            "maxMarketOrderValue": "1000000", "maxLimitOrderValue": "5000000",
            "maxPositionValue": "10000000", "maxLeverage": "50.00", "maxNumOrders": "200",
            "limitPriceCap": "0.05", "limitPriceFloor": "0.05",
            "riskFactorConfig": [{"upperBound": "400000", "riskFactor": "0.02"}],
        },
        "l2Config": {
            "type": "STARKX",
            "collateralId": hex(BTC_USD.collateral_id),
            "syntheticId": hex(BTC_USD.synthetic_id),
            "syntheticResolution": BTC_USD.synthetic_resolution,
            "collateralResolution": BTC_USD.collateral_resolution,
        },
    }  # fmt: skip
