"""The simulated venue's wall clock: the one place the engine learns what time it is.

The engine reads time only through a :class:`Clock`: the wall time it stamps on ground-truth
records, serves to clients (a venue's "server time") and checks request timestamps against.
Timers (dead-man countdown, session lives, rate-limit windows, pacing) use
``trio.current_time()``, so under a Trio ``MockClock`` they run on virtual time.

- :class:`SystemClock` is the machine's clock: a real `mmtrio sim` process on loopback, which
  real clients (and the chaos harness's judge) compare with their own wall clocks.
- :class:`TrioClock` is ``epoch_ms`` plus Trio's clock: a bot and the sim in one ``trio.run``
  on a virtual clock (deterministic simulation) see the same, reproducible wall time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import trio


class Clock(Protocol):
    def now_ms(self) -> int:
        """Wall-clock milliseconds since the Unix epoch."""
        ...


@dataclass(frozen=True, slots=True)
class SystemClock:
    """The machine's wall clock (a separate process that real clients talk to)."""

    def now_ms(self) -> int:
        return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class TrioClock:
    """``epoch_ms`` + Trio's clock: virtual and reproducible (call inside ``trio.run``)."""

    epoch_ms: int

    def now_ms(self) -> int:
        return self.epoch_ms + int(trio.current_time() * 1000)
