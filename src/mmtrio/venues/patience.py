"""Start-up's patience with failed reads, shared by the four venues' REST clients.

While start-up has set a client's ``on_read_retry`` (start-up's own deadline bounds it), a
read that fails in a way a later try can fix (a 429/418 back-off: after its Retry-After, or
the venue's fallback when it sent none; a 5xx, a lost connection, a clock skew: after
:data:`READ_RETRY_S`) is sent again, ``on_read_retry(seconds, error)`` told first, instead of
raising. :class:`PatientReads` gives a client that property and the wait.

A read that timed out after it was sent means the venue may answer, only late: tried again
with the same timeout, a venue answering each request in 1.2 s against a 1 s timeout was never
heard, and start-up ran into its 30 s deadline (DST
seed 119426: three latency spikes held 22 answers 1.06 to 1.21 s each; the restarted bot's
exchangeInfo and openOrders reads timed out nine times and it stopped with exit 1). So, during
start-up only, each read that timed out doubles the read timeout of the client, up to
:data:`MAX_READ_S`; the end of start-up puts the configured timeout back. Start-up runs before
any order of this process exists, so waiting longer costs nothing but time; once trading, a
request that does not answer within ``execution.request_timeout_ms`` is an unknown outcome, as
configured. The same rule as start-up's first dead-man arm (``runtime/deadman.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import trio
from loguru import logger

from mmtrio.errors import RateLimited, VenueError

READ_RETRY_S = 1.0  # a failed read tried again after this (start-up only)
MAX_READ_S = 5.0  # the longest read timeout start-up's patience grows to

ReadRetryHook = Callable[[float, VenueError], None]


def timed_out(exc: BaseException) -> bool:
    """A request that was sent and got no answer in time (not one that never left)."""
    return isinstance(exc.__cause__, httpx.ReadTimeout)


class ReadPatience:
    """One client's start-up patience: the hook, the wait before a read is tried again, and
    its httpx client's read timeout, grown while start-up lasts (:meth:`end` restores it)."""

    def __init__(self, client: httpx.AsyncClient, fallback_retry_after_s: float) -> None:
        self._client = client
        self._fallback_retry_after_s = fallback_retry_after_s  # a 429 without Retry-After
        self._configured: httpx.Timeout | None = None  # set while lengthened
        self.hook: ReadRetryHook | None = None

    async def wait_out(self, exc: VenueError) -> bool:
        """Sleep before a failed read is tried again; False (raise it) outside start-up."""
        hook = self.hook
        if hook is None:
            return False
        self.after_failure(exc)
        if isinstance(exc, RateLimited):
            wait = exc.retry_after_s or self._fallback_retry_after_s
        else:
            wait = READ_RETRY_S
        hook(wait, exc)
        await trio.sleep(wait)
        return True

    def after_failure(self, exc: BaseException) -> None:
        """A read failed during start-up: if it timed out, the next one waits twice as long."""
        if not timed_out(exc):
            return
        now = self._client.timeout
        if now.read is None or now.read >= MAX_READ_S:
            return
        if self._configured is None:
            self._configured = now
        read = min(MAX_READ_S, now.read * 2)
        self._client.timeout = httpx.Timeout(
            connect=now.connect, read=read, write=max(read, now.write or 0.0), pool=now.pool
        )
        logger.info("start-up: the venue answers slowly; its reads now wait up to {:g} s", read)

    def end(self) -> None:
        """Start-up is over: the configured timeouts again."""
        if self._configured is not None:
            self._client.timeout = self._configured
            self._configured = None


class PatientReads:
    """A REST client's ``on_read_retry`` and ``_wait_out``, over its ``_patience``."""

    _patience: ReadPatience

    @property
    def on_read_retry(self) -> ReadRetryHook | None:
        """Set during start-up: a failed read is tried again (told first) instead of raising,
        and a read that timed out makes the next one wait longer. Set back to None when
        start-up ends, which restores the configured timeouts."""
        return self._patience.hook

    @on_read_retry.setter
    def on_read_retry(self, value: ReadRetryHook | None) -> None:
        self._patience.hook = value
        if value is None:
            self._patience.end()

    async def _wait_out(self, exc: VenueError) -> bool:
        return await self._patience.wait_out(exc)
