"""The OKX account as the strategy's start check and account watch read it (pure).

Three reads make one :class:`~mmtrio.venues.protocol.AccountSnapshot`: ``GET
/api/v5/account/config`` (position mode, account level), ``/account/balance`` (cash,
available, ``mgnRatio``) and ``/account/leverage-info`` with ``/account/positions`` for the
instrument: OKX sets a leverage per instrument and margin mode, so ``risk.max_leverage`` is
checked against it as on Binance, and the position's ``liqPx`` feeds the liquidation-distance
alert. OKX's leverage may be fractional (3.5x); the neutral snapshot holds whole numbers, so
it is rounded **up**: a limit of 3 refuses 3.5x.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

from mmtrio.venues.okx.codec_rest import NET_MODE, AccountConfig, Balance
from mmtrio.venues.okx.codec_user import PositionRow
from mmtrio.venues.protocol import AccountSnapshot

POSITION_MODE_FIX = (
    "switch the OKX account to one-way (net) position mode: Settings → Position mode → "
    'One-way, or POST /api/v5/account/set-position-mode {"posMode": "net_mode"} '
    "(with no open positions or orders)"
)


def account_snapshot(
    config: AccountConfig,
    bal: Balance,
    lever: Decimal | None,
    rows: Sequence[PositionRow],
) -> AccountSnapshot:
    """The neutral snapshot of one reading (module docstring)."""
    # OKX's mgnRatio is equity over maintenance margin (liquidation near 100 %); the
    # neutral ratio is its inverse (maintenance over equity, 1 = liquidation).
    ratio = None
    if bal.margin_ratio is not None and bal.margin_ratio > 0:
        ratio = Decimal(1) / bal.margin_ratio
    ok = config.pos_mode == NET_MODE
    open_rows = [r for r in rows if r.lots != 0]
    liq = open_rows[0].liquidation_price if len(open_rows) == 1 else None
    detail = {"posMode": config.pos_mode, "acctLv": config.acct_lv, "equity": str(bal.equity)}
    if lever is not None:
        detail["lever"] = str(lever)
    return AccountSnapshot(
        wallet_balance=bal.cash,
        available_balance=bal.available,
        margin_ratio=ratio,
        leverage=None if lever is None else math.ceil(lever),
        position_mode_ok=ok,
        mode_fix="" if ok else POSITION_MODE_FIX,
        liquidation_price=liq if liq is not None and liq > 0 else None,
        can_trade=config.acct_lv != "1",
        detail=detail,
    )
