"""Recorded-market driver: replays data/binance-usdm recordings, endlessly if asked.

Start. The recording's REST snapshot plus the diffs recorded around it (buffered before it,
per Binance's sync rule) give the starting book; ``initial_snapshot()`` is that book, with
``last_update_id`` = the ``u`` of the last diff folded into it and ``ts`` = that diff's E.
Messages recorded before the sync point are not replayed; bookTickers older than the
starting book (``u`` below its id) are dropped too.

Several files. A list of paths is one continuous recording (a pair across midnight: the
second file has no snapshot and continues the first one's ``pu``/``u`` chain). A chain break
is an error naming the file: the files are not a continuous pair.

Time. ``MarketMessage.ts`` is exchange time ``E`` in ms, shifted per pass (below) and made
non-decreasing (messages of different streams arrive in local-receive order, and their E can
be a few ms out of order; such an E is raised to the previous message's). The payload's ``E``
equals ``ts``; ``T`` gets the same per-pass shift. The server paces by ``ts`` deltas.

Wrap (``loop=True``). At the end of the recording the driver emits ONE synthetic depth diff
that turns the current book into the starting book, then replays again from the start with:
  - update ids (U/u/pu, bookTicker u) offset by ``span = max_id - start_id + 1`` per pass,
    where max_id is the largest update id seen in the recording; the wrap diff has
    ``pu`` = the last replayed ``u`` and ``U = u = start_id + offset_next``, so the next pass's
    first diff (whose pu is start_id) continues the chain and ids keep increasing;
  - trade ids offset by ``max_t - min_t + 1`` per pass, so they keep increasing;
  - times shifted by ``period = max_E - start_ts + WRAP_GAP_MS`` per pass; the wrap diff is
    stamped ``WRAP_GAP_MS // 2`` after the pass's last message; markPrice ``T`` (next funding
    time) is shifted with everything else, so it stays consistent with ``E``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmtrio.core.events import BookSnapshot, DepthDiff
from mmtrio.core.instruments import Instrument
from mmtrio.errors import DataFileError, ProtocolError
from mmtrio.sim.market import MarketDriver, MarketMessage, apply_levels, diff_to
from mmtrio.sim.recording import Converter, RawMessage, iter_file

WRAP_GAP_MS = 100


@dataclass(slots=True)
class _PassStats:
    """Facts about the recording learnt during the first pass (needed to wrap)."""

    last_u: int
    max_id: int
    max_e: int
    min_t: int | None = None
    max_t: int | None = None


class ReplayDriver(MarketDriver):
    """Replays recordings of one instrument (see module doc for sync, time and wrap rules)."""

    def __init__(self, paths: Sequence[Path], instrument: Instrument, loop: bool = True) -> None:
        if not paths:
            raise ProtocolError("replay needs at least one recording file")
        for p in paths:
            if not Path(p).is_file():
                raise DataFileError(f"recording file {p} does not exist")
        self.instrument = instrument
        self.paths = [Path(p) for p in paths]
        self.loop = loop
        self._conv = Converter(instrument)
        self._bids: dict[int, int] = {}
        self._asks: dict[int, int] = {}
        self._start_id = 0
        self._start_ts = 0
        self._skip = 0  # raw messages consumed by the sync (not replayed)
        self._sync()

    def initial_snapshot(self) -> BookSnapshot:
        return BookSnapshot(
            symbol=self.instrument.symbol,
            last_update_id=self._start_id,
            bids=tuple(sorted(self._bids.items(), reverse=True)),
            asks=tuple(sorted(self._asks.items())),
            ts=self._start_ts,
        )

    # --- start: snapshot + buffered diffs ----------------------------------------------------
    def _raw(self) -> Iterator[tuple[Path, RawMessage]]:
        for path in self.paths:
            for msg in iter_file(path):
                yield path, msg

    def _sync(self) -> None:
        buffered: list[dict[str, Any]] = []
        snap: BookSnapshot | None = None
        last_u: int | None = None
        for n, (path, msg) in enumerate(self._raw(), 1):
            if msg.kind == "snapshot":
                if snap is not None:
                    continue  # a later snapshot is redundant once synced
                snap = self._conv.snapshot(msg.data)
                self._bids = dict(snap.bids)
                self._asks = dict(snap.asks)
                self._start_ts = snap.ts
                pending, buffered = buffered, []
                for data in pending:
                    last_u = self._fold(data, snap.last_update_id, last_u, path)
            elif msg.kind == "depth":
                if snap is None:
                    buffered.append(msg.data)
                    continue
                last_u = self._fold(msg.data, snap.last_update_id, last_u, path)
            if snap is not None and last_u is not None:
                # Synced: the first message after this one is the first replayed.
                self._skip = n
                self._start_id = last_u
                return
        raise DataFileError(
            f"{self.paths[0]}: no depth snapshot followed by a covering diff; the first file "
            "of a recording pair carries the snapshot, pass the files in order"
        )

    def _fold(
        self, data: dict[str, Any], snap_id: int, last_u: int | None, path: Path
    ) -> int | None:
        """Apply one pre-start diff to the starting book under Binance's sync rule."""
        diff = self._conv.depth(data)
        if diff.last_id < snap_id:
            return last_u
        if last_u is None:
            if not diff.first_id <= snap_id <= diff.last_id:
                raise ProtocolError(
                    f"{path}: first diff after the snapshot (U={diff.first_id}, u={diff.last_id}) "
                    f"does not cover lastUpdateId {snap_id}: the recording cannot be synced"
                )
        elif diff.prev_last_id != last_u:
            raise ProtocolError(
                f"{path}: sequence gap at pu={diff.prev_last_id} (expected {last_u})"
            )
        apply_levels(self._bids, diff.bids)
        apply_levels(self._asks, diff.asks)
        self._start_ts = diff.ts
        return diff.last_id

    # --- replay ---------------------------------------------------------------------------
    def __iter__(self) -> Iterator[MarketMessage]:
        start_bids, start_asks = self._bids, self._asks
        bids, asks = dict(start_bids), dict(start_asks)
        stats: _PassStats | None = None
        last_ts = self._start_ts
        for k in itertools.count():
            id_off = t_off = shift = 0
            if stats is not None:
                id_off = k * (stats.max_id - self._start_id + 1)
                t_off = k * ((stats.max_t or 0) - (stats.min_t or 0) + 1)
                shift = k * (stats.max_e - self._start_ts + WRAP_GAP_MS)
            seen = _PassStats(last_u=self._start_id, max_id=self._start_id, max_e=self._start_ts)
            for path, msg in itertools.islice(self._raw(), self._skip, None):
                data = msg.data
                kind = msg.kind
                if kind == "snapshot":
                    continue
                raw_e = int(data["E"])
                seen.max_e = max(seen.max_e, raw_e)
                if kind == "depth":
                    pu, u = int(data["pu"]), int(data["u"])
                    if pu != seen.last_u:
                        raise ProtocolError(
                            f"{path}: depth sequence gap (pu={pu}, previous u={seen.last_u}); "
                            "the files are not one continuous recording"
                        )
                    seen.last_u = u
                    seen.max_id = max(seen.max_id, u)
                    data["U"] = int(data["U"]) + id_off
                    data["u"] = u + id_off
                    data["pu"] = pu + id_off
                elif kind == "bookTicker":
                    u = int(data["u"])
                    if u < self._start_id:
                        continue  # older than the starting book
                    seen.max_id = max(seen.max_id, u)
                    data["u"] = u + id_off
                elif kind == "trade":
                    t = int(data["t"])
                    seen.min_t = t if seen.min_t is None else min(seen.min_t, t)
                    seen.max_t = t if seen.max_t is None else max(seen.max_t, t)
                    data["t"] = t + t_off
                ts = max(last_ts, raw_e + shift)
                last_ts = ts
                data["E"] = ts
                if "T" in data:
                    data["T"] = int(data["T"]) + shift
                event = self._conv.event(kind, data)
                if isinstance(event, DepthDiff):
                    apply_levels(bids, event.bids)
                    apply_levels(asks, event.asks)
                yield MarketMessage(ts=ts, stream=kind, payload=data, event=event)
            if not self.loop:
                return
            if stats is None:
                stats = seen
            next_off = (k + 1) * (stats.max_id - self._start_id + 1)
            last_ts = max(last_ts, stats.max_e + shift + WRAP_GAP_MS // 2)
            yield self._wrap_message(
                bids, asks, seen.last_u + id_off, self._start_id + next_off, last_ts
            )
            bids, asks = dict(start_bids), dict(start_asks)

    def _wrap_message(
        self, bids: dict[int, int], asks: dict[int, int], pu: int, u: int, ts: int
    ) -> MarketMessage:
        """The one diff that turns the book at the end of a pass into the starting book."""
        ins = self.instrument
        b = diff_to(bids, self._bids)[::-1]  # bids best first, like the venue prints them
        a = diff_to(asks, self._asks)
        payload: dict[str, Any] = {
            "e": "depthUpdate",
            "E": ts,
            "T": ts,
            "s": ins.symbol,
            "U": u,
            "u": u,
            "pu": pu,
            "b": [[ins.price_str(p), ins.qty_str(q)] for p, q in b],
            "a": [[ins.price_str(p), ins.qty_str(q)] for p, q in a],
        }
        event = DepthDiff(
            symbol=ins.symbol, first_id=u, last_id=u, prev_last_id=pu, bids=b, asks=a, ts=ts
        )
        return MarketMessage(ts=ts, stream="depth", payload=payload, event=event)
