"""An Ed25519 API key against `mmtrio sim`, driven by the official Binance SDK (its Ed25519 is
pycryptodome's, not the `cryptography` package mmtrio signs and verifies with): REST orders,
ws-fapi orders signed one by one, ``session.logon``, and an order on the logged-on
connection without a signature. The sim is a subprocess started with the key's PEM as its
paper ``--api-secret``, as an operator would start it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.test_binance_signing import RFC_SEED, ed25519_pem

pytestmark = pytest.mark.integration
SYMBOL = "BTCUSDT"
KEY = "ed25519-sdk-key"
PEM = ed25519_pem(RFC_SEED)


@pytest.fixture(scope="module")
def sim() -> Iterator[dict[str, Any]]:
    args = ["sim", "--port", "0", "--json", "--speed", "1", "--api-key", KEY, "--api-secret", PEM]
    proc = subprocess.Popen(
        [sys.executable, "-m", "mmtrio", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"sim did not start: {proc.stderr.read() if proc.stderr else ''}")
        yield json.loads(line)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0


def _sdk(info: dict[str, Any], private_key: str = PEM) -> Any:
    from binance_common.configuration import ConfigurationRestAPI, ConfigurationWebSocketAPI
    from binance_sdk_derivatives_trading_usds_futures.derivatives_trading_usds_futures import (
        DerivativesTradingUsdsFutures,
    )

    return DerivativesTradingUsdsFutures(
        config_rest_api=ConfigurationRestAPI(
            api_key=KEY, private_key=private_key, base_path=info["rest"]
        ),
        config_ws_api=ConfigurationWebSocketAPI(
            api_key=KEY, private_key=private_key, stream_url=info["endpoints"]["order_ws"]
        ),
    )


def test_the_official_sdk_trades_with_an_ed25519_key_over_rest_and_ws_fapi(
    sim: dict[str, Any],
) -> None:
    client = _sdk(sim)
    rest = client.rest_api
    bid = float(rest.symbol_order_book_ticker(symbol=SYMBOL).data().actual_instance.bid_price)
    placed = rest.new_order(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTX",
                            quantity=0.002, price=round(bid - 100, 1),
                            new_client_order_id="ed-rest").data()  # fmt: skip
    assert placed.status == "NEW"

    async def main() -> tuple[Any, Any, Any]:
        conn = await client.websocket_api.create_connection()
        try:
            signed = await conn.new_order(symbol=SYMBOL, side="BUY", type="LIMIT",
                                          time_in_force="GTX", quantity=0.002,
                                          price=round(bid - 101, 1),
                                          new_client_order_id="ed-ws-signed")  # fmt: skip
            logon = await conn.send_signed_message(
                {"method": "session.logon", "params": {}}, signer=conn.signer, session_logon=True
            )
            unsigned = await conn.new_order(symbol=SYMBOL, side="BUY", type="LIMIT",
                                            time_in_force="GTX", quantity=0.002,
                                            price=round(bid - 102, 1),
                                            new_client_order_id="ed-ws-session")  # fmt: skip
        finally:
            await conn.close_connection(close_session=True)
        return signed.data(), logon.data(), unsigned.data()

    signed, logon, unsigned = asyncio.run(main())
    assert signed.status == 200 and signed.result.status == "NEW"
    assert logon["status"] == 200 and logon["result"]["apiKey"] == KEY
    assert unsigned.status == 200 and unsigned.result.client_order_id == "ed-ws-session"
    open_ids = {o.client_order_id for o in rest.current_all_open_orders(symbol=SYMBOL).data()}
    assert {"ed-rest", "ed-ws-signed", "ed-ws-session"} <= open_ids
    rest.cancel_all_open_orders(symbol=SYMBOL)


def test_another_ed25519_key_is_refused_by_the_sim(sim: dict[str, Any]) -> None:
    from binance_common.errors import BadRequestError

    stranger = _sdk(sim, ed25519_pem("22" * 32)).rest_api
    with pytest.raises(BadRequestError, match="-1022"):
        stranger.account_information_v2()
