"""Order nonces that are never reused, across restarts and crashes, without a wall clock.

Extended's ``nonce`` (the salt of the signed order) must be 1..2^31. Two orders with the same
nonce and fields hash to the same order; the audits of the systems mmtrio replaces found
nonce collisions from wall-clock nonces (two orders in one millisecond, a clock stepped
back). mmtrio's nonces are a counter kept in the bot's state directory:

- The file ``extended_nonce`` holds a high-water mark: every nonce below it may have been used.
- The allocator reserves a block (``BLOCK`` nonces) by writing the new mark (write, fsync,
  rename, fsync the directory) *before* handing out any nonce of the block. A crash loses at
  most the rest of a block; it never hands out a nonce twice.
- With no file (a fresh state directory) the counter starts at the number of seconds since
  2024-01-01 UTC: a floor only, above the nonces of an older state directory of the same
  account unless that one averaged more than one order a second. Say where the state
  directory is in OPERATOR.md ("Extended"), and move it with the bot.

File I/O happens once per block, in a worker thread (the caller awaits :meth:`next`); the
clock and the thread are :mod:`mmtrio.determinism`'s (virtual time and inline work under the
deterministic simulation).
"""

from __future__ import annotations

import os
from pathlib import Path

import trio

from mmtrio import determinism
from mmtrio.errors import ConfigError, JournalError
from mmtrio.venues.extended.signing import NONCE_MAX

__all__ = ["BLOCK", "NONCE_FILE", "NonceAllocator"]

NONCE_FILE = "extended_nonce"
BLOCK = 1_000
FLOOR_EPOCH_S = 1_704_067_200  # 2024-01-01T00:00:00Z


def _floor_now() -> int:
    return max(1, determinism.wall_ms() // 1000 - FLOOR_EPOCH_S)


class NonceAllocator:
    """Hands out strictly increasing nonces, persisted in ``state_dir`` (module doc)."""

    def __init__(self, state_dir: Path, *, block: int = BLOCK) -> None:
        if block < 1:
            raise ConfigError(f"nonce block must be >= 1, got {block}")
        self.path = state_dir / NONCE_FILE
        self.block = block
        self._next: int | None = None  # the next nonce to hand out
        self._limit = 0  # the reserved block ends before this
        self._lock = trio.Lock()

    def _read_mark(self) -> int:
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return _floor_now()
        except OSError as exc:
            raise JournalError(f"cannot read the nonce file {self.path}: {exc.strerror}") from exc
        if not text.isdigit():
            raise JournalError(
                f"the nonce file {self.path} holds {text[:40]!r}, not a number; restore it from "
                "a backup or delete it (then nonces restart at the seconds since 2024)"
            )
        return int(text)

    def _write_mark(self, mark: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # state dir's mode
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                os.fchmod(fd, 0o600)  # a leftover .tmp may be more open
                fh.write(f"{mark}\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise JournalError(f"cannot write the nonce file {self.path}: {exc.strerror}") from exc

    def _reserve(self) -> tuple[int, int]:
        start = self._read_mark() if self._next is None else self._next
        limit = start + self.block
        if limit - 1 > NONCE_MAX:
            if start > NONCE_MAX:
                raise JournalError(
                    f"Extended's nonce range (1..2^31) is used up in {self.path}: this account "
                    "cannot sign more orders with unique nonces"
                )
            limit = NONCE_MAX + 1
        self._write_mark(limit)
        return start, limit

    async def next(self) -> int:
        """A nonce never handed out before by this state directory."""
        async with self._lock:
            if self._next is None or self._next >= self._limit:
                start, self._limit = await determinism.run_sync(self._reserve)
            else:
                start = self._next
            self._next = start + 1
            return start
