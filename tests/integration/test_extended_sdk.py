"""Protocol fidelity: Extended's official Python SDK (``x10-python-trading-starknet``, a client
nobody here wrote, in the test extra only) against ``mmtrio sim --venue extended``.

The sim runs as a real process on loopback; the SDK's REST client reads the markets (its
strict market model), the order book and the balance, signs a post-only order with its own
Stark code, places, lists and cancels it; its stream client reads the order book stream
(a SNAPSHOT, then DELTAs whose ``seq`` follow on) and the account stream (``X-Api-Key``: the
balance, positions and orders, then a taker order of the SDK's filled, and its trade). An
order the SDK signs with another key is refused as Extended refuses it (a foreign Stark key,
a forged signature).

The SDK draws an order's nonce at random in 0..2^32-1 (``x10/utils/nonce.py``), while
Extended's API documents 1..2^31: the sim accepts what the SDK sends to the real venue, a u32
of at least 1. So the SDK signs every order here with its own nonce: ten of them (at least one
above 2^31 but with probability 2^-10), then its largest draw, 2^32-1, on purpose, all
accepted; 0 and 2^32 are refused with 1133.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from tests.integration.test_sim_ccxt import mmtrio_sim

pytestmark = pytest.mark.integration

x10 = pytest.importorskip("x10", reason="the test extra installs Extended's SDK")

OTHER_KEY = "0x3c1e9550e66958296d11b60f8e8e7a7ad990d07fa65d5f7652c4a6c87d4e3cc"


def _config(info: dict[str, Any]) -> Any:
    from x10.config import TESTNET_CONFIG
    from x10.core.client_config import ClientConfig, EndpointsConfig

    base = info["rest"] + "/api/v1"
    return ClientConfig(
        defaults=TESTNET_CONFIG.defaults,
        signing=TESTNET_CONFIG.signing,  # the paper account signs for SN_SEPOLIA
        endpoints=EndpointsConfig(
            api_base_url=base,
            api_base_order_management_url=base,
            stream_url=info["ws"] + "/stream.extended.exchange/v1",
            stream_rpc_url=info["ws"] + "/stream.extended.exchange/v2/rpc",
            onboarding_url=info["rest"],
            vault_asset_name="XVS",
        ),
    )


def _account(info: dict[str, Any], private_key: str | None = None, *, claim: bool = False) -> Any:
    """The paper account; with ``private_key``, another key's account, or (``claim``) that key
    signing under the paper account's public key (a forged signature)."""
    from fast_stark_crypto import get_public_key
    from x10.core.stark_account import StarkPerpetualAccount

    creds = info["credentials"]
    key = private_key or creds["private_key"]
    public = creds["public_key"] if claim else hex(get_public_key(int(key, 16)))
    return StarkPerpetualAccount(
        vault=int(creds["account"]), private_key=key, public_key=public, api_key=creds["api_key"]
    )


async def _trade(info: dict[str, Any]) -> dict[str, Any]:
    from x10.clients.rest.rest_api_client import RestApiClient
    from x10.errors import ApiError
    from x10.models.order import OrderSide
    from x10.signing.order_object import create_order_object

    cfg, symbol = _config(info), info["symbol"]
    seen: dict[str, Any] = {}
    async with RestApiClient(cfg, _account(info)) as client:
        markets = await client.info.get_markets_dict()
        market = markets[symbol]
        seen["markets"] = sorted(markets)
        seen["steps"] = (
            market.trading_config.min_order_size_change,
            market.trading_config.min_price_change,
        )
        book = (await client.info.get_orderbook_snapshot(market_name=symbol)).data
        assert book is not None
        seen["book"] = (book.bid[0].price, book.ask[0].price)
        balance = (await client.account.get_balance()).data
        assert balance is not None
        seen["balance"] = balance.balance

        def order(account: Any, nonce: int | None = None, offset: int = 500) -> Any:
            return create_order_object(
                account=account,
                market=market,
                amount_of_synthetic=Decimal("0.010"),
                price=book.bid[0].price - Decimal(offset),
                side=OrderSide.BUY,
                starknet_domain=cfg.signing.starknet_domain,
                post_only=True,
                nonce=nonce,  # None: the SDK's own draw
                taker_fee=Decimal("0.0005"),
            )

        placed = (await client.orders.place_order(order(_account(info)))).data
        assert placed is not None
        listed = (await client.account.get_open_orders(market_names=[symbol])).data or []
        seen["listed"] = [(o.id, o.external_id, o.status, o.post_only, o.price) for o in listed]
        seen["placed"] = (placed.id, placed.external_id, book.bid[0].price - Decimal(500))
        await client.orders.cancel_order(order_id=placed.id)
        seen["after_cancel"] = (await client.account.get_open_orders(market_names=[symbol])).data
        for name, account in (
            ("other_key", _account(info, OTHER_KEY)),
            ("forged", _account(info, OTHER_KEY, claim=True)),
        ):
            try:
                await client.orders.place_order(order(account))
            except ApiError as exc:
                seen[name] = str(exc).replace(" ", "")
        # the SDK's own nonces (0..2^32-1 at random), then its largest draw on purpose
        signed = [order(_account(info), offset=600 + i) for i in range(10)]
        signed.append(order(_account(info), 2**32 - 1, offset=700))
        accepted = []
        for obj in signed:
            answer = (await client.orders.place_order(obj)).data
            assert answer is not None
            accepted.append((answer.external_id, obj.nonce))
        seen["nonces"] = accepted
        seen["nonces_open"] = {
            o.external_id for o in (await client.account.get_open_orders()).data or []
        }
        await client.orders.mass_cancel(cancel_all=True)
        for nonce in (0, 2**32):
            try:
                await client.orders.place_order(order(_account(info), nonce))
            except ApiError as exc:
                seen[f"nonce_{nonce}"] = str(exc).replace(" ", "")
    return seen


async def _book_stream(info: dict[str, Any], count: int) -> list[Any]:
    from x10.clients.stream.stream_client import StreamClient

    client = StreamClient(api_url=_config(info).endpoints.stream_url)
    messages: list[Any] = []
    async with client.subscribe_to_orderbooks(info["symbol"]) as stream:
        async for msg in stream:
            messages.append(msg)
            if len(messages) >= count:
                break
    return messages


async def _account_stream(info: dict[str, Any]) -> tuple[str, list[Any]]:
    """The SDK's account stream (``X-Api-Key``) while the SDK's client takes liquidity."""
    from x10.clients.rest.rest_api_client import RestApiClient
    from x10.clients.stream.stream_client import StreamClient
    from x10.models.order import OrderSide
    from x10.signing.order_object import create_order_object

    cfg, symbol = _config(info), info["symbol"]
    messages: list[Any] = []
    streams = StreamClient(api_url=cfg.endpoints.stream_url)
    async with (
        streams.subscribe_to_account_updates(info["credentials"]["api_key"]) as stream,
        RestApiClient(cfg, _account(info)) as client,
    ):
        market = (await client.info.get_markets_dict())[symbol]
        book = (await client.info.get_orderbook_snapshot(market_name=symbol)).data
        assert book is not None
        taker = create_order_object(
            account=_account(info),
            market=market,
            amount_of_synthetic=Decimal("0.010"),
            price=book.ask[0].price + Decimal(50),  # crosses: a taker buy
            side=OrderSide.BUY,
            starknet_domain=cfg.signing.starknet_domain,
            taker_fee=Decimal("0.0005"),  # the nonce: the SDK's own draw
        )
        placed = (await client.orders.place_order(taker)).data
        assert placed is not None
        # the taker may fill across several book levels: one ORDER and one TRADE per fill, so
        # read until the order's own update says FILLED (the last fill's TRADE follows it)
        while not _filled(messages, placed.external_id) or messages[-1].type != "TRADE":
            messages.append(await stream.recv())
    return placed.external_id, messages


def _filled(messages: list[Any], external_id: str) -> bool:
    return any(
        o.external_id == external_id and o.status == "FILLED"
        for m in messages
        if m.type == "ORDER"
        for o in m.data.orders or []
    )


def test_the_official_sdk_trades_against_the_sim() -> None:
    with mmtrio_sim("--venue", "extended", "--speed", "5") as info:
        assert info["venue"] == "extended" and info["symbol"] == "BTC-USD"
        seen = asyncio.run(asyncio.wait_for(_trade(info), 60))
        book = asyncio.run(asyncio.wait_for(_book_stream(info, 12), 60))
        taker_id, account = asyncio.run(asyncio.wait_for(_account_stream(info), 60))
    assert seen["markets"] == ["BTC-USD"]
    assert seen["steps"] == (Decimal("0.001"), Decimal("0.10"))
    bid, ask = seen["book"]
    assert 0 < bid < ask
    assert seen["balance"] == Decimal("100000")
    order_id, external_id, price = seen["placed"]
    assert seen["listed"] == [(order_id, external_id, "NEW", True, price)]
    assert seen["after_cancel"] == []
    # another Stark key than the account's (1100), and a signature by another key under the
    # account's public key (1101): each refused as Extended refuses it
    assert '"code":1100' in seen["other_key"]
    assert '"code":1101' in seen["forged"]
    # every order the SDK signed with its own nonce was accepted and rests, 2^32-1 included
    nonces = seen["nonces"]
    assert len(nonces) == 11 and nonces[-1][1] == 2**32 - 1
    assert all(1 <= n <= 2**32 - 1 for _, n in nonces)
    assert {ext for ext, _ in nonces} <= seen["nonces_open"]
    # below 1 and above a u32: refused as invalid order parameters
    assert '"code":1133' in seen["nonce_0"] and "outside1..2^32-1" in seen["nonce_0"]
    assert '"code":1133' in seen["nonce_4294967296"]
    # the SDK's stream model reads the sim's book stream: a snapshot, then continuous deltas
    assert book[0].type == "SNAPSHOT" and book[0].data.bid and book[0].data.ask
    assert all(m.type == "DELTA" for m in book[1:])
    assert [m.seq for m in book] == list(range(book[0].seq, book[0].seq + len(book)))
    assert book[0].data.market == "BTC-USD"
    # the SDK's account stream model reads the sim's: the state first, then our taker order
    # NEW and FILLED, and its trades (one per book level it took)
    assert [m.type for m in account[:3]] == ["BALANCE", "POSITION", "ORDER"]
    assert account[0].data.balance.balance == Decimal("100000")
    ours = [o for m in account if m.type == "ORDER" for o in m.data.orders or []]
    assert [o.status for o in ours if o.external_id == taker_id][-1] == "FILLED"
    trades = [t for m in account if m.type == "TRADE" for t in m.data.trades]
    assert trades and all((t.side, t.is_taker) == ("BUY", True) for t in trades)
    assert sum(t.qty for t in trades) == Decimal("0.010")
