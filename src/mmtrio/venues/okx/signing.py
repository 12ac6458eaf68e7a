"""OKX v5 request signing: HMAC-SHA256, base64, with the API key, secret and passphrase.

REST (OKX v5 docs "REST Authentication"; the official SDK's ``okx.utils.sign``)::

    OK-ACCESS-SIGN = base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath + body))

``timestamp`` is ISO 8601 UTC with milliseconds (``2020-12-08T09:08:57.715Z``), the same
string sent as ``OK-ACCESS-TIMESTAMP``; ``requestPath`` includes the query string of a GET;
``body`` is the exact JSON text of a POST (empty for a GET). The key and the passphrase ride
as ``OK-ACCESS-KEY`` and ``OK-ACCESS-PASSPHRASE``. Demo trading adds
``x-simulated-trading: 1`` (its API keys are demo keys; a live key is refused there).

WebSocket login (docs "WebSocket Login"): ``{"op": "login", "args": [{apiKey, passphrase,
timestamp, sign}]}`` where ``timestamp`` is Unix time in **seconds** and ``sign`` signs
``timestamp + "GET" + "/users/self/verify"``.

Like the Binance signer, the secret lives only inside the keyed HMAC state; ``repr`` is
redacted and the signer refuses pickling, so it cannot ride into a journal or a crash dump.
The passphrase is a secret too: it is held, but never shown.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from mmtrio.errors import ConfigError

WS_VERIFY_PATH = "/users/self/verify"
DEMO_HEADER = ("x-simulated-trading", "1")


def iso_timestamp(ms: int) -> str:
    """``OK-ACCESS-TIMESTAMP`` for epoch milliseconds ``ms`` (UTC, millisecond precision)."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


class Signer:
    """Signs OKX requests; holds the key (public id), passphrase and secret (never shown)."""

    __slots__ = ("_api_key", "_mac", "_passphrase")

    def __init__(self, api_key: str, secret: str, passphrase: str) -> None:
        missing = [
            name
            for name, value in (
                ("API key", api_key),
                ("secret", secret),
                ("passphrase", passphrase),
            )
            if not value
        ]
        if missing:
            raise ConfigError(
                f"OKX needs an API key, its secret and its passphrase; missing: "
                f"{', '.join(missing)} (MMTRIO_API_KEY / MMTRIO_API_SECRET / MMTRIO_PASSPHRASE "
                "or the venue.*_file settings)"
            )
        self._api_key = api_key
        self._passphrase = passphrase
        self._mac = hmac.new(secret.encode(), digestmod=hashlib.sha256)

    @property
    def api_key(self) -> str:
        return self._api_key

    def sign(self, prehash: str) -> str:
        """Base64 HMAC-SHA256 of ``prehash``."""
        mac = self._mac.copy()
        mac.update(prehash.encode())
        return base64.b64encode(mac.digest()).decode()

    def rest_headers(
        self, timestamp: str, method: str, path: str, body: str = ""
    ) -> dict[str, str]:
        """The four ``OK-ACCESS-*`` headers for one request (``path`` with its query)."""
        return {
            "OK-ACCESS-KEY": self._api_key,
            "OK-ACCESS-SIGN": self.sign(timestamp + method.upper() + path + body),
            "OK-ACCESS-TIMESTAMP": timestamp,
            "OK-ACCESS-PASSPHRASE": self._passphrase,
        }

    def login_args(self, unix_s: int) -> dict[str, str]:
        """The one ``args`` entry of a WebSocket ``login`` op at Unix time ``unix_s``."""
        ts = str(unix_s)
        return {
            "apiKey": self._api_key,
            "passphrase": self._passphrase,
            "timestamp": ts,
            "sign": self.sign(ts + "GET" + WS_VERIFY_PATH),
        }

    def __repr__(self) -> str:
        key = self._api_key
        shown = f"{key[:4]}…" if len(key) > 8 else "…"
        return f"Signer(api_key={shown}, secret=<redacted>, passphrase=<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[Any, ...]:
        raise TypeError("Signer holds a secret and cannot be pickled or copied")
