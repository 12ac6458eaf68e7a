"""Binance's client-order-id rule (``newClientOrderId``): the one place it is written.

PROTOCOL.md: ``^[.A-Z:/a-z0-9_-]{1,36}$``. Our ids are ``mmt<epoch hex>-<counter hex>``
(:class:`~mmtrio.core.client_ids.HexIdFormat`), at most 36 characters.
"""

from __future__ import annotations

import re

from mmtrio.core.client_ids import HexIdFormat

CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
MAX_LEN = 36


def client_id_format(prefix: str) -> HexIdFormat:
    """Our id format on Binance, with ``prefix`` (validated against the rule)."""
    return HexIdFormat(prefix, sep="-", max_len=MAX_LEN, allowed=CLIENT_ID)


def valid_client_id(client_id: str) -> bool:
    """True when Binance would accept ``client_id`` as a client order id."""
    return CLIENT_ID.fullmatch(client_id) is not None
