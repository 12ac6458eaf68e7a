"""A backtest on the compiled core: the driver around :func:`.loop.run_loop`.

Python keeps what needs Python objects: the venue's request and answer queues with their
latency model (:class:`~mmtrio.backtest.venue_side.VenueSide`), the strategy
(:class:`~mmtrio.backtest.decisions.StrategySide`) and the conversion of the kernels' rows into
core events. The kernels run everything else and return only when Python has work (the stop
codes of :mod:`.slots`).

Memory. The store's arrays are memory-mapped, never copied; pages behind both cursors are
released (``madvise(MADV_DONTNEED)``) as the replay moves on, so the resident size stays flat
whatever the recording's length. The dense book arrays span the store's price range.

Checks. Every block of the store is verified (CRC-32 and row structure) before the replay
starts, releasing each block's pages after its check (a corrupt store stops the run naming the
file, row and byte offset: :mod:`mmtrio.data.store`).
"""

from __future__ import annotations

import mmap
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from mmtrio.backtest.compiled import slots as sl
from mmtrio.backtest.compiled.adapter import Arrays, CompiledOrders
from mmtrio.backtest.decisions import Features, StrategySide
from mmtrio.backtest.feed import OFFSET_SCAN_EVENTS, FeedLatency
from mmtrio.backtest.settings import BacktestResult, BacktestSettings
from mmtrio.backtest.venue_side import VenueSide
from mmtrio.core.events import (
    BookDelta,
    BookInvalid,
    BookSnapshot,
    BookTicker,
    Event,
    MarkPrice,
    Trade,
)
from mmtrio.core.strategy_config import StrategyConfig
from mmtrio.data.layout import BLOCK_ROWS, K_INVALID, K_SNAPSHOT, K_TICKER, unpack_exponents
from mmtrio.data.store import Store, open_store
from mmtrio.errors import DataFileError, ParameterError, ProtocolError
from mmtrio.reporting.pnl import MidSample, OrderCounts, ReportInput

TAIL_MS = 5_000  # as the reference engine
MAX_RANGE = 1 << 24  # dense book width limit (ticks)
WINDOW_SHARE = 0.25
SCAN_ROWS = 1 << 16  # rows read at a time while looking for the offset and the start
RELEASE_ROWS = 1 << 18  # release pages behind the cursors every this many rows
_KERNEL_SECONDS: list[float] = []


def read_only(arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """A read-only view of ``arr``: how the kernels are given the recorded rows.

    numba compiles one specialisation per argument type, and an array's writeability is
    part of its type. A store's rows are a read-only memory map, so the warm-ups (which
    compile before the run, for the compile to be reported apart) hand the kernels read-only
    arrays too. They once passed writable ones, and on a cold cache the run compiled a second
    specialisation inside its own timing (6.3 s of the exact run, 4.2 s of the sweep run).

    A plain ``ndarray`` view, not a ``np.memmap`` one: the same buffer (still the map), but
    the Python side's row reads (``_event``) no longer go through memmap's ``__getitem__``
    and ``__array_finalize__`` per row (about 3 % of the exact run).
    """
    view = arr.view(np.ndarray)
    view.flags.writeable = False
    return view


def warm_up() -> float:
    """Compile (or load from the cache) every kernel the run uses; seconds taken."""
    t0 = time.perf_counter()
    from mmtrio.backtest.compiled import matching as k
    from mmtrio.backtest.compiled.loop import run_loop, skip_rows

    s = np.zeros(sl.S_SIZE, np.int64)
    s[sl.S_NEXT_REQ] = s[sl.S_PY_AT] = s[sl.S_END] = sl.INF
    m = read_only(np.zeros((0, sl.MSG_WORDS), np.int64))
    lv = read_only(np.zeros((0, 2), np.int64))
    bk = np.zeros((8, 4), np.int64)
    o = np.zeros((4, sl.O_FIELDS), np.int64)
    u = np.zeros((64, sl.U_FIELDS), np.int64)
    v = np.zeros((sl.V_CAP, sl.V_FIELDS), np.int64)
    mids = np.zeros((sl.M_CAP, 3), np.int64)
    buf = np.zeros((2, 8), np.int64)
    run_loop(m, lv, s, bk, o, u, v, mids, buf)
    skip_rows(m, s, 0)
    s[sl.S_EBB] = s[sl.S_EBA] = sl.NONE
    s[sl.S_PBASE] = 100
    k.place(s, bk[0:2], bk[2:6], o, u, 0, sl.BUY, 101, 1, sl.TIF_POST, 0, 0, buf[0])
    k.amend(s, bk[0:2], bk[2:6], o, u, 0, 102, 1, 0, buf[0])
    k.cancel(s, bk[2:6], o, u, 0, 0)
    k.cancel_all(s, bk[2:6], o, u, 0)
    return time.perf_counter() - t0


def _release(arr: np.ndarray[Any, Any], upto_row: int, row_bytes: int) -> None:
    """Drop the resident pages of a memory-mapped array below ``upto_row``."""
    base = getattr(arr, "_mmap", None)  # np.memmap keeps its mmap here
    if not isinstance(base, mmap.mmap):
        return
    from mmtrio.data.store import HEADER_BYTES

    end = HEADER_BYTES + upto_row * row_bytes
    end -= end % mmap.PAGESIZE
    if end > 0:
        base.madvise(mmap.MADV_DONTNEED, 0, end)


def _verify(store: Store) -> None:
    for which, arr, row_bytes in (
        ("levels", store.levels, 16),
        ("messages", store.messages, 80),
    ):
        blocks = (len(arr) + BLOCK_ROWS - 1) // BLOCK_ROWS
        for b in range(blocks):
            store.check_block(which, b)
            _release(arr, min(len(arr), (b + 1) * BLOCK_ROWS), row_bytes)


def _offset_and_start(m: np.ndarray[Any, Any], tickers: bool) -> tuple[int, int]:
    """The recording host's clock offset (as ``estimate_clock_offset_ms``) and the first
    snapshot row (as ``RecordingFeed``: nothing before it is replayed).

    Reads the rows from the start, a chunk at a time, only until it has both: a scan of the
    whole store made every page of a day's messages resident (~1.9 GB) and allocated two
    index arrays as long as the store, before the run had begun.
    """
    need = OFFSET_SCAN_EVENTS
    heads: list[np.ndarray[Any, Any]] = []
    taken, snap = 0, -1
    for lo in range(0, len(m), SCAN_ROWS):
        kinds = (m[lo : lo + SCAN_ROWS, sl.W_HEAD] & 0xFF).astype(np.int64)
        rows = np.arange(len(kinds)) if tickers else np.flatnonzero(kinds != K_TICKER)
        if taken < need:
            part = rows[: need - taken]
            heads.append(part[kinds[part] != K_INVALID] + lo)
            taken += len(part)
        if snap < 0:
            found = rows[kinds[rows] == K_SNAPSHOT]
            if len(found):
                snap = lo + int(found[0])
        if taken >= need and snap >= 0:
            break
    head = np.concatenate(heads) if heads else np.zeros(0, np.int64)
    if not len(head):
        raise ProtocolError("no timed market event in the recording; is this a recording?")
    offset = int((m[head, sl.W_LOCAL] // 1_000_000 - m[head, sl.W_TS]).min())
    if snap < 0:
        raise ProtocolError(
            "no depth snapshot in the recording; the first file of a recording pair "
            "carries it, pass the files in order"
        )
    return offset, snap


def _window(
    store: Store, m: np.ndarray[Any, Any], lv: np.ndarray[Any, Any], start: int
) -> tuple[int, int]:
    """The dense books' price window: the traded range widened by WINDOW_SHARE of its centre
    on each side (levels beyond it are never the touch on a real book: they are skipped)."""
    lo, hi = store.meta.get("trade_min"), store.meta.get("trade_max")
    if not isinstance(lo, int) or not isinstance(hi, int):
        # No trades: centre on the first snapshot's levels.
        r = m[start]
        first = int(r[sl.W_START])
        n = int((r[sl.W_HEAD] >> 32) & 0xFFFFFFFF) + int(r[sl.W_NASKS])
        px = lv[first : first + n, 0]
        if not len(px):
            raise DataFileError(f"store {store.path}: the first book snapshot is empty")
        lo, hi = int(np.median(px)), int(np.median(px))
    pad = max(10_000, int((lo + hi) / 2 * WINDOW_SHARE))
    pbase = lo - pad
    width = hi + pad - pbase + 1
    if width > MAX_RANGE:
        raise ParameterError(
            f"store {store.path} trades over {hi - lo} ticks, more than the compiled core's "
            "dense book holds; run it with --engine-core python"
        )
    return pbase, width


_TOP, _TRADE, _BURST_END = sl.VC_TOP, sl.VC_TRADE, sl.VC_BURST_END


def _top(sym: str, r: list[int]) -> BookSnapshot:
    """A ``VC_TOP`` row: the strategy book's touch as a depth-1 snapshot."""
    bp, bq, ap, aq = r[sl.V_BP], r[sl.V_BQ], r[sl.V_AP], r[sl.V_AQ]
    return BookSnapshot(
        sym, ((bp, bq),) if bq > 0 else (), ((ap, aq),) if aq > 0 else (), r[sl.V_TS], 0
    )


def _trade(sym: str, r: list[int]) -> Trade:
    """A ``VC_TRADE`` row (the kernel copied the trade's fields into it)."""
    return Trade(
        sym,
        r[sl.V_TRADE_ID],
        r[sl.V_TRADE_PX],
        r[sl.V_TRADE_QTY],
        r[sl.V_TRADE_BUYER_MAKER] == 1,
        r[sl.V_TS],
    )


class _Run:
    def __init__(self, store: Store, config: StrategyConfig, settings: BacktestSettings) -> None:
        inst = config.instrument
        if store.instrument.symbol != inst.symbol or store.instrument.tick_size != inst.tick_size:
            raise DataFileError(
                f"store {store.path} holds {store.instrument.symbol} on a "
                f"{store.instrument.tick_size} tick, the strategy trades {inst.symbol} on "
                f"{inst.tick_size}"
            )
        self.store = store
        self.inst = inst
        self.sym = inst.symbol
        self.settings = settings
        self.m = read_only(store.messages.view(np.int64).reshape(-1, sl.MSG_WORDS))
        self.lv = read_only(store.levels.view(np.int64).reshape(-1, 2))
        tickers = settings.book_ticker
        recorded = settings.feed_latency is FeedLatency.RECORDED
        offset, start = _offset_and_start(self.m, tickers)
        pbase, width = _window(store, self.m, self.lv, start)
        s = np.zeros(sl.S_SIZE, np.int64)
        s[sl.S_NROWS] = len(self.m)
        s[sl.S_START] = start
        s[sl.S_OFFSET] = offset if recorded else 0
        s[sl.S_BASE] = settings.feed_base_ms
        s[sl.S_RECORDED] = 1 if recorded else 0
        s[sl.S_TICKERS] = 1 if tickers else 0
        s[sl.S_MID_EVERY] = settings.mid_sample_ms
        s[sl.S_FIRST] = sl.NONE
        for key in (sl.S_EBB, sl.S_EBA, sl.S_VBB, sl.S_VBA):
            s[key] = sl.NONE
        s[sl.S_MAXLAT] = config.limits.max_feed_latency_ms
        s[sl.S_D_SYNC] = -1  # no decision yet: the first burst decides
        s[sl.S_NEXT_OID] = 1
        s[sl.S_QMODEL] = 1 if settings.queue_model.value == "probabilistic" else 0
        s[sl.S_PBASE] = pbase
        s[sl.S_RANGE] = width
        s[sl.S_END] = sl.INF
        s[sl.S_TAIL] = TAIL_MS
        self.s = s
        from mmtrio.backtest.compiled.loop import skip_rows

        s[sl.S_EP] = s[sl.S_VP] = skip_rows(self.m, s, start)
        self.arrays = Arrays(
            s=s,
            bk=np.zeros((8, width), np.int64),
            o=np.zeros((sl.ORDER_CAP, sl.O_FIELDS), np.int64),
            u=np.zeros((sl.U_CAP, sl.U_FIELDS), np.int64),
            buf=np.zeros((2, sl.ORDER_CAP), np.int64),
        )
        self.v = np.zeros((sl.V_CAP, sl.V_FIELDS), np.int64)
        self.mids = np.zeros((sl.M_CAP, 3), np.int64)
        self.orders = CompiledOrders(inst, settings.fees, self.arrays)
        self.venue = VenueSide(inst, settings, self.orders)
        self.strat = StrategySide(config, settings.client_prefix, self.venue.send)
        self._told: Features | None = None  # the decided features last written to S_D_*
        self.reasons = store.reasons
        n_tickers = int(store.meta.get("counts", {}).get("ticker", 0))
        self.messages = len(self.m) - (0 if tickers else n_tickers)
        self.released = 0

    # --- the strategy's side of the view rows ---------------------------------------------------
    def _event(self, r: list[int]) -> Event:
        """The event of a view row (:meth:`_apply_view` builds touches and trades, nearly
        every row, with :func:`_top` and :func:`_trade` directly)."""
        code, ts, row = r[sl.V_CODE], r[sl.V_TS], r[sl.V_ROW]
        sym = self.sym
        if code == sl.VC_TOP:
            return _top(sym, r)
        if code == sl.VC_TRADE:
            return _trade(sym, r)
        w = self.m[row].tolist()
        if code == sl.VC_MARK:
            return self._mark(w)
        if code == sl.VC_INVALID:
            return BookInvalid(sym, self.reasons[w[sl.W_A]], ts)
        if code == sl.VC_UNSYNCED:
            return BookDelta(sym, (), (), ts)
        return BookTicker(sym, w[sl.W_B], w[sl.W_C], w[sl.W_D], w[sl.W_E], ts, w[sl.W_A])

    def _mark(self, w: list[int]) -> MarkPrice:
        e1, e2, e3 = unpack_exponents(w[sl.W_E])
        return MarkPrice(
            self.sym,
            Decimal(w[sl.W_B]).scaleb(e1),
            Decimal(w[sl.W_C]).scaleb(e2),
            Decimal(w[sl.W_D]).scaleb(e3),
            w[sl.W_A],
            w[sl.W_TS],
        )

    def _apply_view(self, t: int) -> tuple[bool, bool]:
        """Apply every buffered view row, in one pass over one copy of them.

        The bursts before ``t`` are apply-only (had one been a decision point, the kernels
        would have stopped there): their events, then the timer as the last of them leaves it
        (``end``). Then the market part of the burst at ``t``, when the kernels emitted one
        (they stop right after it, so no row is later than ``t``). Returns (a burst at ``t``
        was applied, a mark price is in it). ``t = INF`` applies everything, apply-only.
        """
        s = self.s
        n = int(s[sl.S_NVOUT])
        if n == 0:
            return False, False
        rows = self.v[:n].tolist()
        s[sl.S_NVOUT] = 0
        strat, sym = self.strat, self.sym
        timed = strat.apply_timed
        last_done: int | None = None
        at_t = mark = False
        for r in rows:
            code, now = r[sl.V_CODE], r[sl.V_NOW]
            if now >= t and not at_t:
                at_t = True
                if last_done is not None:
                    strat.end(last_done)
                    last_done = None
            if code == _TRADE:
                timed(_trade(sym, r), now)
            elif code == _TOP:
                timed(_top(sym, r), now)
            elif code == _BURST_END:
                if not at_t:
                    last_done = now
            else:
                mark = mark or (at_t and code == sl.VC_MARK)
                strat.apply(self._event(r), now)
        if last_done is not None:
            strat.end(last_done)
        return at_t, mark

    def _burst(self, t: int) -> None:
        """The strategy's burst at ``t`` (STOP_DECIDE / STOP_PYTHON)."""
        strat, answers = self.strat, self.venue.answers
        has_market, mark = self._apply_view(t)
        timer = strat.timer_due(t)
        lossless = answers.pop_due(t) if answers.next_due() == t else []
        if not (has_market or lossless or timer):
            return
        for ev in lossless:
            strat.apply(ev, t)
        strat.finish(t, timer=timer, lossless=bool(lossless), mark=mark)
        f = strat.decided_features
        if f is not None and f is not self._told:
            # the kernels compare each burst's features with the last decision's
            self._told = f
            s = self.s
            s[sl.S_D_SYNC] = 1 if f[0] else 0
            s[sl.S_D_BP], s[sl.S_D_BQ], s[sl.S_D_AP], s[sl.S_D_AQ] = f[1], f[2], f[3], f[4]
            s[sl.S_D_LAT] = 1 if f[5] else 0

    def _flush_mids(self) -> None:
        n = int(self.s[sl.S_NMID])
        if n:
            self.venue.mids.extend(MidSample(t, b, a) for t, b, a in self.mids[:n].tolist())
            self.s[sl.S_NMID] = 0

    def _release_pages(self) -> None:
        s = self.s
        low = min(int(s[sl.S_EP]), int(s[sl.S_VP]))
        if low - self.released < RELEASE_ROWS or low >= len(self.m):
            return
        self.released = low
        _release(self.store.messages, low, 80)
        _release(self.store.levels, int(self.m[low, sl.W_START]), 16)

    def run(self) -> BacktestResult:
        from mmtrio.backtest.compiled.loop import run_loop

        s, a, venue, strat = self.s, self.arrays, self.venue, self.strat
        requests, answers = venue.requests, venue.answers
        m, lv, v, mids = self.m, self.lv, self.v, self.mids
        while True:
            nr = requests.next_due()
            na = answers.next_due()
            tt = strat.timer_at
            fd = venue.funding_due()
            s[sl.S_NEXT_REQ] = sl.INF if nr is None else nr
            s[sl.S_PY_AT] = min(sl.INF if na is None else na, sl.INF if tt is None else tt)
            s[sl.S_FUND_DUE] = sl.INF if fd is None else fd
            code = run_loop(m, lv, s, a.bk, a.o, a.u, v, mids, a.buf)
            t = int(s[sl.S_STOP_T])
            if code == sl.STOP_DECIDE or code == sl.STOP_PYTHON:  # nearly every stop
                self._burst(t)  # the strategy's side: no mid sample is taken there
                self._release_pages()
                continue
            # the kernels' mid samples go before any the venue side takes at a fill
            self._flush_mids()
            if code == sl.STOP_DONE:
                break
            elif code == sl.STOP_REQUEST:
                for cmd in requests.pop_due(t):
                    venue.request(cmd, t)
            elif code == sl.STOP_UPDATES:
                venue.user(self.orders.drain(), t)
                if venue.mark is not None:
                    venue.settle_funding(t)
            elif code == sl.STOP_MARK:
                venue.on_mark(self._mark(m[int(s[sl.S_STOP_ROW])].tolist()), t)
                venue.settle_funding(t)
            elif code == sl.STOP_FUNDING:
                venue.settle_funding(t)
            elif code == sl.STOP_FULL:
                self._apply_view(sl.INF)
            self._release_pages()
        self._apply_view(sl.INF)
        strat.drain()
        return self._result()

    def _result(self) -> BacktestResult:
        s, venue, strat = self.s, self.venue, self.strat
        first = int(s[sl.S_FIRST])
        start = first if first != sl.NONE else 0
        last_e = int(s[sl.S_E_LAST])
        return BacktestResult(
            report_input=ReportInput(
                instrument=self.inst,
                fills=tuple(venue.fills),
                mids=tuple(venue.mids),
                funding=tuple(venue.funding),
                orders=OrderCounts(
                    place=strat.commands["PlaceOrder"],
                    amend=strat.commands["AmendOrder"],
                    cancel=strat.commands["CancelOrder"] + strat.commands["CancelAll"],
                ),
                start_ms=start,
                end_ms=last_e,
            ),
            market_messages=self.messages,
            events=int(s[sl.S_EVENTS]),
            strategy_steps=strat.decisions,
            commands=strat.commands,
            notices=strat.notices,
            alerts=list(strat.alerts),
            restrictions=sorted(strat.restrictions.values(), key=lambda r: r.first_ts),
            final_state=strat.final_state(),
            timeline=strat.quote_log.timeline(last_e),
            strategy_position_lots=strat.mm.ledger.position_lots,
            venue_position_lots=self.orders.position,
            funding_payments=len(venue.funding),
            first_ms=start,
            last_ms=last_e,
            rejects=venue.rejects,
            book_gaps=int(s[sl.S_GAPS]),
            strategy_applies=strat.applies,
            engine="compiled",
        )


def run_compiled(path: Path, config: StrategyConfig, settings: BacktestSettings) -> BacktestResult:
    """Replay the store at ``path`` on the compiled core (see the module doc)."""
    compile_s = warm_up()
    store = open_store(path)
    _verify(store)
    result = _Run(store, config, settings).run()
    result.compile_seconds = compile_s
    return result
