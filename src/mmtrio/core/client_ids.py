"""Client order ids: unique across restarts, valid for Binance, recognisable as ours.

Split out of :mod:`mmtrio.core.orders`, which tracks orders by these ids but does not make them.
"""

from __future__ import annotations

import re
from typing import Final

from mmtrio.errors import ConfigError

_BINANCE_CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
_HEX = r"(0|[1-9a-f][0-9a-f]*)"  # canonical lowercase hex, as we print it
_EPOCH_DIGITS: Final = 8  # 4 billion restarts
_COUNTER_DIGITS: Final = 12  # 2.8e14 orders per epoch: 89,000 years at 100 orders/s
MAX_PREFIX_LEN: Final = 36 - _EPOCH_DIGITS - 1 - _COUNTER_DIGITS


class ClientIdGenerator:
    """Client order ids ``f"{prefix}{epoch:x}-{counter:x}"``, unique across restarts.

    ``epoch`` is persisted by the runtime and incremented on every start (never derived from
    the wall clock, which can step backwards); ``counter`` restarts at ``start`` in each epoch.
    Every id fits Binance's ``^[.A-Z:/a-z0-9_-]{1,36}$``: the prefix is validated here, and
    the epoch and counter are bounded so the id never exceeds 36 characters.
    """

    def __init__(self, prefix: str, epoch: int, start: int = 0) -> None:
        if not prefix or len(prefix) > MAX_PREFIX_LEN or not _BINANCE_CLIENT_ID.fullmatch(prefix):
            raise ConfigError(
                f"client id prefix {prefix!r} is invalid: use 1-{MAX_PREFIX_LEN} characters "
                f"from A-Z a-z 0-9 . : / _ - (Binance newClientOrderId rules)"
            )
        if not 0 <= epoch < 16**_EPOCH_DIGITS:
            raise ConfigError(
                f"client id epoch {epoch} is outside [0, {16**_EPOCH_DIGITS}); the runtime "
                f"persists and increments it on each start"
            )
        if not 0 <= start < 16**_COUNTER_DIGITS:
            raise ConfigError(f"client id counter start {start} must be in [0, 16**12)")
        self.prefix = prefix
        self.epoch = epoch
        self._counter = start
        self._head = f"{prefix}{epoch:x}-"
        self._pattern = re.compile(re.escape(prefix) + _HEX + "-" + _HEX)

    @property
    def counter(self) -> int:
        """The counter the next id will use."""
        return self._counter

    def next(self) -> str:
        """A fresh client id; raises ConfigError if this epoch's counter is exhausted."""
        if self._counter >= 16**_COUNTER_DIGITS:
            raise ConfigError(
                f"client id counter exhausted in epoch {self.epoch}; restart with the next epoch"
            )
        cid = f"{self._head}{self._counter:x}"
        self._counter += 1
        return cid

    def parse(self, client_id: str) -> tuple[int, int] | None:
        """(epoch, counter) of an id this prefix produced (any epoch), else None."""
        match = self._pattern.fullmatch(client_id)
        if match is None:
            return None
        epoch_hex, counter_hex = match.groups()
        if len(epoch_hex) > _EPOCH_DIGITS or len(counter_hex) > _COUNTER_DIGITS:
            return None
        return int(epoch_hex, 16), int(counter_hex, 16)

    def is_ours(self, client_id: str) -> bool:
        """True for ids of this bot (current or earlier epoch), False for venue or manual ids."""
        return self.parse(client_id) is not None
