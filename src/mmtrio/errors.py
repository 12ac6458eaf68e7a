"""The error hierarchy: every error carries an operator-readable message.

Validation never uses ``assert`` (it vanishes under ``python -O``); it raises one of these,
naming what is wrong and, where there is one, what to do about it.
"""

from __future__ import annotations

import math

from mmtrio.core.rejects import RejectKind


class MmtrioError(Exception):
    """Base of every error mmtrio raises on purpose."""


class ConfigError(MmtrioError):
    """A configuration file or value is invalid."""


class InstrumentError(MmtrioError):
    """A price or size does not fit the instrument's grid or bounds."""


class OffGridPriceError(InstrumentError):
    """A price is not a whole number of ticks."""


class OffGridQtyError(InstrumentError):
    """A quantity is not a whole number of lot steps."""


class QtyOutOfRangeError(InstrumentError):
    """A quantity is zero, negative, below the minimum or above the maximum."""


class PriceOutOfRangeError(InstrumentError):
    """A price is zero, negative or outside the instrument's price filter."""


class MinNotionalError(InstrumentError):
    """An order's notional value is below the venue's minimum."""


class ParameterError(MmtrioError):
    """A model parameter is NaN, infinite or out of its allowed range."""


class BookError(MmtrioError):
    """The local order book cannot be used (out of sync, crossed, empty)."""


class SequenceGapError(BookError):
    """A depth diff does not continue the previous one: the book must be resynced."""


class OrderStateError(MmtrioError):
    """An order event does not fit the order's transition table."""


class ProtocolError(MmtrioError):
    """A venue payload is malformed or does not match the documented protocol."""


class VenueError(MmtrioError):
    """A venue answered with an error, in neutral terms (every venue package raises these).

    ``definite`` is True when the venue certainly did not act on the request (a rejection,
    whose ``kind`` says why); False when the outcome is unknown (timeout, 5xx, the venue's own
    "unknown" codes) and must be resolved by a query before anything is resubmitted.
    ``code`` is the venue's own code as text ("-5022", "51008", ""), for logs only: no
    decision outside the venue package reads it. ``status`` is the HTTP status (0 for a
    websocket answer or no answer).
    """

    def __init__(
        self,
        msg: str,
        *,
        kind: RejectKind = RejectKind.UNKNOWN,
        code: str = "",
        status: int = 0,
        definite: bool = True,
    ) -> None:
        where = f"HTTP {status}" if status else "venue"
        said = f"{code}: " if code else ""
        super().__init__(f"{where} error {said}{msg} ({kind.value})")
        self.kind = kind
        self.code = code
        self.msg = msg
        self.status = status
        self.definite = definite


class RateLimited(VenueError):
    """A request or order-rate limit answer: no request before ``retry_after_s`` has passed.

    ``banned`` is True when the venue has banned us for ignoring earlier limits (Binance HTTP
    418): the client has already failed; never retry into it. The request was rejected.
    """

    def __init__(
        self,
        msg: str,
        *,
        code: str = "",
        status: int = 0,
        retry_after_s: float | None,
        banned: bool = False,
    ) -> None:
        super().__init__(msg, kind=RejectKind.RATE_LIMITED, code=code, status=status, definite=True)
        self.retry_after_s = retry_after_s
        self.banned = banned


class ClockSkewError(VenueError):
    """The request's timestamp (or nonce) was outside the venue's window: our clock, or our
    offset to the venue's, is off. The venue refuses such a request before processing it, so
    the refusal is definite (kind ``CLOCK_SKEW``); the caller re-measures the offset."""

    def __init__(self, msg: str, *, code: str = "", status: int = 0) -> None:
        super().__init__(msg, kind=RejectKind.CLOCK_SKEW, code=code, status=status, definite=True)


class AuthError(VenueError):
    """The venue refused our credentials (bad key, signature, passphrase or permission).

    No retry can help, so the bot stops with the fix named: ``source`` says where the key
    came from (an environment variable or a credential file), never the key itself.
    """

    def __init__(self, msg: str, *, code: str = "", status: int = 0, source: str = "") -> None:
        super().__init__(msg, kind=RejectKind.AUTH, code=code, status=status, definite=True)
        self.source = source


class AccountError(MmtrioError):
    """The venue account cannot be traded as configured (position mode, trading permission,
    leverage, balance): refused at start with the account's value and the fix, exit 2."""


class OutcomeUnknownError(VenueError):
    """The request may or may not have been executed (5xx, timeout after the bytes left).

    Resolve by querying the client order id before resubmitting anything.
    """

    def __init__(self, msg: str, *, code: str = "", status: int = 0) -> None:
        super().__init__(msg, kind=RejectKind.UNKNOWN, code=code, status=status, definite=False)


class ConnectionFailed(VenueError):
    """The request never left (connect failed or timed out, pool exhausted): definite."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg, kind=RejectKind.UNKNOWN, definite=True)


def parse_retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds; None when absent or unreadable."""
    if value is None:
        return None
    try:
        secs = float(value)
    except ValueError:
        return None
    return secs if math.isfinite(secs) and secs >= 0 else None


class StartupTimeout(MmtrioError):
    """Start-up (clock sync, instrument, reconciliation, the dead-man's first arm) did not
    finish within its deadline: the venue answers too slowly or not at all."""


class JournalError(MmtrioError):
    """The journal is damaged, locked by another bot, or cannot be written."""


class StateDirError(JournalError):
    """This bot cannot use the configured state directory (a usage error: exit 2)."""


class StateDirInUseError(StateDirError):
    """Another mmtrio process holds this state directory's lock."""


class StateDirMismatchError(StateDirError):
    """The state directory's journal belongs to a bot on another venue or mode: a journal's
    positions, trade ids and orders are one venue account's, never to be mixed."""


class DataFileError(ProtocolError):
    """A recorded-data file is missing, unreadable or not a recording (names the file)."""
