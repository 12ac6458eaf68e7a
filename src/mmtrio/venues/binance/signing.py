"""Binance request signing (HMAC-SHA256 or Ed25519), with a secret that cannot leak by accident.

The signature covers the exact bytes sent: the query string followed by the body (Binance's
rule when parameters come in both), and is appended as the last parameter. The secret lives
only inside the key object; ``repr``/``str`` of a signer are redacted, and signers refuse
pickling so they cannot ride along into a journal or a crash dump.

Which scheme is the key's own (Binance "Signed endpoint security"): an HMAC key's secret is a
string, the signature the hex HMAC-SHA256; an Ed25519 key's secret is its private key (PEM,
PKCS#8, as Binance's key generator writes it), the signature the base64 of the Ed25519
signature, percent-encoded in a query string. An Ed25519 key may also log a ws-fapi
connection on (``session.logon``), after which requests there carry no signature
(:mod:`.wsapi`). :func:`make_signer` picks the scheme from the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import quote

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from mmtrio.errors import ConfigError

Params = list[tuple[str, str]]


def encode_params(params: Params) -> str:
    """``k=v&k=v`` in the given order, percent-encoded exactly as it will be sent."""
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in params)


class Signer:
    """Signs Binance requests. Holds the API key (public id) and the secret (never shown)."""

    __slots__ = ("_api_key", "_mac")
    logs_on = False  # an HMAC key signs every ws-fapi request (session.logon is Ed25519 only)

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


class Ed25519Signer:
    """Signs Binance requests with an Ed25519 key: base64 signatures (see the module
    docstring). Holds the API key (public id) and the private key (never shown)."""

    __slots__ = ("_api_key", "_key")
    logs_on = True  # ws-fapi: one session.logon, then unsigned requests

    def __init__(self, api_key: str, private_key_pem: str) -> None:
        if not api_key:
            raise ConfigError("Binance API key must be set (check the environment/config)")
        try:
            key = load_pem_private_key(private_key_pem.encode(), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise ConfigError(
                "the Binance API secret looks like a PEM private key but cannot be read "
                f"({type(exc).__name__}); give the unencrypted Ed25519 private key (PKCS#8 "
                "PEM) that belongs to the API key"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(
                f"the Binance API secret is a {type(key).__name__.removeprefix('_')} PEM key; "
                "Binance signs with HMAC secrets or Ed25519 private keys (an RSA key is not "
                "supported by mmtrio)"
            )
        self._api_key = api_key
        self._key = key

    @property
    def api_key(self) -> str:
        return self._api_key

    def signature(self, payload: bytes | str) -> str:
        """Base64 Ed25519 signature of ``payload`` (as sent; not percent-encoded)."""
        data = payload.encode() if isinstance(payload, str) else payload
        return base64.b64encode(self._key.sign(data)).decode()

    def sign_query(self, query: str, body: str = "") -> str:
        """The query string with ``signature`` (percent-encoded: ``+/=``) appended last."""
        sig = quote(self.signature(query + body), safe="")
        return f"{query}&signature={sig}" if query else f"signature={sig}"

    def __repr__(self) -> str:
        key = self._api_key
        shown = f"{key[:4]}…" if len(key) > 8 else "…"
        return f"Ed25519Signer(api_key={shown}, private_key=<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[Any, ...]:
        raise TypeError("Ed25519Signer holds a private key and cannot be pickled or copied")


AnySigner = Signer | Ed25519Signer


def make_signer(api_key: str, secret: str) -> AnySigner:
    """The signer for the key's scheme: a PEM private key is Ed25519, anything else HMAC."""
    if secret.lstrip().startswith("-----BEGIN"):
        return Ed25519Signer(api_key, secret)
    return Signer(api_key, secret)
