"""The margin guard: the account's health, as the venue states it, feeds the risk layer.

The runtime reads the account periodically (``runtime/account_watch.py``) and hands the
strategy an :class:`~mmtrio.core.events.AccountHealth`; this guard turns it into a trading
state, like every other guard (the most severe one wins in ``RiskManager.verdict``):

- margin ratio (maintenance margin / margin balance; the venue liquidates at 1) at or above
  ``margin_ratio_halt`` → HALTED (orders pulled; not latched: it clears when the ratio falls
  back, since only the market or the operator can move it and a halted bot adds no risk);
- at or above ``margin_ratio_reduce`` → REDUCING_ONLY;
- available balance below ``min_balance`` → REDUCING_ONLY (the venue would refuse new
  orders for margin anyway: better to say why before it does);
- the mark within ``LIQUIDATION_WARN_FRACTION`` of the liquidation price → an alert (once per
  crossing), whatever the thresholds;
- a margin call from the venue (:class:`~mmtrio.core.events.MarginCall`) → an alert and
  REDUCING_ONLY until an account reading taken after the call decides again (the venue is
  about to liquidate: adding exposure on the strength of an older reading would be reckless;
  the runtime reads the account every 30 s).

A reading older than ``STALE_AFTER_MS`` is not trusted either way: the guard then demands
nothing (the venue's own refusals and the margin hold of the reject policy still act; the
runtime logs every failed read). Pure: time is an argument.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from mmtrio.core.events import AccountHealth, MarginCall
from mmtrio.core.guards import GuardVerdict, TradingState

LIQUIDATION_WARN_FRACTION: Final = Decimal("0.05")  # mark within 5 % of the liquidation price
STALE_AFTER_MS: Final = 300_000  # five minutes without a reading: the last one is not trusted


class AccountGuard:
    """Trading state from the last :class:`AccountHealth` (module docstring)."""

    __slots__ = ("_health", "_margin_call", "_near_liquidation", "_seen_at")

    def __init__(self) -> None:
        self._health: AccountHealth | None = None
        self._seen_at: int | None = None
        self._near_liquidation = False
        # the last margin call and when it reached us, until a reading asked after it arrives
        self._margin_call: tuple[MarginCall, int] | None = None

    @property
    def health(self) -> AccountHealth | None:
        return self._health

    def on_margin_call(self, call: MarginCall, now: int) -> str:
        """Record a margin call received at ``now``; returns the alert to raise."""
        self._margin_call = (call, now)
        return (
            f"margin call from the venue: {call.detail}; reducing only until the account "
            "reads healthy"
        )

    def on_health(self, health: AccountHealth, now: int, mark: Decimal | None) -> str | None:
        """Record a reading; returns an alert to raise (the mark near liquidation), if any."""
        self._health, self._seen_at = health, now
        if self._margin_call is not None and health.ts >= self._margin_call[1]:
            self._margin_call = None  # read after the call: this reading decides from now on
        liq = health.liquidation_price
        if liq is None or mark is None or mark <= 0:
            self._near_liquidation = False
            return None
        distance = abs(mark - liq) / mark
        near = distance <= LIQUIDATION_WARN_FRACTION
        alert = None
        if near and not self._near_liquidation:
            alert = (
                f"the mark {mark} is {distance * 100:.1f} % from the liquidation price {liq} "
                f"(margin ratio {_pct(health.margin_ratio)}): reduce the position or add margin"
            )
        self._near_liquidation = near
        return alert

    def verdict(
        self,
        now: int,
        *,
        reduce_ratio: float | None,
        halt_ratio: float | None,
        min_balance: Decimal | None,
    ) -> GuardVerdict | None:
        """What the last reading demands at ``now`` under these thresholds (None: nothing)."""
        if self._margin_call is not None:
            return GuardVerdict(
                TradingState.REDUCING_ONLY,
                f"margin call from the venue ({self._margin_call[0].detail}): reducing only "
                "until an account reading after it is healthy",
            )
        h = self._health
        if h is None or self._seen_at is None or now - self._seen_at > STALE_AFTER_MS:
            return None
        ratio = h.margin_ratio
        if ratio is not None and halt_ratio is not None and ratio >= Decimal(str(halt_ratio)):
            return GuardVerdict(
                TradingState.HALTED,
                f"margin ratio {_pct(ratio)} at or above risk.margin_ratio_halt "
                f"{halt_ratio * 100:g} %: add margin or reduce the position by hand",
            )
        if ratio is not None and reduce_ratio is not None and ratio >= Decimal(str(reduce_ratio)):
            return GuardVerdict(
                TradingState.REDUCING_ONLY,
                f"margin ratio {_pct(ratio)} at or above risk.margin_ratio_reduce "
                f"{reduce_ratio * 100:g} %: reducing only",
            )
        if min_balance is not None and h.available_balance < min_balance:
            return GuardVerdict(
                TradingState.REDUCING_ONLY,
                f"available balance {h.available_balance:.2f} below risk.min_balance "
                f"{min_balance}: reducing only",
            )
        return None


def _pct(ratio: Decimal | None) -> str:
    return "unknown" if ratio is None else f"{ratio * 100:.1f} %"


__all__ = ["LIQUIDATION_WARN_FRACTION", "STALE_AFTER_MS", "AccountGuard"]
