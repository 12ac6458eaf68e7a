"""Without the optional extra, Hyperliquid says which extra to install; Binance never needs it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mmtrio.errors import ConfigError
from mmtrio.venues.hyperliquid import deps
from mmtrio.venues.protocol import SessionHooks, VenueCredentials, VenueSettings
from mmtrio.venues.registry import venue


def test_a_session_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "coincurve", None)  # as if not installed
    deps.crypto.cache_clear()
    try:
        settings = VenueSettings("hyperliquid", "testnet", "BTC", {"rest": "https://x"})
        with pytest.raises(ConfigError, match=r"pip install 'mmtrio\[hyperliquid\]'"):
            venue("hyperliquid").open(
                settings, VenueCredentials(private_key="0x" + "1" * 64), SessionHooks(lambda: 0)
            )
    finally:
        deps.crypto.cache_clear()


def test_importing_the_packages_loads_no_heavy_dependency() -> None:
    # The README's first command installs no extra: nothing at import time may need one.
    code = (
        "import sys, mmtrio.venues.hyperliquid.venue, mmtrio.sim.hyperliquid.frontend, "
        "mmtrio.cli.run, mmtrio.cli.sim;"
        "bad = [m for m in ('coincurve', 'msgpack', 'eth_hash', 'eth_account', 'hyperliquid')"
        " if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
