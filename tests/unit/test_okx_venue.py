"""The OKX factory: registry, endpoints per mode, URL rules, credentials, the account check."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mmtrio.core.instruments import Instrument
from mmtrio.errors import ConfigError
from mmtrio.runtime.account_watch import start_problems
from mmtrio.venues import registry
from mmtrio.venues.okx.account import account_snapshot
from mmtrio.venues.okx.codec_rest import AccountConfig, Balance
from mmtrio.venues.okx.codec_user import PositionRow
from mmtrio.venues.okx.venue import VENUE, check_account
from mmtrio.venues.protocol import SessionHooks, VenueCredentials, VenueSettings

SWAP = Instrument(
    symbol="BTC-USDT-SWAP",
    tick_size=Decimal("0.1"),
    lot_size=Decimal("0.01"),
    min_qty=1,
    max_qty=10**10,
    min_notional=Decimal(0),
    base_asset="BTC",
    contract_size=Decimal("0.01"),
)


def test_registered_with_its_endpoints_and_credentials() -> None:
    assert "okx" in registry.names()
    factory = registry.venue("okx")
    assert factory is VENUE and factory.credential_fields == ("api_key", "api_secret", "passphrase")
    live, demo = factory.default_urls("live"), factory.default_urls("testnet")
    assert live["rest"] == demo["rest"] == "https://www.okx.com"  # demo: same host + header
    assert live["private_ws"] == "wss://ws.okx.com:8443/ws/v5/private"
    assert demo["market_ws"] == "wss://wspap.okx.com:8443/ws/v5/public"
    assert factory.url_problems("live", live) == [] and factory.url_problems("testnet", demo) == []


def test_url_rules() -> None:
    live, demo = VENUE.default_urls("live"), VENUE.default_urls("testnet")
    assert any("production WebSocket host" in p for p in VENUE.url_problems("testnet", live))
    assert any("demo-trading host" in p for p in VENUE.url_problems("live", demo))
    local = {k: "ws://127.0.0.1:9" if k != "rest" else "http://127.0.0.1:9" for k in live}
    assert any("loopback" in p for p in VENUE.url_problems("live", local))
    assert VENUE.url_problems("testnet", local) == []
    assert any(
        "unencrypted" in p for p in VENUE.url_problems("live", {**live, "rest": "http://x.io"})
    )
    assert any("not an OKX endpoint" in p for p in VENUE.url_problems("live", {**live, "x": "y"}))
    assert VENUE.url_problems("live", {}) == [f"{k} URL is required" for k in VENUE.url_names]


def test_session_needs_the_passphrase_and_a_known_td_mode() -> None:
    settings = VenueSettings("okx", "testnet", "BTC-USDT-SWAP", VENUE.default_urls("testnet"))
    hooks = SessionHooks(clock_ms=lambda: 0)
    with pytest.raises(ConfigError, match="passphrase"):
        VENUE.open(settings, VenueCredentials(api_key="k", api_secret="s"), hooks)
    session = VENUE.open(settings, VenueCredentials("k", "s", "p"), hooks)
    assert session.capabilities.ws_order_entry and session.capabilities.amend
    assert session.client_ids.make(1, 2) == "mmt1x2"
    bad = VenueSettings("okx", "live", "BTC-USDT-SWAP", VENUE.default_urls("live"),
                        options={"td_mode": "cash"})  # fmt: skip
    with pytest.raises(ConfigError, match="td_mode"):
        VENUE.open(bad, VenueCredentials("k", "s", "p"), hooks)


def test_account_check_names_the_fix() -> None:
    check_account(AccountConfig("net_mode", "2"))
    with pytest.raises(ConfigError, match="set-position-mode"):
        check_account(AccountConfig("long_short_mode", "2"))
    with pytest.raises(ConfigError, match="spot mode"):
        check_account(AccountConfig("net_mode", "1"))


def _row(pos: str, liq: str) -> PositionRow:
    return PositionRow("BTC-USDT-SWAP", "net", int(pos), Decimal(100), Decimal(0), None,
                       None if liq == "" else Decimal(liq), 1)  # fmt: skip


def test_the_leverage_and_liquidation_price_reach_the_start_check() -> None:
    """OKX sets a leverage per instrument: risk.max_leverage is checked against it (rounded
    up, 3.5x is above 3), and an open position's liqPx reaches the liquidation alert."""
    bal = Balance("USDT", Decimal(1000), Decimal(900), Decimal(1000), Decimal(20))
    cfg = AccountConfig("net_mode", "2")
    snap = account_snapshot(cfg, bal, Decimal("3.5"), [_row("-3", "120000.5")])
    assert snap.leverage == 4 and snap.detail["lever"] == "3.5"
    assert snap.liquidation_price == Decimal("120000.5")
    assert snap.margin_ratio == Decimal("0.05")
    (problem,) = start_problems(snap, SWAP, max_leverage=3, min_balance=None)
    assert "leverage on BTC-USDT-SWAP is 4x, above risk.max_leverage = 3" in problem
    assert start_problems(snap, SWAP, max_leverage=5, min_balance=None) == []
    flat = account_snapshot(cfg, bal, Decimal(10), [_row("0", "")])
    assert flat.leverage == 10 and flat.liquidation_price is None
    unknown = account_snapshot(cfg, bal, None, [])
    assert unknown.leverage is None and "lever" not in unknown.detail
