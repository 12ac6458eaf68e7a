"""The shared engine's neutral errors, and the one shape every served error answer has.

The engine never speaks a venue's codes. A request it refuses raises
:class:`~mmtrio.exchange.matching.MatchingReject` (a :class:`~mmtrio.exchange.matching.Refusal`,
whose ``kind`` is the core's :class:`~mmtrio.core.rejects.RejectKind`); a malformed fault or
admin parameter raises :class:`SimBadRequest`; a rate limit raises
:class:`mmtrio.sim.limits.RateLimitHit`. Each front end turns these into its venue's answer.

:class:`WireError` is what a served app (a front end's REST app, the admin app) turns into an
HTTP answer: a status and a body the raiser has already rendered in its protocol.
"""

from __future__ import annotations

import json

from mmtrio.errors import MmtrioError

Headers = list[tuple[bytes, bytes]]


class WireError(MmtrioError):
    """A definite error answer: HTTP ``status``, a rendered ``body()`` and extra ``headers``."""

    def __init__(self, message: str, status: int = 400, headers: Headers | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers: Headers = headers or []

    def body(self) -> bytes:
        return json.dumps({"error": "bad_request", "msg": str(self)}).encode()


class SimBadRequest(WireError):
    """A parameter of an admin or fault request is malformed (names it and what is allowed).

    Served by the admin app as HTTP 400 ``{"error": "bad_request", "msg": ...}``; a front end
    that lets a client reach the same code path says it in its own words.
    """
