"""The REST clients' time budgets, shared by the four venues.

A hung venue must not hang the bot, so every client has explicit budgets. Reading covers the
venue's matching time; beyond it the outcome of an order request is unknown and the caller
resolves it by a query. The session of each venue builds its client with
:func:`request_timeout` of ``execution.request_timeout_ms`` (and gives its websocket order
entry the same figure), so the one setting governs every way an order can leave;
:data:`DEFAULT_TIMEOUT` is for a client built outside a session (tools, tests).
"""

from __future__ import annotations

import httpx

DEFAULT_TIMEOUT = httpx.Timeout(connect=3.0, read=5.0, write=5.0, pool=2.0)


def request_timeout(ms: int) -> httpx.Timeout:
    """The client's budgets for ``execution.request_timeout_ms``: reading and writing get all
    of it, connecting and waiting for a pooled connection no more than the defaults."""
    total = ms / 1000
    return httpx.Timeout(connect=min(3.0, total), read=total, write=total, pool=min(2.0, total))
