"""Hyperliquid's client order ids (``cloid``): the one place their rule is written.

The venue takes a 128-bit number written as ``0x`` + 32 hex digits (the SDK's ``Cloid``
type, the TypeScript SDK's ``^0x[a-fA-F0-9]{32}$``). Ours are ``0x`` + the prefix's bytes in
hex (``mmt`` → ``6d6d74``, left-padded to 6 digits) + the epoch (8) + the counter (12) +
``000000``: recognisable among every other 128-bit id by the marker, unique across restarts
by the (epoch, counter) pair the runtime persists. Always lower case: the cloid is part of
the signed action, and the venue compares the hex as text.
"""

from __future__ import annotations

import re

from mmtrio.core.client_ids import COUNTER_DIGITS, EPOCH_DIGITS
from mmtrio.errors import ConfigError

CLOID = re.compile(r"^0x[0-9a-f]{32}$")
MARKER_DIGITS = 6
PAD = "0" * (32 - MARKER_DIGITS - EPOCH_DIGITS - COUNTER_DIGITS)


def valid_cloid(value: str) -> bool:
    """True when the venue would accept ``value`` as a cloid (lower-case, as we send them)."""
    return CLOID.fullmatch(value) is not None


class CloidFormat:
    """Our ids on Hyperliquid (a :class:`~mmtrio.core.client_ids.ClientIdFormat`)."""

    max_epoch = 16**EPOCH_DIGITS - 1
    max_counter = 16**COUNTER_DIGITS - 1

    def __init__(self, prefix: str = "mmt") -> None:
        raw = prefix.encode("ascii", "replace") if isinstance(prefix, str) else b""
        if not 1 <= len(raw) <= MARKER_DIGITS // 2 or not prefix.isascii():
            raise ConfigError(
                f"client id prefix {prefix!r} is invalid for Hyperliquid: use 1-3 ASCII "
                "characters (they become the first 6 hex digits of every cloid)"
            )
        self.prefix = prefix
        self.marker = raw.hex().rjust(MARKER_DIGITS, "0")

    def make(self, epoch: int, counter: int) -> str:
        return f"0x{self.marker}{epoch:0{EPOCH_DIGITS}x}{counter:0{COUNTER_DIGITS}x}{PAD}"

    def parse(self, client_id: str) -> tuple[int, int] | None:
        if not CLOID.fullmatch(client_id) or client_id[2 : 2 + MARKER_DIGITS] != self.marker:
            return None
        body = client_id[2 + MARKER_DIGITS :]
        if not body.endswith(PAD):
            return None
        counter = body[EPOCH_DIGITS : EPOCH_DIGITS + COUNTER_DIGITS]
        return int(body[:EPOCH_DIGITS], 16), int(counter, 16)
