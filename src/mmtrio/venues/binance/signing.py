"""HMAC-SHA256 request signing for Binance, with a secret that cannot leak by accident.

The signature covers the exact bytes sent: the query string followed by the body (Binance's
rule when parameters come in both), and is appended as the last parameter. The secret lives
only inside the HMAC key object; ``repr``/``str`` of the Signer are redacted, and the Signer
refuses pickling so it cannot ride along into a journal or a crash dump.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import quote

from mmtrio.errors import ConfigError

Params = list[tuple[str, str]]


def encode_params(params: Params) -> str:
    """``k=v&k=v`` in the given order, percent-encoded exactly as it will be sent."""
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in params)


class Signer:
    """Signs Binance requests. Holds the API key (public id) and the secret (never shown)."""

    __slots__ = ("_api_key", "_mac")

    def __init__(self, api_key: str, secret: str) -> None:
        if not api_key or not secret:
            raise ConfigError(
                "Binance API key and secret must both be set (check the environment/config "
                "that supplies them)"
            )
        self._api_key = api_key
        # Keep only the keyed HMAC state: the raw secret string is not stored on the object.
        self._mac = hmac.new(secret.encode(), digestmod=hashlib.sha256)

    @property
    def api_key(self) -> str:
        return self._api_key

    def signature(self, payload: bytes | str) -> str:
        """Hex HMAC-SHA256 of ``payload`` (query string + body, as sent)."""
        mac = self._mac.copy()
        mac.update(payload.encode() if isinstance(payload, str) else payload)
        return mac.hexdigest()

    def sign_query(self, query: str, body: str = "") -> str:
        """The query string with ``signature`` appended last."""
        sig = self.signature(query + body)
        return f"{query}&signature={sig}" if query else f"signature={sig}"

    def __repr__(self) -> str:
        key = self._api_key
        shown = f"{key[:4]}…" if len(key) > 8 else "…"
        return f"Signer(api_key={shown}, secret=<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[Any, ...]:
        raise TypeError("Signer holds a secret and cannot be pickled or copied")
