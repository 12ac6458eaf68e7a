"""The session report, computed from plain records (shared by the live journal and backtests).

Inputs are plain values, not a database: our fills (``core.events.Fill``), mid samples (best
bid/ask in ticks), funding payments and counts of order messages. ``reporting.journal_read``
builds them from a journal; the backtester builds them from its own simulated fills.

Replay: events are merged in time order (at equal times: mids, then funding, then fills, so a
fill is valued at the mid prevailing when it happened) into a ``core.ledger.Ledger`` (P&L and
its attribution — spread capture, inventory, fees, funding, reconciliation) and a
``core.markouts.MarkoutTracker`` (1/5/30/60 s by side). The ledger is marked at every mid, so
equity, and the drawdown measured from its running peak, are mark-to-mid. The mid at a fill is
the last sample at or before it; a fill before any sample counts in ``fills_without_mid``
(its P&L falls into inventory, never into spread capture).

A window that opens with a position (``ReportInput.opening``: the position the journal
implies at the window's start) is reported by the convention "P&L of the window = equity
change over the window": the carried position enters the books at the price it was worth
when the window opened (the last mid at or before its start), so unrealised P&L at the start
is zero and every part (realised, unrealised, spread capture, inventory, fees, funding) is
what happened inside the window. Its cost basis (the average entry the bot and the venue
keep) is reported beside it. A reconciliation inside the window that set the books to the
venue's position (``ReportInput.position_sets``: a start-up's) is applied as the bot applied
it: the position becomes the venue's, and the gap (the lots no fill explains) enters at the
cost the venue's average entry implies next to the books' own cost basis, so its jump in
equity — the reconciliation part — is the jump the bot's books took (:func:`_adopt`). The
inventory adds up: carried in + fills + adopted gaps = final.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Any

from mmtrio import units
from mmtrio.core.events import Fill, FundingPayment
from mmtrio.core.instruments import Instrument
from mmtrio.core.ledger import Ledger
from mmtrio.core.markouts import DEFAULT_HORIZONS_MS, MarkoutTracker
from mmtrio.errors import ParameterError

MAX_CURVE_POINTS = 5_000
"""Equity/inventory curves are thinned to about this many points (the extremes are exact)."""


@dataclass(frozen=True, slots=True)
class MidSample:
    """Best bid and ask (ticks) at ``ts`` ms; the mid is their average."""

    ts: int
    bid: int
    ask: int


@dataclass(frozen=True, slots=True)
class OrderCounts:
    """Order messages sent: new orders, amendments, cancels (for the quote-to-trade ratio).

    A cancel-all (the loop's, or each one a stop sends) counts as one cancel message."""

    place: int = 0
    amend: int = 0
    cancel: int = 0


@dataclass(frozen=True, slots=True)
class OpeningPosition:
    """The position carried into the window: ``lots``, its cost basis (average entry price)
    and ``valued_at``, the price it enters the window's books at (the mid when it opened)."""

    lots: int
    cost_basis: Decimal
    valued_at: Decimal


@dataclass(frozen=True, slots=True)
class PositionSet:
    """A reconciliation inside the window that set the books to the venue's position."""

    ts: int
    lots: int
    entry_price: Decimal


PNL_CONVENTION = (
    "P&L of the window = equity change over it: a position carried in counts at the mid "
    "when the window opened"
)


@dataclass(frozen=True, slots=True)
class ReportInput:
    """Everything the report needs, as plain records of one instrument."""

    instrument: Instrument
    fills: Sequence[Fill]
    mids: Sequence[MidSample]
    funding: Sequence[FundingPayment] = ()
    orders: OrderCounts = OrderCounts()
    start_ms: int | None = None
    end_ms: int | None = None
    opening: OpeningPosition | None = None
    position_sets: Sequence[PositionSet] = ()


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """Equity, position and the equity's parts (quote asset; fees negative) at ``ts``."""

    ts: int
    equity: float
    position_lots: int
    spread_capture: float = 0.0
    inventory: float = 0.0
    fees: float = 0.0
    funding: float = 0.0


CURVE_COLUMNS = (
    "ts_ms",
    "equity",
    "position_lots",
    "spread_capture",
    "inventory",
    "fees",
    "funding",
)


@dataclass(frozen=True, slots=True)
class SessionReport:
    """The computed report; :meth:`to_json` is the ``mmtrio report --json`` document."""

    symbol: str
    instrument: Instrument  # the rules the journal recorded (prices and sizes are on its grid)
    start_ms: int | None
    end_ms: int | None
    pnl: dict[str, Decimal]
    attribution: dict[str, Decimal]
    fills: int
    buys: int
    sells: int
    volume_lots: int
    volume_qty: Decimal
    volume_quote: Decimal
    maker_share: float | None
    orders: OrderCounts
    quote_to_trade: float | None
    markouts: dict[str, dict[int, dict[str, float]]]
    position_lots: int
    max_abs_position_lots: int
    max_drawdown: Decimal
    max_drawdown_ts: int | None
    fills_without_mid: int
    duplicate_fills: int
    curve: tuple[CurvePoint, ...]
    # For the price chart: (ts, mid in ticks) thinned like the curve; (ts, side, price ticks).
    mids: tuple[tuple[int, float], ...] = ()
    fill_points: tuple[tuple[int, str, int], ...] = ()
    opening: OpeningPosition | None = None
    adopted_lots: int = 0  # the gaps the window's reconciliations adopted from the venue
    adoptions: int = 0

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: money as decimal strings (exact), ratios as floats, NaN as null."""

        def num(x: float) -> float | None:
            return None if math.isnan(x) else x

        def cell_json(cell: dict[str, float]) -> dict[str, float | int | None]:
            # a count of fills is a whole number: 13, not 13.0
            return {k: int(v) if k == "count" else num(v) for k, v in cell.items()}

        op = self.opening if self.opening is not None and self.opening.lots else None

        return {
            "schema": "mmtrio.report/2",
            "symbol": self.symbol,
            "instrument": self.instrument.to_json(),
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "pnl_convention": PNL_CONVENTION,
            "pnl": {k: decimal_text(v) for k, v in self.pnl.items()},
            "attribution": {k: decimal_text(v) for k, v in self.attribution.items()},
            "fills": {
                "count": self.fills,
                "buys": self.buys,
                "sells": self.sells,
                "volume_lots": self.volume_lots,
                "volume_qty": decimal_text(self.volume_qty),
                "volume_quote": decimal_text(self.volume_quote),
                "maker_share": self.maker_share,
                "without_mid": self.fills_without_mid,
                "duplicates_ignored": self.duplicate_fills,
            },
            "orders": {
                "place": self.orders.place,
                "amend": self.orders.amend,
                "cancel": self.orders.cancel,
                "quote_to_trade": self.quote_to_trade,
            },
            "markouts": {
                side: {str(h): cell_json(cell) for h, cell in horizons.items()}
                for side, horizons in self.markouts.items()
            },
            "inventory": {
                "opening_lots": 0 if self.opening is None else self.opening.lots,
                "opening_cost_basis": None if op is None else decimal_text(op.cost_basis),
                "opening_valued_at": None if op is None else decimal_text(op.valued_at),
                "adopted_lots": self.adopted_lots,
                "adoptions": self.adoptions,
                "final_lots": self.position_lots,
                "max_abs_lots": self.max_abs_position_lots,
            },
            "drawdown": {"max": decimal_text(self.max_drawdown), "at_ms": self.max_drawdown_ts},
            "curve_columns": list(CURVE_COLUMNS),
            "curve": [
                [
                    p.ts,
                    p.equity,
                    p.position_lots,
                    p.spread_capture,
                    p.inventory,
                    p.fees,
                    p.funding,
                ]
                for p in self.curve
            ],
        }


def decimal_text(value: Decimal) -> str:
    """Exact decimal string without trailing zeros or exponent ("1.9", "10", "-0.5"): how
    every JSON document writes money (the report's, the backtest's, a sweep's). Exact at any
    length: normalising in the default context would round past 28 digits."""
    text = f"{value.normalize(Context(prec=max(28, len(value.as_tuple().digits)))):f}"
    return "0" if text in {"-0", "0"} else text


def printed_parts(
    pnl: Mapping[str, Decimal | str], attribution: Mapping[str, Decimal | str]
) -> units.PnlParts:
    """A report's ``pnl`` and ``attribution`` (exact, as Decimals or the JSON document's
    decimal strings) rounded to the cent together, as every surface prints them
    (:func:`mmtrio.units.pnl_parts`); ValueError if a key is missing or they do not add up."""
    try:
        return units.pnl_parts(
            equity=Decimal(pnl["equity"]),
            realised=Decimal(pnl["realised"]),
            unrealised=Decimal(pnl["unrealised"]),
            fees=Decimal(pnl["fees"]),
            funding=Decimal(pnl["funding"]),
            spread_capture=Decimal(attribution["spread_capture"]),
            inventory=Decimal(attribution["inventory"]),
            reconciliation=Decimal(attribution["reconciliation"]),
        )
    except KeyError as exc:
        raise ValueError(f"the report's P&L has no {exc.args[0]!r}") from None


def _mid_price(instrument: Instrument, m: MidSample) -> Decimal:
    # (bid + ask) / 2 ticks is exact in Decimal: halving a finite decimal never rounds.
    return instrument.ticks_to_price(m.bid + m.ask) / 2


def compute_report(
    data: ReportInput, horizons_ms: tuple[int, ...] = DEFAULT_HORIZONS_MS
) -> SessionReport:
    """Replay ``data`` through a Ledger and a MarkoutTracker and summarise the session."""
    inst = data.instrument
    ledger = Ledger(inst)
    # The bot's own books (cost basis, not the opening mid): what an adoption is measured
    # against, as the bot measured it.
    books = Ledger(inst)
    markouts = MarkoutTracker(inst, horizons_ms)
    opening = data.opening if data.opening is not None and data.opening.lots else None
    if opening is not None:
        # Valued at the opening mid: equity starts at zero and moves only with the window.
        ledger.set_position(opening.lots, opening.valued_at, data.start_ms or 0)
        books.set_position(opening.lots, opening.cost_basis, data.start_ms or 0)
    mid_times = sorted((m.ts, i) for i, m in enumerate(data.mids))
    adopted_lots = adoptions = 0
    # (ts, order at equal ts, index, item): mids first, then funding, then fills, then
    # reconciliations (a record written after the fills it counted).
    events: list[tuple[int, int, int, MidSample | FundingPayment | Fill | PositionSet]] = []
    for i, m in enumerate(data.mids):
        if m.bid <= 0 or m.ask <= 0 or m.ask < m.bid:
            raise ParameterError(
                f"mid sample at {m.ts} ms has bid {m.bid} / ask {m.ask} ticks; "
                "a mid needs 0 < bid <= ask"
            )
        events.append((m.ts, 0, i, m))
    events.extend((f.ts, 1, i, f) for i, f in enumerate(data.funding))
    events.extend((f.ts, 2, i, f) for i, f in enumerate(data.fills))
    events.extend((p.ts, 3, i, p) for i, p in enumerate(data.position_sets))
    events.sort(key=lambda e: (e[0], e[1], e[2]))

    mid: Decimal | None = None
    buys = sells = 0
    volume_quote = Decimal(0)
    peak: Decimal | None = None
    max_dd = Decimal(0)
    max_dd_ts: int | None = None
    max_abs = 0 if opening is None else abs(opening.lots)
    curve: list[CurvePoint] = []
    mid_points: list[tuple[int, float]] = []
    fill_points: list[tuple[int, str, int]] = []
    for ts, _, _, item in events:
        if isinstance(item, MidSample):
            mid = _mid_price(inst, item)
            ledger.mark(mid)
            markouts.on_mid((item.bid + item.ask) / 2, ts)
            mid_points.append((ts, (item.bid + item.ask) / 2))
        elif isinstance(item, FundingPayment):
            ledger.on_funding(item.amount, ts)
        elif isinstance(item, PositionSet):
            if mid is None:
                # A start-up adoption comes before the session's first mid: value it at that
                # mid, not at nothing (the jump would land in inventory when the mid came).
                at = bisect.bisect_left(mid_times, (ts, -1))
                if at < len(mid_times):
                    ledger.mark(_mid_price(inst, data.mids[mid_times[at][1]]))
            adopted_lots += item.lots - ledger.position_lots
            adoptions += 1
            _adopt(ledger, books, item)
        else:
            books.on_fill(item, mid)
            if not ledger.on_fill(item, mid):
                continue
            markouts.on_fill(item.side, item.price, item.qty, ts)
            fill_points.append((ts, item.side.value, item.price))
            volume_quote += inst.notional(item.price, item.qty)
            if item.side.sign > 0:
                buys += 1
            else:
                sells += 1
        equity = ledger.equity()
        peak = equity if peak is None or equity > peak else peak
        if peak - equity > max_dd:
            max_dd, max_dd_ts = peak - equity, ts
        max_abs = max(max_abs, abs(ledger.position_lots))
        parts = ledger.snapshot()
        curve.append(
            CurvePoint(
                ts,
                float(equity),
                ledger.position_lots,
                float(parts.spread_capture),
                float(parts.inventory_pnl),
                float(-parts.all_fees),
                float(parts.funding),
            )
        )

    snap = ledger.snapshot()
    messages = data.orders.place + data.orders.amend + data.orders.cancel
    return SessionReport(
        symbol=inst.symbol,
        instrument=inst,
        start_ms=data.start_ms,
        end_ms=data.end_ms,
        pnl={
            "equity": snap.equity,
            "realised": snap.realised,
            "unrealised": snap.unrealised,
            # A cost, negative (a rebate positive): the sign every surface uses (mmtrio.units).
            "fees": -snap.all_fees,
            "funding": snap.funding,
        },
        attribution=snap.attribution,
        fills=snap.fills,
        buys=buys,
        sells=sells,
        volume_lots=snap.volume_lots,
        volume_qty=inst.lots_to_base(snap.volume_lots),
        volume_quote=volume_quote,
        maker_share=snap.maker_volume_lots / snap.volume_lots if snap.volume_lots else None,
        orders=data.orders,
        # Order messages (new + amend + cancel) per fill, the venues' order-to-trade measure.
        quote_to_trade=messages / snap.fills if snap.fills else None,
        markouts=markouts.summary(),
        position_lots=snap.position_lots,
        max_abs_position_lots=max_abs,
        max_drawdown=max_dd,
        max_drawdown_ts=max_dd_ts,
        fills_without_mid=snap.fills_without_mid,
        duplicate_fills=snap.duplicate_fills,
        curve=_thin(curve),
        mids=tuple(mid_points[:: max(1, len(mid_points) // MAX_CURVE_POINTS)]),
        fill_points=tuple(fill_points[-MAX_CURVE_POINTS:]),
        opening=opening,
        adopted_lots=adopted_lots,
        adoptions=adoptions,
    )


def _adopt(ledger: Ledger, books: Ledger, item: PositionSet) -> None:
    """Set the window's books to the venue's position as the bot set its own.

    The bot's ledger went from ``L0`` lots at its cost basis ``B`` to the venue's ``L1`` at
    the venue's entry ``E``: its equity jumped by ``(L1 − L0)·mid − (L1·E − L0·B)``, i.e. the
    gap entered at the cost ``(L1·E − L0·B) / (L1 − L0)``. The window's books hold ``L0`` at
    the opening mid (not ``B``), so they keep that and add the gap at the same cost: the
    reconciliation part is the bot's jump. A position adopted flat loses its lots at the
    mid, the window's value of them."""
    l0, basis, window_basis = books.position_lots, books.entry_price, ledger.entry_price
    books.set_position(item.lots, item.entry_price, item.ts)
    entry = item.entry_price
    if item.lots != 0 and l0 != 0:
        gap_cost = item.lots * item.entry_price - l0 * basis  # per lot of the instrument
        candidate = (l0 * window_basis + gap_cost) / item.lots
        # A negative implied entry (a flip over a window with a large move) is no price the
        # ledger can hold: the venue's entry is taken as it is.
        entry = candidate if candidate > 0 else item.entry_price
    ledger.set_position(item.lots, entry, item.ts)


def _thin(curve: list[CurvePoint]) -> tuple[CurvePoint, ...]:
    """Keep at most about MAX_CURVE_POINTS points: per bucket the first, min and max equity."""
    if len(curve) <= MAX_CURVE_POINTS:
        return tuple(curve)
    step = math.ceil(len(curve) / (MAX_CURVE_POINTS // 3))
    out: list[CurvePoint] = []
    for i in range(0, len(curve), step):
        bucket = curve[i : i + step]
        keep = {
            id(p): p
            for p in (
                bucket[0],
                min(bucket, key=lambda p: p.equity),
                max(bucket, key=lambda p: p.equity),
                bucket[-1],
            )
        }
        out.extend(sorted(keep.values(), key=lambda p: p.ts))
    return tuple(out)
