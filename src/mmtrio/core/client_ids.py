"""Client order ids: unique across restarts, in the venue's format, recognisable as ours.

Uniqueness comes from an ``(epoch, counter)`` pair: the runtime persists the epoch and
increments it on every start (never derived from the wall clock, which can step backwards);
the counter restarts at 0 in each epoch. How the pair is written is the venue's rule (a
:class:`ClientIdFormat` each venue package supplies: Binance allows 36 characters of
``[.A-Z:/a-z0-9_-]``, OKX 32 alphanumerics, Hyperliquid a 128-bit hex number). The core only
asks a format to write and to read back a pair.

:class:`HexIdFormat` is the common shape (``prefix`` + epoch in hex + separator + counter in
hex); a venue package instantiates it with its own prefix, separator and length rule.

Split out of :mod:`mmtrio.core.orders`, which tracks orders by these ids but does not make them.
"""

from __future__ import annotations

import re
from typing import Final, Protocol

from mmtrio.errors import ConfigError

_HEX = r"(0|[1-9a-f][0-9a-f]*)"  # canonical lowercase hex, as we print it
EPOCH_DIGITS: Final = 8  # 4 billion restarts
COUNTER_DIGITS: Final = 12  # 2.8e14 orders per epoch: 89,000 years at 100 orders/s


class ClientIdFormat(Protocol):
    """How one venue writes our client ids (see the module docstring)."""

    max_epoch: int
    max_counter: int

    def make(self, epoch: int, counter: int) -> str:
        """The id for ``(epoch, counter)``; both already range-checked by the generator."""
        ...

    def parse(self, client_id: str) -> tuple[int, int] | None:
        """``(epoch, counter)`` of an id this format made (any epoch), else None."""
        ...


class HexIdFormat:
    """``f"{prefix}{epoch:x}{sep}{counter:x}"``, bounded to ``max_len`` characters.

    ``allowed`` is the venue's whole-id pattern; the prefix and separator are checked
    against it at construction, so no id this format makes can be refused for its syntax.
    """

    def __init__(self, prefix: str, *, sep: str, max_len: int, allowed: re.Pattern[str]) -> None:
        max_prefix = max_len - EPOCH_DIGITS - len(sep) - COUNTER_DIGITS
        longest = f"{prefix}{'f' * EPOCH_DIGITS}{sep}{'f' * COUNTER_DIGITS}"
        if not prefix or len(prefix) > max_prefix or not allowed.fullmatch(longest):
            raise ConfigError(
                f"client id prefix {prefix!r} is invalid for this venue: use 1-{max_prefix} "
                f"characters matching {allowed.pattern}"
            )
        if sep and re.fullmatch("[0-9a-f]+", sep):
            raise ConfigError(f"client id separator {sep!r} must not be a hex digit")
        self.prefix = prefix
        self.sep = sep
        self.max_epoch = 16**EPOCH_DIGITS - 1
        self.max_counter = 16**COUNTER_DIGITS - 1
        self._pattern = re.compile(re.escape(prefix) + _HEX + re.escape(sep) + _HEX)

    def make(self, epoch: int, counter: int) -> str:
        return f"{self.prefix}{epoch:x}{self.sep}{counter:x}"

    def parse(self, client_id: str) -> tuple[int, int] | None:
        match = self._pattern.fullmatch(client_id)
        if match is None:
            return None
        epoch_hex, counter_hex = match.groups()
        if len(epoch_hex) > EPOCH_DIGITS or len(counter_hex) > COUNTER_DIGITS:
            return None
        return int(epoch_hex, 16), int(counter_hex, 16)


class ClientIdGenerator:
    """Fresh client ids in a venue's format, unique across restarts (module docstring)."""

    def __init__(self, fmt: ClientIdFormat, epoch: int, start: int = 0) -> None:
        if not 0 <= epoch <= fmt.max_epoch:
            raise ConfigError(
                f"client id epoch {epoch} is outside [0, {fmt.max_epoch}]; the runtime "
                f"persists and increments it on each start"
            )
        if not 0 <= start <= fmt.max_counter:
            raise ConfigError(f"client id counter start {start} must be in [0, {fmt.max_counter}]")
        self.format = fmt
        self.epoch = epoch
        self._counter = start

    @property
    def counter(self) -> int:
        """The counter the next id will use."""
        return self._counter

    def next(self) -> str:
        """A fresh client id; raises ConfigError if this epoch's counter is exhausted."""
        if self._counter > self.format.max_counter:
            raise ConfigError(
                f"client id counter exhausted in epoch {self.epoch}; restart with the next epoch"
            )
        cid = self.format.make(self.epoch, self._counter)
        self._counter += 1
        return cid

    def parse(self, client_id: str) -> tuple[int, int] | None:
        """(epoch, counter) of an id of ours (any epoch), else None."""
        return self.format.parse(client_id)

    def is_ours(self, client_id: str) -> bool:
        """True for ids of this bot (current or earlier epoch), False for venue or manual ids."""
        return self.format.parse(client_id) is not None
