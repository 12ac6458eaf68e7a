"""A stop asked of a chaos campaign by signal: finish the runs under way, start no other.

The deterministic campaign (:mod:`mmtrio.chaos.dst_campaign`) listens to SIGTERM and SIGINT:
its pool workers ignore both (a Ctrl-C reaches the whole process group, and a run cut in the
middle has no verdict), and a second SIGINT is Python's KeyboardInterrupt.

The process-level campaign (:func:`mmtrio.chaos.harness.run_campaign`,
``benchmarks/chaos_campaign.py``) listens to SIGTERM only. Without it a SIGTERM ended the
campaign at once, and the sim, the bot and the fault proxy of the run under way went on
running, orphaned (found stopping long campaigns with ``pkill -f chaos_campaign.py``). Its
Ctrl-C is left to Python: it reaches the whole process group, the children stop by
themselves, and the run's ``finally`` cleans up.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Sequence
from typing import Any


class StopRequest:
    """Notes the first of ``signals`` (the campaign then reports the runs it has and says
    it was stopped). Listens only from the main thread, where Python delivers signals."""

    def __init__(self, signals: Sequence[signal.Signals] = (signal.SIGTERM, signal.SIGINT)) -> None:
        self.signal: str | None = None
        self._signals = tuple(signals)
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in self._signals:
                self._previous[sig] = signal.signal(sig, self._note)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _note(self, signum: int, frame: object) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signal.Signals(signum).name

    @property
    def requested(self) -> bool:
        return self.signal is not None


__all__ = ["StopRequest"]
