"""The disk-space guard: watches free space where the journal lives.

Two thresholds (``[journal] disk_warn_free_mb`` > ``disk_halt_free_mb``):

- below *warn*: log a warning (once per transition) — the operator has time to act;
- below *halt*: ``DiskGuard.state.halt_quoting`` turns true. The engine polls it and stops
  opening quotes (it still cancels, still journals fills, still reconciles): a bot that
  cannot record its fills must not create new ones. It clears by itself when space returns.

``shutil.disk_usage`` is a syscall that can stall on a sick SD card or a network mount, so it
runs in a worker thread. A failing check (the directory vanished, EIO) is itself treated as
*halt*, with the error as the reason: not knowing is not "ok".
"""

from __future__ import annotations

import enum
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import trio
from loguru import logger

from mmtrio import determinism
from mmtrio.errors import ParameterError

_MB = 1024 * 1024


class DiskLevel(enum.Enum):
    OK = "ok"
    WARN = "warn"
    HALT = "halt"


@dataclass(frozen=True, slots=True)
class DiskState:
    """The latest verdict: ``level``, free bytes (None if the check failed), why."""

    level: DiskLevel
    free_bytes: int | None
    reason: str

    @property
    def halt_quoting(self) -> bool:
        return self.level is DiskLevel.HALT


def evaluate(free_bytes: int, warn_free_mb: float, halt_free_mb: float) -> DiskState:
    """Pure verdict for ``free_bytes`` against the two thresholds."""
    free_mb = free_bytes / _MB
    if free_mb < halt_free_mb:
        return DiskState(
            DiskLevel.HALT,
            free_bytes,
            f"{free_mb:.0f} MB free < disk_halt_free_mb {halt_free_mb:g}: quoting halted; "
            "free disk space (or lower journal.max_size_mb)",
        )
    if free_mb < warn_free_mb:
        return DiskState(
            DiskLevel.WARN,
            free_bytes,
            f"{free_mb:.0f} MB free < disk_warn_free_mb {warn_free_mb:g}: free disk space soon",
        )
    return DiskState(DiskLevel.OK, free_bytes, f"{free_mb:.0f} MB free")


class DiskGuard:
    """Polls free space of ``path`` every ``interval_s``; the engine reads :attr:`state`."""

    def __init__(
        self,
        path: Path | str,
        warn_free_mb: float,
        halt_free_mb: float,
        interval_s: float = 10.0,
        free_bytes: Callable[[Path], int] | None = None,
    ) -> None:
        if not math.isfinite(interval_s) or interval_s <= 0:
            raise ParameterError(f"disk check interval must be > 0 s, got {interval_s!r}")
        self.path = Path(path)
        self.warn_free_mb, self.halt_free_mb = _thresholds(warn_free_mb, halt_free_mb)
        self.interval_s = interval_s
        self._free_bytes = free_bytes or (lambda p: shutil.disk_usage(p).free)
        # Until the first check completes nothing is known; start() runs one before returning.
        self.state = DiskState(DiskLevel.HALT, None, "disk space not checked yet")

    def set_thresholds(self, warn_free_mb: float, halt_free_mb: float) -> None:
        """New thresholds (a reload of ``[journal]``), used from the next check on."""
        self.warn_free_mb, self.halt_free_mb = _thresholds(warn_free_mb, halt_free_mb)

    async def check(self) -> DiskState:
        """Measure now (in a thread), update :attr:`state`, log level changes."""
        try:
            simulated = determinism.free_disk_bytes(self.path)
            free = (
                simulated
                if simulated is not None
                else await trio.to_thread.run_sync(self._free_bytes, self.path)
            )
            new = evaluate(free, self.warn_free_mb, self.halt_free_mb)
        except OSError as exc:
            new = DiskState(DiskLevel.HALT, None, f"cannot check free space of {self.path}: {exc}")
        if new.level is not self.state.level:
            log = logger.bind(component="diskguard", level_name=new.level.value)
            if new.level is DiskLevel.OK:
                log.info("disk space ok again: {reason}", reason=new.reason)
            else:
                log.warning(
                    "disk space {level}: {reason}", level=new.level.value, reason=new.reason
                )
        self.state = new
        return new

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Check once, report started, then check every ``interval_s`` until cancelled."""
        await self.check()
        task_status.started()
        while True:
            await trio.sleep(self.interval_s)
            await self.check()


def _thresholds(warn_free_mb: float, halt_free_mb: float) -> tuple[float, float]:
    if not (math.isfinite(warn_free_mb) and math.isfinite(halt_free_mb)):
        raise ParameterError("disk thresholds must be finite numbers of MB")
    if not 0 < halt_free_mb < warn_free_mb:
        raise ParameterError(
            f"need 0 < disk_halt_free_mb ({halt_free_mb}) < disk_warn_free_mb "
            f"({warn_free_mb}): the warning has to come before the halt"
        )
    return warn_free_mb, halt_free_mb
