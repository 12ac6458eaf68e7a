"""Where the bot reads the world's nondeterminism, so a simulation can replace it.

Three things make two runs of the bot differ even when every input is the same: the wall
clock, unseeded randomness, and blocking work in threads (a thread's result reaches Trio at a
moment the scheduler does not choose, so under a virtual clock that jumps when every task
waits, it lands at a different virtual time in every run). The runtime and the venue
packages read all three through this module:

- :func:`wall_ms`: the epoch clock (journal timestamps, the base of the bot's ms clock);
- :func:`rng`: a :class:`random.Random` per use (backoff jitter, supervisor restarts);
- :func:`run_sync`: blocking file and database work (``trio.to_thread.run_sync``);
- :func:`pid`: the process id the bot journals and reports;
- :func:`disk_full`: whether the journal's commits must fail as on a full disk.

In production nothing is installed and they are exactly what they replace (the real clock,
an unseeded RNG, a worker thread, ``os.getpid()``). The deterministic simulation
(:mod:`mmtrio.chaos.dst`) installs a :class:`Determinism` in a context variable for the task
tree of one simulated bot: wall time is Trio's virtual clock plus a fixed epoch, every RNG
is derived from the run's seed and its name (and how many of that name came before), and
blocking work runs inline — on the virtual clock it takes no time, which is what a
deterministic schedule needs. A context variable, not a global: Trio copies the context into
every task a task spawns, so the bot's whole tree sees it and nothing else does.

A simulated bot can also be *fenced* (kill -9): after :meth:`Determinism.fence` every
:func:`run_sync` raises :class:`Fenced`, and so does :func:`check_fenced` before a small state
file is rewritten, so a bot abandoned by the simulation writes nothing more to its journal or
its state files, as a killed process writes nothing.
"""

from __future__ import annotations

import contextvars
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import trio

T = TypeVar("T")


class Fenced(OSError):
    """The simulated process this task belonged to was killed: it may touch nothing more."""


@dataclass
class Determinism:
    """One simulated bot's view of the world (see the module docstring)."""

    seed: int
    epoch_ms: int  # the wall time that Trio's clock 0 stands for
    pid: int = 4242
    free_disk_bytes: int = 50 * 2**30  # what a disk-space check reads (no real disk)
    fenced: bool = False
    full_disk: bool = False  # every journal commit fails, as on a full disk (journal_full)
    on_fence: list[Callable[[], None]] = field(default_factory=list)  # what the kernel closes
    _drawn: dict[str, int] = field(default_factory=dict)

    def fence(self) -> None:
        """kill -9: every later blocking call of this bot fails (nothing reaches its files),
        and its open files close (the state-directory lock is released, as on a real kill)."""
        self.fenced = True
        closers, self.on_fence = self.on_fence, []
        for close in closers:
            close()

    def rng(self, name: str) -> random.Random:
        n = self._drawn.get(name, 0)
        self._drawn[name] = n + 1
        return random.Random(f"{self.seed}:{name}:{n}")

    def wall_ms(self) -> int:
        return self.epoch_ms + int(trio.current_time() * 1000.0)


CURRENT: contextvars.ContextVar[Determinism | None] = contextvars.ContextVar(
    "mmtrio_determinism", default=None
)


def current() -> Determinism | None:
    """The installed :class:`Determinism`, or None (production)."""
    return CURRENT.get()


def wall_ms() -> int:
    """Epoch milliseconds: the real clock, or the simulation's virtual one."""
    det = CURRENT.get()
    if det is None:
        return time.time_ns() // 1_000_000
    return det.wall_ms()


def rng(name: str) -> random.Random:
    """A fresh RNG for one use named ``name``: unseeded, or derived from the run's seed."""
    det = CURRENT.get()
    if det is None:
        return random.Random()
    return det.rng(name)


def disk_full() -> bool:
    """True while the simulation refuses this bot's file writes (a full disk)."""
    det = CURRENT.get()
    return det is not None and det.full_disk


def pid() -> int:
    det = CURRENT.get()
    return os.getpid() if det is None else det.pid


def free_disk_bytes(path: os.PathLike[str] | str) -> int | None:
    """The simulation's fixed free space, or None: measure the real disk."""
    del path
    det = CURRENT.get()
    return None if det is None else det.free_disk_bytes


def check_fenced(what: str) -> None:
    """Raise :class:`Fenced` in a simulated bot that was killed: for the synchronous writes
    that do not go through :func:`run_sync` (the small state files,
    ``runtime/fixed_record.py``). A no-op in production."""
    det = CURRENT.get()
    if det is not None and det.fenced:
        raise Fenced(f"this simulated bot was killed (kill -9): {what} is out of reach")


async def run_sync(fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` in a worker thread; inline (and fenced) under a simulation."""
    det = CURRENT.get()
    if det is None:
        return await trio.to_thread.run_sync(fn, *args)
    if det.fenced:
        raise Fenced("this simulated bot was killed (kill -9): its files are out of reach")
    result = fn(*args)
    await trio.lowlevel.checkpoint()
    return result
