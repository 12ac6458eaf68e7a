"""Market data: ``l2Book`` snapshots, ``trades``, ``activeAssetCtx`` → neutral events.

**The book arrives whole.** Each ``l2Book`` message is a snapshot of up to 20 levels a side
(``{coin, time, levels: [bids, asks]}``, levels ``{px, sz, n}``), sent per block when the
book changed; there are no sequence numbers and no deltas. Continuity is therefore a
question of *time*, answered once, here, by :class:`SnapshotSequencer`:

- a snapshot whose ``time`` is not newer than the last one delivered is dropped (a duplicate,
  or one overtaken after a reconnect: the book we hold is at least as new);
- a snapshot older than ``max_age_ms`` against the venue clock is *stale*: BookInvalid, never
  a quote off a market that moved on (it also covers a venue that stalls and then flushes);
- a malformed snapshot (an empty side, a crossed or unsorted side, a price off the venue's
  finest grid) is BookInvalid with the reason; the next good snapshot makes the book valid
  again. Prices finer than the session's tick (:mod:`.price_grid`) round outward onto it.

**Funding** on Hyperliquid is paid every hour (on the hour); ``activeAssetCtx.ctx.funding``
is that hourly rate. MarkPrice carries it as the venue states it, with ``next_funding_ts``
the next full hour, so anything reading it (the quoting model's ``funding_bias``) reads a
per-hour rate on this venue.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR
from typing import Any

from mmtrio.core.events import BookInvalid, BookSnapshot, Level, MarkPrice, Trade
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ProtocolError
from mmtrio.venues.hyperliquid.codec import (
    decimal_of,
    field,
    int_of,
    lots_of,
    side_of,
    ticks_of,
)

HOUR_MS = 3_600_000
DEFAULT_MAX_AGE_MS = 5_000


def next_funding_ms(now_ms: int) -> int:
    """The next full hour after ``now_ms`` (Hyperliquid settles funding hourly)."""
    return (now_ms // HOUR_MS + 1) * HOUR_MS


def _levels(inst: Instrument, rows: Any, what: str, rounding: str) -> tuple[Level, ...]:
    """One side's levels; prices finer than the tick round outward (``rounding``) and levels
    that meet on one tick are summed (:mod:`.price_grid`: below a power of ten the venue's
    grid is finer than the session's tick)."""
    if not isinstance(rows, list):
        raise ProtocolError(f"{what}: levels are not a list")
    out: list[Level] = []
    for i, row in enumerate(rows):
        px = ticks_of(inst, field(row, "px", f"{what}[{i}]"), f"{what}[{i}] px", rounding)
        sz = lots_of(inst, field(row, "sz", f"{what}[{i}]"), f"{what}[{i}] sz")
        if px <= 0 or sz <= 0:
            raise ProtocolError(f"{what}[{i}]: price and size must be positive")
        if out and out[-1][0] == px:
            out[-1] = (px, out[-1][1] + sz)
        else:
            out.append((px, sz))
    return tuple(out)


def parse_l2book(data: Any, inst: Instrument) -> BookSnapshot:
    """One ``l2Book`` payload (the ``data`` of the channel message, or an ``/info`` answer)."""
    what = "l2Book"
    coin = field(data, "coin", what)
    if coin != inst.symbol:
        raise ProtocolError(f"{what}: coin {coin!r}, expected {inst.symbol!r}")
    ts = int_of(field(data, "time", what), f"{what} time")
    levels = field(data, "levels", what)
    if not isinstance(levels, list) or len(levels) != 2:
        raise ProtocolError(f"{what}: levels must be [bids, asks]")
    bids = _levels(inst, levels[0], f"{what} bids", ROUND_FLOOR)
    asks = _levels(inst, levels[1], f"{what} asks", ROUND_CEILING)
    return BookSnapshot(inst.symbol, bids, asks, ts)


def book_problem(snap: BookSnapshot) -> str | None:
    """Why ``snap`` cannot be a book (None when it can)."""
    if not snap.bids or not snap.asks:
        return f"snapshot at {snap.ts} has an empty {'bid' if not snap.bids else 'ask'} side"
    if any(a[0] <= b[0] for a, b in zip(snap.bids, snap.bids[1:], strict=False)):
        return f"snapshot at {snap.ts}: bids are not in descending price order"
    if any(b[0] <= a[0] for a, b in zip(snap.asks, snap.asks[1:], strict=False)):
        return f"snapshot at {snap.ts}: asks are not in ascending price order"
    if snap.bids[0][0] >= snap.asks[0][0]:
        return f"snapshot at {snap.ts} is crossed (best bid >= best ask)"
    return None


class SnapshotSequencer:
    """Decides which snapshots reach the consumer (module docstring). Pure."""

    def __init__(self, max_age_ms: int = DEFAULT_MAX_AGE_MS) -> None:
        if max_age_ms <= 0:
            raise ProtocolError(f"snapshot max age must be positive, got {max_age_ms}")
        self.max_age_ms = max_age_ms
        self.last_time: int | None = None
        self.dropped = 0
        self.stale = 0
        self.malformed = 0

    def reset(self) -> None:
        """Forget the last time (a new connection starts a new stream)."""
        self.last_time = None

    def on_snapshot(self, snap: BookSnapshot, now_ms: int) -> BookSnapshot | BookInvalid | None:
        """The event to deliver for ``snap`` received at venue time ``now_ms`` (None: drop)."""
        if self.last_time is not None and snap.ts <= self.last_time:
            self.dropped += 1
            return None
        self.last_time = snap.ts
        problem = book_problem(snap)
        if problem is not None:
            self.malformed += 1
            return BookInvalid(snap.symbol, problem, now_ms)
        age = now_ms - snap.ts
        if age > self.max_age_ms:
            self.stale += 1
            return BookInvalid(
                snap.symbol, f"stale snapshot: {age} ms old (limit {self.max_age_ms} ms)", now_ms
            )
        return snap


def parse_trades(data: Any, inst: Instrument) -> list[Trade]:
    """A ``trades`` payload: a list of ``{coin, side, px, sz, time, tid, …}`` (side is the
    aggressor's: "B" a buyer lifted the ask)."""
    if not isinstance(data, list):
        raise ProtocolError("trades: expected a list")
    out = []
    for i, row in enumerate(data):
        what = f"trades[{i}]"
        if field(row, "coin", what) != inst.symbol:
            continue
        side = side_of(field(row, "side", what), f"{what} side")
        out.append(
            Trade(
                symbol=inst.symbol,
                trade_id=int_of(field(row, "tid", what), f"{what} tid"),
                price=ticks_of(inst, field(row, "px", what), f"{what} px"),
                qty=lots_of(inst, field(row, "sz", what), f"{what} sz"),
                buyer_is_maker=side.value == "SELL",
                ts=int_of(field(row, "time", what), f"{what} time"),
            )
        )
    return out


def parse_asset_ctx(data: Any, inst: Instrument, now_ms: int) -> MarkPrice:
    """An ``activeAssetCtx`` payload ``{coin, ctx: {markPx, oraclePx, funding, …}}``."""
    what = "activeAssetCtx"
    if field(data, "coin", what) != inst.symbol:
        raise ProtocolError(f"{what}: coin {data.get('coin')!r}, expected {inst.symbol!r}")
    ctx = field(data, "ctx", what)
    mark = decimal_of(field(ctx, "markPx", what), f"{what} markPx")
    oracle_raw = ctx.get("oraclePx")
    oracle = decimal_of(oracle_raw, f"{what} oraclePx") if oracle_raw is not None else mark
    funding = decimal_of(field(ctx, "funding", what), f"{what} funding")
    if mark <= 0:
        raise ProtocolError(f"{what}: markPx {mark} is not positive")
    return MarkPrice(inst.symbol, mark, oracle, funding, next_funding_ms(now_ms), now_ms)


__all__ = [
    "DEFAULT_MAX_AGE_MS",
    "HOUR_MS",
    "SnapshotSequencer",
    "book_problem",
    "next_funding_ms",
    "parse_asset_ctx",
    "parse_l2book",
    "parse_trades",
]
