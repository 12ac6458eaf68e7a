"""Trio's scheduler made a function of the seed (for :mod:`mmtrio.chaos.dst` only).

Trio leaves two choices to chance, on purpose (to shake out code that depends on task
order): each batch of ready tasks is reversed with probability 1/2 from a private RNG, and
the order of everything that happens "at the same time" follows memory addresses — the
cancel scopes whose deadlines tie are ordered by ``id()``, and the tasks a cancellation
wakes come out of a set. On a virtual clock ties are everywhere, so without this two runs of
a seed part ways within a simulated second (seen: trace entry 6, at 1.5 s).

:func:`seeded_scheduler` uses Trio's own switch for deterministic scheduling (the one its
Hypothesis integration uses: every batch sorted by task creation order, then shuffled by the
private RNG), seeds that RNG from the run's seed, and breaks deadline ties by the order the
deadlines were set instead of by address. Task order still varies *between seeds*, which
keeps the schedule exploring interleavings; it is fixed *for* a seed.

A signal is a third source of chance. A process signal with a Python handler (the
campaign's SIGTERM/Ctrl-C stop, for instance) makes Python's C handler write to Trio's
wakeup socket, which wakes a system task in the middle of the run. That changes the batches
and so the draws from the seeded RNG, and the run's trace is no longer its seed's (seen:
SIGTERM 50 ms into seed 2 at 10.5 s gave trace 157b3ca9… instead of 6de54e4b…; 4 of 8
signal times changed it).
:func:`quiet_signals` detaches the socket for the run. Blocking the signals instead would not
do: a thread a C library started (OpenBLAS starts one when numpy is imported) would still
take them.

These are Trio internals (checked at import: a Trio without them fails loudly here, never
silently nondeterministic). They are process-wide: a simulation process runs one
``trio.run`` at a time, and production never imports this module.
"""

from __future__ import annotations

import itertools
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from heapq import heappush
from typing import Any

from trio._core import _run

from mmtrio.chaos import dst_loop
from mmtrio.errors import MmtrioError

if not (
    hasattr(_run, "_ALLOW_DETERMINISTIC_SCHEDULING")
    and hasattr(_run, "_r")
    and hasattr(_run, "Deadlines")
):
    raise MmtrioError(
        "this Trio version lacks the scheduler hooks the deterministic simulation needs "
        "(trio._core._run._ALLOW_DETERMINISTIC_SCHEDULING, _r, Deadlines); pin trio 0.22-0.2x"
    )

_order = itertools.count()


def _add(self: Any, deadline: float, cancel_scope: Any) -> None:
    heappush(self._heap, (deadline, next(_order), cancel_scope))
    self._active += 1


def quiet_signals() -> None:
    """Called first inside the run: a signal no longer writes to Trio's wakeup socket.

    The Python handler still runs (in the main thread, at a bytecode boundary: the
    campaign's stop only sets a flag), and the run does not notice it. Trio puts back the
    file descriptor it found when the run ends. (Off the main thread Trio attaches none.)
    From now on only Python code wakes the loop: :func:`mmtrio.chaos.dst_loop.arm`."""
    if threading.current_thread() is threading.main_thread():
        signal.set_wakeup_fd(-1)
    dst_loop.arm()


@contextmanager
def seeded_scheduler(seed: int) -> Iterator[None]:
    """Within the block, ``trio.run`` schedules as a function of ``seed``."""
    saved = (_run._ALLOW_DETERMINISTIC_SCHEDULING, _run.Deadlines.add)
    _run._ALLOW_DETERMINISTIC_SCHEDULING = True  # type: ignore[misc]
    _run.Deadlines.add = _add  # type: ignore[method-assign]
    _run._r.seed(f"trio-scheduler:{seed}")
    try:
        yield
    finally:
        _run._ALLOW_DETERMINISTIC_SCHEDULING = saved[0]  # type: ignore[misc]
        _run.Deadlines.add = saved[1]  # type: ignore[method-assign]
