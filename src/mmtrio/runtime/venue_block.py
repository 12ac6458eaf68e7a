"""The venue's rate-limit back-off, kept in the state directory across sessions and restarts.

A 429 (or 418) tells the client to send nothing until Retry-After expires. The REST client
honours it while it lives, but a bot restarted inside that window — by systemd after a crash,
by the operator after ``kill -9``, by the engine's next session — would start with a fresh
client and send at once, which is exactly what turns a 429 into an IP ban. So every back-off is
written to ``<state_dir>/venue_block.json`` (wall-clock end), and a session waits it out
before its first request.

The file is created when the state is opened and afterwards only overwritten in place: one
fixed-size record written at offset 0 (far below a disk sector, so it is never torn). A full
disk refuses new files and growth, not a rewrite of blocks a file already holds — and a bot
whose journal fails on a full disk must still tell its successor about the 429 it drew while
stopping (chaos seed 7: the restart, not told, drew a 418 ban). No fsync: losing the record to
a power cut only loses a wait that has mostly expired by the time the machine is back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import trio
from loguru import logger

from mmtrio.runtime.fixed_record import rewrite

FILE_NAME = "venue_block.json"
RECORD_BYTES = 64  # {"until_ms": <13 digits>} padded with spaces: a constant-size rewrite


class VenueBlock:
    """The persisted back-off: ``record_on_clock`` on every 429/418 the session reports
    (``SessionHooks.on_blocked``), ``wait`` before a session."""

    def __init__(self, state_dir: Path, wall_ms: Callable[[], int]) -> None:
        self.path = state_dir / FILE_NAME
        self._wall_ms = wall_ms
        self.until_ms = self._load()
        if not self.path.exists():
            try:
                self._write(0)  # allocated now, while there is room: later only rewritten
            except OSError as exc:
                logger.warning("cannot create {} ({}); will try again on a 429", self.path, exc)

    def _load(self) -> int:
        try:
            data = json.loads(self.path.read_text())
            until = data["until_ms"]
        except FileNotFoundError:
            return 0
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # A damaged file must not stop the bot, but it must not be ignored silently either:
            # the safe reading of "we do not know" is "we were told to wait": wait one minute.
            logger.warning(
                "{} is unreadable ({}); waiting 60 s before the first request to be safe",
                self.path,
                exc,
            )
            return self._now() + 60_000
        return until if isinstance(until, int) else 0

    def _now(self) -> int:
        return self._wall_ms()

    def record(self, until_ms: int) -> None:
        """A back-off until ``until_ms`` on this block's wall clock (a later end only)."""
        if until_ms <= self.until_ms:
            return
        self.until_ms = until_ms
        try:
            self._write(until_ms)
        except OSError as exc:
            # A full disk must not turn a 429 into a crash of whatever request drew it: this
            # process still honours the back-off (in memory); only a restart would not.
            logger.error(
                "cannot record the venue's back-off in {} ({}); this process honours it, a "
                "restart before {} ms would not: free disk space",
                self.path,
                exc,
                until_ms,
            )

    def record_on_clock(self, until_ms: int, clock_ms: Callable[[], int]) -> None:
        """A back-off until ``until_ms`` on ``clock_ms``, the session's clock
        (``SessionHooks.clock_ms``, which the venue packages state a back-off's end on),
        recorded as the wait it leaves, measured from now on this block's wall clock.

        The two clocks are not one: the session's is the wall clock read once at start, then
        Trio's monotonic clock, truncated to the ms twice (its start and its progress), so it
        lags the wall clock by up to 2 ms, and a monotonic clock drifts from the wall clock
        over a long session. An end taken from one clock and waited out on the other can end
        early (DST seed 205229: a 2 s back-off recorded 0.4 ms short; the restarted bot sent
        its first read 0.2 ms inside it and was banned for 120 s). The wait is what carries
        over; +1 because this ms clock truncates too."""
        self.record(self._now() + 1 + max(0, until_ms - clock_ms()))

    def _write(self, until_ms: int) -> None:
        rewrite(self.path, json.dumps({"until_ms": until_ms}).encode(), RECORD_BYTES)

    def remaining_ms(self) -> int:
        return max(0, self.until_ms - self._now())

    async def wait(self) -> None:
        """Sleep until the venue's back-off is over (at once if there is none)."""
        left = self.remaining_ms()
        if left > 0:
            logger.warning(
                "the venue asked us to back off (429/418) until {} ms; waiting {:.1f} s before "
                "the first request",
                self.until_ms,
                left / 1000,
            )
            await trio.sleep(left / 1000)
