"""The simulated venue's layout holds: a venue-neutral shared engine, front ends beside it.

- the import-linter contract "the sim's shared engine imports no front end" lists every
  shared module as a source and every front-end package as forbidden (a new module cannot
  slip out of the contract);
- the shared modules hold no Binance vocabulary (words, codes, paths, field names);
- the front-end registry names its front ends and refuses an unknown one listing them.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from mmtrio.errors import ConfigError
from mmtrio.sim import frontends

ROOT = Path(__file__).resolve().parents[2]
SIM = ROOT / "src" / "mmtrio" / "sim"
ASSEMBLY = {"__init__", "paper", "frontends"}  # wiring, allowed to name front ends and venues
CONTRACT = "the sim's shared engine imports no front end"

# Binance's words, paths, header and field names, and its error codes (-1xxx, -2xxx, -4xxx,
# -5xxx) as they would appear in code.
# Field and stream names are matched case-sensitively (the core's neutral ``BookTicker`` type
# is not Binance's ``bookTicker`` stream).
BINANCE = re.compile(
    r"(?i:binance|fapi|listenkey|listen.key|\bgtx\b|x-mbx|recvwindow|\bpu\b)"
    r"|lastUpdateId|depthUpdate|bookTicker|aggTrade|markPriceUpdate|ORDER_TRADE_UPDATE"
    r"|ACCOUNT_UPDATE|TRADE_LITE|EXPIRED_IN_MATCH|clientOrderId|origQty|executedQty|userTrades"
    r"|(?<![\w.])-[1245]\d{3}\b",
)


def shared_modules() -> set[str]:
    return {p.stem for p in SIM.glob("*.py")} - ASSEMBLY


def front_end_packages() -> set[str]:
    return {p.parent.name for p in SIM.glob("*/__init__.py")}


def contract() -> dict[str, list[str]]:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        contracts = tomllib.load(fh)["tool"]["importlinter"]["contracts"]
    (found,) = [c for c in contracts if c["name"] == CONTRACT]
    return {"source": found["source_modules"], "forbidden": found["forbidden_modules"]}


def test_the_contract_covers_every_shared_module_and_every_front_end() -> None:
    listed = contract()
    assert {f"mmtrio.sim.{m}" for m in shared_modules()} == set(listed["source"])
    assert front_end_packages() >= {"binance"}
    for package in front_end_packages():
        assert f"mmtrio.sim.{package}" in listed["forbidden"]
    assert {"mmtrio.venues", "mmtrio.sim.paper", "mmtrio.sim.frontends"} <= set(listed["forbidden"])


def test_shared_modules_hold_no_binance_vocabulary() -> None:
    found = [
        f"{name}.py:{n}: {line.strip()}"
        for name in sorted(shared_modules())
        for n, line in enumerate((SIM / f"{name}.py").read_text().splitlines(), 1)
        if BINANCE.search(line)
    ]
    assert found == []


def test_the_pattern_finds_binance_vocabulary() -> None:
    # the guard above can fail: each of these lines is caught
    for line in (
        '("GET", "/fapi/v1/depth")',
        '"U": public.first_seq, "u": public.seq, "pu": public.prev_seq',
        "raise ApiError(-2013, 'Order does not exist.')",
        '{"e": "listenKeyExpired"}',
        "TimeInForce.POST_ONLY: 'GTX'",
    ):
        assert BINANCE.search(line), line
    assert not BINANCE.search("prev_seq = self.seq - 1")


def test_registry_names_the_front_ends_and_refuses_an_unknown_one() -> None:
    assert frontends.names() == ("binance", "extended", "hyperliquid", "okx")
    assert frontends.factory("binance").name == "binance"
    assert frontends.factory("okx").name == "okx"
    assert frontends.factory("hyperliquid").name == "hyperliquid"
    with pytest.raises(ConfigError, match=r"'kraken'.*known: binance, extended, hyperliquid, okx"):
        frontends.factory("kraken")
