"""The error hierarchy: every error carries an operator-readable message.

Validation never uses ``assert`` (it vanishes under ``python -O``); it raises one of these,
naming what is wrong and, where there is one, what to do about it.
"""

from __future__ import annotations


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
    """The venue answered with an error code.

    ``definite`` is True when the venue certainly did not act on the request (a rejection);
    False when the outcome is unknown (timeout, 5xx, -1006/-1007) and must be resolved by a
    query before anything is resubmitted.
    """

    def __init__(self, code: int, msg: str, *, status: int = 400, definite: bool = True) -> None:
        super().__init__(f"venue error {code} (HTTP {status}): {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.definite = definite


class VenueAuthError(VenueError):
    """The venue refused our credentials: a wrong key or secret, a key without the needed
    permission, or a source IP the key does not allow. Definite (nothing was done), and no
    signed request can succeed until the operator fixes the key: bad input, not a crash."""


class JournalError(MmtrioError):
    """The journal is damaged, locked by another bot, or cannot be written."""
