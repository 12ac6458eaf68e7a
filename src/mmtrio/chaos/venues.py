"""What a chaos run needs to know of the venue it runs on: how to start its simulated venue,
what the bot calls the market, which keys it is given, how another client places an order.

The harness talks to the venue only through ``mmtrio sim`` (a process) and its admin API, so
this is data and small functions, no venue package import. ``--venue`` of ``mmtrio chaos``
picks one of :data:`CHAOS_VENUES`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mmtrio.errors import ConfigError

SIM_SYMBOL = "BTCUSDT"  # the synthetic market's instrument (tick 0.10, lot 0.001)
NONCE_MAX = 2**31  # Extended's nonce range (1..2^31)
FOREIGN_EXPIRY_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class ChaosVenue:
    """One venue's chaos settings (module docstring)."""

    name: str
    symbol: str  # the bot's [venue] symbol: the venue's name for the sim's market
    env: Callable[[Mapping[str, Any]], dict[str, str]]  # the sim's JSON line → the bot's env
    venue_config: Callable[[Mapping[str, Any]], dict[str, str]]  # → extra [venue] keys
    # (side, size text, price text, client id, rng) → the front end's /admin/order parameters
    # (strings, as the admin API takes them)
    foreign_order: Callable[[str, str, str, str, random.Random], dict[str, Any]]
    sim_args: tuple[str, ...] = field(default=())


def _binance_env(line: Mapping[str, Any]) -> dict[str, str]:
    return {"MMTRIO_API_KEY": str(line["api_key"]), "MMTRIO_API_SECRET": str(line["api_secret"])}


def _binance_order(side: str, qty: str, price: str, cid: str, rng: random.Random) -> dict[str, Any]:
    return {
        "symbol": SIM_SYMBOL, "side": side, "type": "LIMIT", "timeInForce": "GTX",
        "quantity": qty, "price": price, "newClientOrderId": cid,
    }  # fmt: skip


def _extended_env(line: Mapping[str, Any]) -> dict[str, str]:
    creds = line["credentials"]
    return {
        "MMTRIO_API_KEY": str(creds["api_key"]),
        "MMTRIO_PRIVATE_KEY": str(creds["private_key"]),
    }


def _extended_config(line: Mapping[str, Any]) -> dict[str, str]:
    return {"account": str(line["credentials"]["account"])}  # the vault number


def _extended_order(
    side: str, qty: str, price: str, cid: str, rng: random.Random
) -> dict[str, Any]:
    # Another client of the account signs with its own nonces: drawn from the top of the range,
    # far above the bot's counter (seconds since 2024 plus its orders), so never one of the bot's.
    return {
        "id": cid, "market": "BTC-USD", "type": "LIMIT", "side": side, "qty": qty,
        "price": price, "postOnly": "true", "timeInForce": "GTT", "fee": "0.0005",
        "expiryEpochMillis": str(int(time.time() * 1000) + FOREIGN_EXPIRY_MS),
        "nonce": str(NONCE_MAX - rng.randrange(1_000_000)),
    }  # fmt: skip


CHAOS_VENUES: dict[str, ChaosVenue] = {
    "binance": ChaosVenue("binance", SIM_SYMBOL, _binance_env, lambda _: {}, _binance_order),
    "extended": ChaosVenue(
        "extended",
        "BTC-USD",
        _extended_env,
        _extended_config,
        _extended_order,
        sim_args=("--venue", "extended"),
    ),
}


def chaos_venue(name: str) -> ChaosVenue:
    """The chaos settings of venue ``name`` (a ConfigError naming the known ones)."""
    try:
        return CHAOS_VENUES[name]
    except KeyError:
        known = ", ".join(sorted(CHAOS_VENUES))
        raise ConfigError(f"chaos runs on {known}; got venue {name!r}") from None
