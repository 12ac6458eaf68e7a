"""Our client ids on Extended: the order's ``id`` field (Extended calls it ``externalId``).

Extended takes any string as the user-assigned order id (its documentation shows UUIDs,
``ExtId-1`` and the SDK's default, the decimal order hash). Ours are
``mmt<epoch hex>-<counter hex>`` (:class:`~mmtrio.core.client_ids.HexIdFormat`), at most 36
characters of ``[A-Za-z0-9-]``: letters, digits and a dash survive a URL path and query
unescaped (cancel and query address an order by this id).
"""

from __future__ import annotations

import re

from mmtrio.core.client_ids import HexIdFormat

CLIENT_ID = re.compile(r"^[A-Za-z0-9-]{1,36}$")
MAX_LEN = 36


def client_id_format(prefix: str) -> HexIdFormat:
    """Our id format on Extended, with ``prefix`` (validated against the rule)."""
    return HexIdFormat(prefix, sep="-", max_len=MAX_LEN, allowed=CLIENT_ID)
