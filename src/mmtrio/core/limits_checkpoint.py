"""The strategy's side of carrying loss limits and the kill switch across restarts.

:class:`LimitsCheckpointer` decides when the strategy writes its :class:`LimitsState` (a
``risk_state`` notice, which the runtime journals) and restores one at start-up; the limits
themselves are :mod:`mmtrio.core.loss_limits`.

When: a latch changed (kill switch tripped or resumed, a limit breached or overridden), a fill
was booked (its P&L must survive a crash: the notice is journaled in the fill's batch), or
``LIMITS_CHECKPOINT_MS`` passed since the last one. A crash loses at most that much of the
equity path (the market move is re-valued at the next start anyway), never a latch or a
fill's P&L.
"""

from __future__ import annotations

import json
from typing import Final

from mmtrio.core.ledger import Ledger
from mmtrio.core.loss_limits import LATCHED_SUFFIX, LimitsState
from mmtrio.core.notice_log import NoticeLog
from mmtrio.core.risk import RiskManager

LIMITS_CHECKPOINT_MS: Final = 1_000


class LimitsCheckpointer:
    """When to write the limits' state, and how to continue from one (module docstring)."""

    def __init__(self) -> None:
        self._sig: tuple[object, ...] | None = None  # what the last state latched
        self._at: int | None = None  # when it was written
        self.dirty = False  # a fill was booked since

    @staticmethod
    def state(risk: RiskManager, ledger: Ledger, now: int) -> LimitsState:
        """What a restart needs to continue the loss limits and the kill switch."""
        ks = risk.kill_switch
        return risk.losses.state(
            now,
            position_lots=ledger.position_lots,
            valued_at=ledger.valuation_price(),
            kill_reason=ks.reason,
            kill_flatten=ks.flatten,
            asset_prices=ledger.asset_prices(),
        )

    def checkpoint(self, risk: RiskManager, ledger: Ledger, log: NoticeLog, now: int) -> None:
        """A ``risk_state`` notice when one is due (module docstring)."""
        ks = risk.kill_switch
        sig = (ks.reason, ks.flatten, risk.losses.breaches)
        due = self._at is None or now - self._at >= LIMITS_CHECKPOINT_MS
        if not (due or self.dirty or sig != self._sig):
            return
        self._sig, self._at, self.dirty = sig, now, False
        state = self.state(risk, ledger, now)
        log.add("risk_state", "risk state", state=json.dumps(state.to_json()))

    @staticmethod
    def restore(
        risk: RiskManager, ledger: Ledger, log: NoticeLog, state: LimitsState, now: int
    ) -> None:
        """Continue from ``state``: the ledger must already be rebuilt from the journal (and
        not yet reconciled with the venue), so its equity at ``state.valued_at`` is the books'
        equity when the state was written. Fees paid in other assets are valued at the prices
        the state was written with (the books' then), until the runtime feeds fresh ones."""
        for asset, price in state.asset_prices:
            if asset not in dict(ledger.asset_prices()) and asset != ledger.instrument.quote_asset:
                ledger.on_asset_price(asset, price)
        risk.losses.restore(state, ledger.equity_at(state.valued_at))
        reason = state.kill_reason
        if reason is None and state.breaches:
            reason = state.breaches[0][1]  # a breach always latched the kill switch
        if reason is not None:
            if not reason.endswith(LATCHED_SUFFIX):
                reason += LATCHED_SUFFIX
            risk.trip_kill_switch(reason, now, flatten=state.kill_flatten)
        losses = risk.losses
        log.add(
            "alert" if reason is not None else "reconcile",
            f"limits continued from the journal: equity {losses.total}, peak "
            f"{losses.drawdown.peak}, today's loss {losses.daily_loss}, cumulative loss "
            f"{losses.cumulative_loss}"
            + (f"; kill switch still latched: {reason}" if reason is not None else ""),
            total=str(losses.total),
            kill_reason=reason,
        )


__all__ = ["LIMITS_CHECKPOINT_MS", "LimitsCheckpointer"]
