"""OKX private ``positions`` and ``account`` channels → neutral account events (pure).

- ``positions`` (``{"arg": {"channel": "positions", "instType": "SWAP", "instId"}, "data":
  [position…]}``; a snapshot on subscribe, then changes): in net (one-way) mode one row per
  instrument, ``posSide`` ``net``, ``pos`` signed contracts, ``avgPx``, ``upl``. A closed
  position is pushed with ``pos`` "0".
- **Funding.** OKX pushes no per-payment funding event on these channels; a position row
  carries ``fundingFee``, the funding accumulated over the position's life. The payment is
  the change of that figure between two pushes of the same open position
  (:class:`FundingTracker`), signed as OKX signs it (positive: received). The tracker lives
  as long as the process, across reconnects, so funding settled while the stream was down
  is booked by the first push after it; funding settled while no process ran is not (the
  wallet balance, read at start, still includes it).
- ``account`` (``{"arg": {"channel": "account", "ccy"}, "data": [{"details": [{ccy,
  cashBal, eq, availBal…}], "uTime"…}]}``): ``cashBal`` is the wallet balance of the
  currency. OKX does not say what changed it (``balance_change`` is reported as 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from mmtrio.core.events import AccountUpdate, BalanceUpdate, FundingPayment, PositionUpdate
from mmtrio.errors import ProtocolError
from mmtrio.venues.okx.fields import (
    InstrumentCodec,
    Obj,
    get_dec,
    get_int_str,
    get_list,
    get_str,
    opt_dec,
)


@dataclass(frozen=True, slots=True)
class PositionRow:
    """One position row (channel or ``GET /api/v5/account/positions``)."""

    symbol: str
    pos_side: str
    lots: int  # signed
    entry_price: Decimal
    upl: Decimal
    funding_fee: Decimal | None
    liquidation_price: Decimal | None
    ts: int

    def as_update(self) -> PositionUpdate:
        return PositionUpdate(self.symbol, self.lots, self.entry_price, self.upl)


def parse_position(obj: Obj, ic: InstrumentCodec) -> PositionRow:
    k = "position"
    pos = get_str(obj, "pos", k)
    negative = pos.startswith("-")
    lots = ic.sz(pos[1:] if negative else pos) if pos not in ("", "0") else 0
    return PositionRow(
        symbol=ic.instrument.symbol,
        pos_side=get_str(obj, "posSide", k),
        lots=-lots if negative else lots,
        entry_price=opt_dec(obj, "avgPx", k) or Decimal(0),
        upl=opt_dec(obj, "upl", k) or Decimal(0),
        funding_fee=opt_dec(obj, "fundingFee", k),
        liquidation_price=opt_dec(obj, "liqPx", k),
        ts=get_int_str(obj, "uTime", k),
    )


class FundingTracker:
    """Funding payments from the change of a position's accumulated ``fundingFee``."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, Decimal]] = {}  # symbol → (lots, fundingFee)

    def on_row(self, row: PositionRow) -> FundingPayment | None:
        if row.funding_fee is None:
            return None
        before = self._last.get(row.symbol)
        self._last[row.symbol] = (row.lots, row.funding_fee)
        # Only an open position's figure continues: a flat row starts a new life (OKX
        # restarts the accumulation with the next position).
        if before is None or before[0] == 0 or (row.lots == 0 and row.funding_fee == 0):
            return None
        change = row.funding_fee - before[1]
        if change == 0:
            return None
        return FundingPayment(row.symbol, change, row.ts)


def positions_update(
    data: list[Obj], ic_for: InstrumentCodec, tracker: FundingTracker
) -> list[AccountUpdate | FundingPayment]:
    """A ``positions`` push → one AccountUpdate (then any funding payments it reveals)."""
    rows = [parse_position(obj, ic_for) for obj in data]
    out: list[AccountUpdate | FundingPayment] = []
    if rows:
        ts = max(r.ts for r in rows)
        out.append(AccountUpdate("positions", (), tuple(r.as_update() for r in rows), ts))
    for row in rows:
        pay = tracker.on_row(row)
        if pay is not None:
            out.append(pay)
    return out


def account_update(obj: Obj) -> AccountUpdate:
    """One ``account`` push entry → AccountUpdate with a balance per currency."""
    k = "account"
    balances = []
    for detail in get_list(obj, "details", k):
        if not isinstance(detail, dict):
            raise ProtocolError(f"{k}: 'details' entries must be objects")
        cash = get_dec(detail, "cashBal", k)
        balances.append(
            BalanceUpdate(
                asset=get_str(detail, "ccy", k),
                wallet_balance=cash,
                cross_wallet_balance=cash,
                balance_change=Decimal(0),
            )
        )
    return AccountUpdate("account", tuple(balances), (), get_int_str(obj, "uTime", k))
