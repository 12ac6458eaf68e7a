"""Chaos runs per venue: the bot's config, its keys and another client's orders, per venue."""

from __future__ import annotations

import random
import tomllib
from pathlib import Path

import pytest

from mmtrio.chaos.botconfig import bot_config
from mmtrio.chaos.venues import CHAOS_VENUES, NONCE_MAX, chaos_venue
from mmtrio.cli.chaos import CHAOS_VENUE_NAMES
from mmtrio.errors import ConfigError
from mmtrio.sim.paper import PaperSpec, build_paper_venue

EXTENDED_LINE = {
    "rest": "http://127.0.0.1:1", "ws": "ws://127.0.0.1:2", "admin": "http://127.0.0.1:3",
    "credentials": {"api_key": "k" * 32, "private_key": "0x" + "5" * 60, "account": "10002"},
}  # fmt: skip


def test_the_cli_lists_every_chaos_venue() -> None:
    assert sorted(CHAOS_VENUE_NAMES) == sorted(CHAOS_VENUES)
    with pytest.raises(ConfigError, match="binance, extended"):
        chaos_venue("kraken")


def test_an_extended_run_configures_the_bot_for_extended_with_keys_in_the_env(
    tmp_path: Path,
) -> None:
    venue = chaos_venue("extended")
    text = bot_config(
        {"rest": EXTENDED_LINE["rest"], "ws": EXTENDED_LINE["ws"]},  # type: ignore[dict-item]
        tmp_path / "state", tmp_path / "c.sock", gamma=0.1, variant="valid",
        venue=venue.name, symbol=venue.symbol, venue_extra=venue.venue_config(EXTENDED_LINE),
    )  # fmt: skip
    cfg = tomllib.loads(text)["venue"]
    assert (cfg["name"], cfg["mode"], cfg["symbol"], cfg["account"]) == (
        "extended", "testnet", "BTC-USD", "10002",
    )  # fmt: skip
    env = venue.env(EXTENDED_LINE)
    assert set(env) == {"MMTRIO_API_KEY", "MMTRIO_PRIVATE_KEY"}
    for secret in env.values():  # secrets travel in the environment, never in the config
        assert secret not in text


def test_another_clients_extended_order_is_accepted_by_the_sim() -> None:
    sim = build_paper_venue("extended", PaperSpec(synthetic=True, seed=3), "BTC-USD")
    order = chaos_venue("extended").foreign_order(
        "BUY", "0.002", "50000.0", "foreign-1", random.Random(5)
    )
    assert all(isinstance(v, str) for v in order.values())  # as the admin API takes them
    # its nonce sits at the top of Extended's range, far above the bot's counter
    assert NONCE_MAX - 1_000_000 < int(order["nonce"]) <= NONCE_MAX
    answer = sim.front.admin_order(order)
    assert answer["externalId"] == "foreign-1"
    assert [o.client_id for o in sim.engine.open_orders()] == ["foreign-1"]
