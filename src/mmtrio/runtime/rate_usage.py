"""The rate budget's window counts, kept in the state directory across restarts.

A venue counts its limits per IP or per account, not per process. Binance reports the weight
used in every answer (``X-MBX-USED-WEIGHT-1M``), so a restarted bot learns it with its first
request; Hyperliquid reports nothing, so a bot restarted several times within one minute
(systemd after a crash, the operator, a chaos run) planned each process's share as if the
minute were empty and together they drew a 429 (chaos seed 2041: six processes in 33 s, the
last one's stop-time cancel-all refused with "1200 request weight per minute").

So the counts of the open windows are written to ``<state_dir>/rate_usage.json`` every
0.1 s when they changed, before each start-up read is sent (runtime/startup_budget.py) and
once more at the stop, and a new session adds the counts of the windows still open to its own
budget as the session opens, before its first request. A ``kill -9`` of a running bot loses
at most the last 0.1 s of requests (saved once a second, seed 2041 still drew the 429 after
four kills in 24 s: the last process restored 1,026 units and its stop's cancel-all found the
venue past 1,200); the budget's margin (``execution.rate_budget_margin``, 20 % by default)
absorbs that. A damaged file is read the safe way: every open window is taken as used up to
its soft ceiling (quotes wait for the window to end; cancels still pass), with a warning
naming the file.

Like ``venue_block.json`` the file is allocated at start and afterwards rewritten in place,
one fixed-size record at offset 0, so a full disk (which refuses growth, not a rewrite) does
not stop it being kept. No fsync: a power cut only loses counts of a minute that has ended by
the time the machine is back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import trio
from loguru import logger

from mmtrio.core.rate_windows import Entries
from mmtrio.core.ratelimit import RateBudget
from mmtrio.runtime.fixed_record import rewrite

FILE_NAME = "rate_usage.json"
RECORD_BYTES = 4096  # padded; a sliding minute is ≤ 61 per-second entries (~1.3 kB)
SAVE_EVERY_S = 0.1  # written only when the counts changed; a kill -9 loses at most this

Saved = dict[str, Entries]


class RateUsageFile:
    """``restore_into`` a new budget at start; ``keep`` it saved while the bot runs."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE_NAME
        self.damaged: str | None = None
        self.saved: Saved = self._load()
        self._last: Saved | None = None
        if not self.path.exists():
            try:
                self._write({})  # allocated now, while there is room: later only rewritten
            except OSError as exc:
                logger.warning("cannot create {} ({}); will try again", self.path, exc)

    def _load(self) -> Saved:
        try:
            data = json.loads(self.path.read_text())
            windows = data["windows"]
            out: Saved = {}
            for name, entries in windows.items():
                pairs: Entries = []
                for t, n in entries:
                    if not (isinstance(t, int) and isinstance(n, int)) or n < 0:
                        raise ValueError(f"window {name!r} holds {[t, n]!r}")
                    pairs.append((t, n))
                out[str(name)] = pairs
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            self.damaged = f"{type(exc).__name__}: {exc}"
            return {}
        return out

    def restore_into(self, budget: RateBudget, now_ms: int) -> None:
        """Add the earlier process's open windows to ``budget`` (say so when it matters)."""
        if self.damaged is not None:
            budget.saturate(now_ms)
            logger.warning(
                "{} is unreadable ({}); the venue's rate windows are taken as used up to the "
                "budget until they end (quotes may wait up to a window; cancels pass). It is "
                "rewritten from now on",
                self.path,
                self.damaged,
            )
            return
        added = budget.restore(self.saved, now_ms)
        if added:
            logger.info(
                "rate budget: {} unit(s) an earlier process used in the venue's open windows "
                "are counted ({})",
                added,
                self.path.name,
            )

    def save(self, budget: RateBudget, now_ms: int) -> None:
        """Write the budget's counts if they changed since the last write (errors logged)."""
        snap = budget.snapshot(now_ms)
        if snap == self._last:
            return
        try:
            self._write(snap)
        except OSError as exc:
            logger.error(
                "cannot record the rate budget in {} ({}); a restart within the minute would "
                "not know this process's requests: free disk space",
                self.path,
                exc,
            )
            return
        self._last = snap

    async def keep(self, budget: Callable[[], RateBudget], clock_ms: Callable[[], int]) -> None:
        """Save ``budget()`` (start-up's, then the execution's) every ``SAVE_EVERY_S`` until
        cancelled (the stop saves once more, after the cleanup)."""
        while True:
            self.save(budget(), clock_ms())
            await trio.sleep(SAVE_EVERY_S)

    def _write(self, snap: Saved) -> None:
        body = json.dumps({"windows": {k: [list(e) for e in v] for k, v in snap.items()}})
        rewrite(self.path, body.encode(), RECORD_BYTES)
