"""Nonces for signed actions: unique, increasing, and so across restarts.

Hyperliquid ("Nonces and API wallets") keeps the 100 highest nonces of each signer; a new
nonce must be higher than the smallest of them, never repeat, and lie within (T − 2 days,
T + 1 day) of the block time. Nonces are therefore millisecond timestamps, made unique by
``max(now, last + 1)``: a burst of actions within one millisecond runs a few ms ahead of the
clock, which the venue's window allows.

Across restarts the clock alone is not enough (a fast restart after a burst, or a wall clock
stepped back by NTP, could reuse a nonce; the venue would refuse the action). So the source
persists a *reservation*: before issuing a nonce above the reserved ceiling it writes
``nonce + RESERVE_MS`` to ``<state_dir>/hyperliquid-nonce`` (in a thread: no blocking write on
the event loop; inline under the deterministic simulation: :func:`mmtrio.determinism.run_sync`),
and a new process starts above the ceiling it finds there. One write per minute of nonces,
and a crash loses at most the unused part of a reservation (harmless: the next nonces are
simply higher). Without a state directory (tests, ``mmtrio sim`` clients) only
the in-process rule holds.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import trio

from mmtrio import determinism
from mmtrio.errors import ConfigError

RESERVE_MS = 60_000
FILE_NAME = "hyperliquid-nonce"


def read_floor(path: Path) -> int:
    """The reserved ceiling in ``path`` (0 when the file does not exist yet)."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise ConfigError(f"cannot read the nonce reservation {path}: {exc}") from None
    if not text.isdigit():
        raise ConfigError(
            f"the nonce reservation {path} holds {text[:40]!r}, not a number; delete it only "
            "after waiting a minute (the next nonces must stay above the last one used)"
        )
    return int(text)


def _write(path: Path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)  # a venue may be opened before the journal
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the state dir's mode
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        os.fchmod(fd, 0o600)  # a leftover .tmp may be more open
        fh.write(f"{value}\n")
    tmp.replace(path)  # atomic: a crash leaves the old or the new reservation, never half


class NonceSource:
    """Issues nonces (module docstring). ``clock_ms`` is the venue-corrected ms clock."""

    def __init__(self, clock_ms: Callable[[], int], state_dir: Path | None = None) -> None:
        self._clock_ms = clock_ms
        self._path = None if state_dir is None else state_dir / FILE_NAME
        self._last = 0 if self._path is None else read_floor(self._path)
        self._reserved = self._last
        self._lock = trio.Lock()

    @property
    def last(self) -> int:
        return self._last

    def next_unreserved(self) -> int:
        """A nonce without touching the reservation (only when no state dir is kept)."""
        if self._path is not None:
            raise ConfigError("this nonce source persists: use ``await take()``")
        return self._advance()

    def _advance(self) -> int:
        self._last = max(self._clock_ms(), self._last + 1)
        return self._last

    async def take(self) -> int:
        """The next nonce; extends the persisted reservation first when it must."""
        if self._path is None:
            return self._advance()
        nonce = self._advance()
        if nonce > self._reserved:
            async with self._lock:
                if nonce > self._reserved:
                    ceiling = nonce + RESERVE_MS
                    await determinism.run_sync(_write, self._path, ceiling)
                    self._reserved = ceiling
        return nonce
