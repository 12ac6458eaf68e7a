"""Start-up's patience with a venue that answers, only slower than the request timeout.

Every REST client tries a failed read again while start-up has set its ``on_read_retry``
(start-up's own deadline bounds it). A read that timed out after it was sent means the venue
may answer, only late: tried again with the same timeout, a venue answering each request in
1.2 s against a 1 s timeout was never heard, and start-up ran into its 30 s deadline (DST
seed 119426: three latency spikes held 22 answers 1.06 to 1.21 s each; the restarted bot's
exchangeInfo and openOrders reads timed out nine times and it stopped with exit 1). So, during
start-up only, each read that timed out doubles the read timeout of the client, up to
:data:`MAX_READ_S`; the end of start-up puts the configured timeout back. Start-up runs before
any order of this process exists, so waiting longer costs nothing but time; once trading, a
request that does not answer within ``execution.request_timeout_ms`` is an unknown outcome, as
configured. The same rule as start-up's first dead-man arm (``runtime/deadman.py``).
"""

from __future__ import annotations

import httpx
from loguru import logger

MAX_READ_S = 5.0  # the longest read timeout start-up's patience grows to


def timed_out(exc: BaseException) -> bool:
    """A request that was sent and got no answer in time (not one that never left)."""
    return isinstance(exc.__cause__, httpx.ReadTimeout)


class ReadPatience:
    """Grows one httpx client's read timeout during start-up; :meth:`end` restores it."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self._configured: httpx.Timeout | None = None  # set while lengthened

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
