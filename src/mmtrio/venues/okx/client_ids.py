"""OKX's client-order-id rule (``clOrdId``): the one place it is written.

OKX v5 docs (Place order, ``clOrdId``): "A combination of case-sensitive alphanumerics, all
numbers, or all letters of up to 32 characters." Our ids are ``mmt<epoch hex>x<counter hex>``
(:class:`~mmtrio.core.client_ids.HexIdFormat` with the non-hex separator ``x``), at most
3 + 8 + 1 + 12 = 24 characters, unique across restarts by the persisted epoch. The same rule
bounds the WebSocket request ``id`` (OKX: alphanumeric, at most 32 characters).
"""

from __future__ import annotations

import re

from mmtrio.core.client_ids import HexIdFormat

CLIENT_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
MAX_LEN = 32
SEPARATOR = "x"  # not a hex digit, and alphanumeric as OKX requires


def client_id_format(prefix: str) -> HexIdFormat:
    """Our id format on OKX, with ``prefix`` (validated against the rule)."""
    return HexIdFormat(prefix, sep=SEPARATOR, max_len=MAX_LEN, allowed=CLIENT_ID)


def valid_client_id(client_id: str) -> bool:
    """True when OKX would accept ``client_id`` as a ``clOrdId``."""
    return CLIENT_ID.fullmatch(client_id) is not None
