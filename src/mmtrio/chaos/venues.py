"""What a chaos run needs to know about the venue it runs on: the harness speaks to the
simulated venue's admin API and to the bot's config and environment, and those are in the
venue's terms (credentials, the instrument's name, a foreign order's parameters).

Everything else (faults, the judge) is venue-neutral: the sim's admin API and ground truth
are the shared engine's, and the bot's logs and journal are the runtime's.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mmtrio.chaos.botconfig import DEADMAN_MS, RECONCILE_S, ChaosHarnessError

_ENV = {
    "api_key": "MMTRIO_API_KEY",
    "api_secret": "MMTRIO_API_SECRET",
    "passphrase": "MMTRIO_PASSPHRASE",
    "private_key": "MMTRIO_PRIVATE_KEY",
}
EXTENDED_NONCE_MAX = 2**31  # Extended's nonce range (1..2^31)
FOREIGN_EXPIRY_MS = 3_600_000  # an Extended order's expiry: an hour, longer than any run


@dataclass(frozen=True, slots=True)
class ChaosVenue:
    """One venue's terms for the harness."""

    name: str

    def credentials(self, sim_info: dict[str, Any]) -> tuple[dict[str, str], str | None]:
        """(environment for the bot, the ``[venue] account`` or None) from ``mmtrio sim
        --json``'s ``credentials``."""
        creds = sim_info.get("credentials")
        if not isinstance(creds, dict):
            raise ChaosHarnessError(f"mmtrio sim --json printed no credentials: {sim_info}")
        env = {_ENV[k]: str(v) for k, v in creds.items() if k in _ENV}
        account = creds.get("account")
        return env, None if account is None else str(account)

    @property
    def deadman_ms(self) -> int:
        """The bot's dead-man countdown, as the venue applies it: OKX's cancel-all-after
        takes 10 s at the least; Hyperliquid's ``scheduleCancel`` is set at least 6 s ahead
        (the gateway's ``MIN_LEAD_MS``: the venue wants 5 s), so a 5 s countdown is 6 s
        there and the judge waits that long after a SIGKILL (chaos seed 2025: the foreign
        order was cancelled by the dead-man 6.1 s after the kill, judged at 5 s + 1 s)."""
        if self.name == "okx":
            return 10_000
        if self.name == "hyperliquid":
            return max(DEADMAN_MS, 6_000)
        return DEADMAN_MS

    @property
    def reconcile_s(self) -> float:
        """The bot's reconciliation interval. Hyperliquid: 5 s, not 2. A pass reads
        ``openOrders`` (weight 20), the fills (20) and the position (2): every 2 s that is
        1,260 a minute, over the IP's 1,200 before a single order, and the bot now paces
        its reads in that budget (chaos seeds 2001, 2018, 2019 drew 429s when it did not);
        every 5 s it is 504. The judge's settle window follows the interval."""
        return 5.0 if self.name == "hyperliquid" else RECONCILE_S

    def foreign_client_id(self, name: str) -> str:
        """The id a foreign order of the harness carries (a 128-bit hex cloid on Hyperliquid,
        letters and digits on OKX)."""
        if self.name == "hyperliquid":
            return "0x" + hashlib.sha256(name.encode()).hexdigest()[:32]
        if self.name == "okx":
            return "".join(ch for ch in name if ch.isalnum())
        return name

    def foreign_order(
        self,
        symbol: str,
        side: str,
        price: float,
        lots: int,
        cid: str,
        *,
        now_ms: int | None = None,
    ) -> dict[str, str]:
        """``POST /admin/order`` parameters in the venue's request terms: a post-only limit
        order of ``lots`` thousandths at ``price`` (rounded to what the venue accepts).
        ``now_ms``: the venue's wall time, when it is not the machine's (the deterministic
        simulation's virtual clock; an Extended order's expiry counts from it)."""
        qty = f"{lots / 1000:.3f}"
        if self.name == "okx":
            from mmtrio.sim.okx.data import CONTRACT_VALUE

            # sizes in contracts: the sim shows the synthetic BTCUSDT as BTC-USDT-SWAP
            contracts = Decimal(lots) / 1000 / CONTRACT_VALUE["BTC"]
            return {"instId": symbol, "tdMode": "cross", "side": side.lower(),
                    "ordType": "post_only", "sz": f"{contracts.normalize():f}",
                    "px": f"{price:.1f}", "clOrdId": cid}  # fmt: skip
        if self.name == "hyperliquid":
            px = Decimal(f"{price:.5g}")  # at most 5 significant figures
            return {
                "b": "true" if side == "BUY" else "false",
                "p": format(px.normalize(), "f"),
                "s": qty,
                "tif": "Alo",
                "c": cid,
            }
        if self.name == "extended":
            # Another client of the account signs with its own nonces: taken from the top of
            # the range (derived from the client id, so a seed's run repeats), far above the
            # bot's counter (seconds since 2024 plus its orders), so never one of the bot's.
            # The expiry is wall time: the sim's clock at speed 1 (or the one given).
            now = int(time.time() * 1000) if now_ms is None else now_ms
            digest = int.from_bytes(hashlib.sha256(cid.encode()).digest()[:8], "big")
            return {
                "id": cid,
                "market": symbol,
                "type": "LIMIT",
                "side": side,
                "qty": qty,
                "price": f"{price:.1f}",
                "postOnly": "true",
                "timeInForce": "GTT",
                "fee": "0.0005",
                "expiryEpochMillis": str(now + FOREIGN_EXPIRY_MS),
                "nonce": str(EXTENDED_NONCE_MAX - digest % 1_000_000),
            }
        return {
            "symbol": symbol,
            "side": side,
            "type": "LIMIT",
            "timeInForce": "GTX",
            "quantity": qty,
            "price": f"{price:.1f}",
            "newClientOrderId": cid,
        }


VENUES = ("binance", "extended", "hyperliquid", "okx")


def chaos_venue(name: str) -> ChaosVenue:
    if name not in VENUES:
        raise ChaosHarnessError(f"chaos runs on {', '.join(VENUES)}; not {name!r}")
    return ChaosVenue(name)
