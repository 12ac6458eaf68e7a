"""Request parameters and HMAC-SHA256 request signing, as Binance checks them.

The signature is verified over the EXACT bytes the client sent: Binance defines
``totalParams`` as the query string concatenated with the request body (no separator), and
``signature`` is the hex HMAC-SHA256 of ``totalParams`` without the ``signature`` parameter
itself (which the client appends last, in the query string or the body). Re-encoding the
parsed parameters instead would accept signatures the real venue rejects (and vice versa),
so we never do that.

An Ed25519 key (Binance's other symmetric-free scheme): the paper account's ``api_secret`` is
then the PEM private key its clients sign with (a test venue's keys are public anyway), and
the venue checks the base64 Ed25519 signature of the same ``totalParams`` (percent-decoded
from the query string) against the key's public half. The key's scheme decides which check
applies, as on Binance, where each API key has one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, unquote

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from mmtrio.sim.binance.wire import ApiError, illegal, mandatory

_SIG_RE = re.compile(rb"(^|&)signature=([^&]*)")
_INT_RE = re.compile(r"^-?[0-9]{1,20}$")

DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60000
# Binance rejects a timestamp more than 1 s ahead of its clock.
MAX_AHEAD_MS = 1000


@dataclass(frozen=True, slots=True)
class Credentials:
    """The one API key of the paper account. Never printed except by `mmtrio sim` itself."""

    api_key: str
    api_secret: str


# A paper venue: fixed, public test credentials by default (printed by `mmtrio sim --json`).
DEFAULT_CREDENTIALS = Credentials(
    api_key="mmtrio-sim-key",
    api_secret="mmtrio-sim-secret-not-a-real-secret",
)


@lru_cache(maxsize=8)
def ed25519_public_key(secret: str) -> Ed25519PublicKey | None:
    """The public half when ``secret`` is an Ed25519 private key (PEM), else None (HMAC)."""
    if not secret.lstrip().startswith("-----BEGIN"):
        return None
    try:
        key = load_pem_private_key(secret.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    return key.public_key() if isinstance(key, Ed25519PrivateKey) else None


def signature_valid(creds: Credentials, total: bytes, signature: bytes) -> bool:
    """Whether ``signature`` (as sent) signs ``total`` with the paper account's key."""
    public = ed25519_public_key(creds.api_secret)
    if public is None:
        expected = hmac.new(creds.api_secret.encode(), total, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), signature.lower())
    try:
        raw = base64.b64decode(unquote(signature.decode("ascii")), validate=True)
        public.verify(raw, total)
    except (InvalidSignature, binascii.Error, UnicodeDecodeError, ValueError):
        return False
    return True


def check_timestamp(params: dict[str, str], now_ms: int) -> None:
    """``timestamp`` within ``recvWindow`` of the venue's clock (-1021), as Binance checks."""
    timestamp = int_param(params, "timestamp")
    recv_window = int_param(params, "recvWindow", required=False)
    if recv_window is None:
        recv_window = DEFAULT_RECV_WINDOW_MS
    if not 0 < recv_window <= MAX_RECV_WINDOW_MS:
        raise ApiError(-1131, "recvWindow must be less than 60000")
    if timestamp is None:  # unreachable: int_param(required=True) raised already
        raise mandatory("timestamp")
    if timestamp >= now_ms + MAX_AHEAD_MS or now_ms - timestamp > recv_window:
        raise ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")


def parse_params(query: bytes, body: bytes) -> dict[str, str]:
    """Parameters from the query string and a form body; a name sent twice is -1101."""
    params: dict[str, str] = {}
    for raw in (query, body):
        if not raw:
            continue
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            raise ApiError(-1100, "Illegal characters found in a parameter.") from None
        for key, value in parse_qsl(text, keep_blank_values=True):
            if key in params:
                raise ApiError(-1101, f"Duplicate values for parameter '{key}'.")
            params[key] = value
    return params


def int_param(params: dict[str, str], name: str, *, required: bool = True) -> int | None:
    """An integer parameter: missing → -1102 (when required), not an integer → -1100."""
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise mandatory(name)
        return None
    if not _INT_RE.match(value):
        raise illegal(name)
    return int(value)


def _strip_signature(raw: bytes) -> tuple[bytes, bytes | None]:
    match = _SIG_RE.search(raw)
    if match is None:
        return raw, None
    return raw[: match.start()] + raw[match.end() :], match.group(2)


def verify_request(
    creds: Credentials,
    api_key: str | None,
    query: bytes,
    body: bytes,
    *,
    params: dict[str, str],
    now_ms: int,
) -> None:
    """Check key, signature and timestamp of a signed request; raise the Binance error."""
    if not api_key:
        raise ApiError(-2014, "API-key format invalid.", 401)
    if not hmac.compare_digest(api_key.encode(), creds.api_key.encode()):
        raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    query_wo, sig_q = _strip_signature(query)
    body_wo, sig_b = _strip_signature(body)
    signature = sig_q if sig_q is not None else sig_b
    if not signature:
        raise mandatory("signature")
    if not signature_valid(creds, query_wo + body_wo, signature):
        raise ApiError(-1022, "Signature for this request is not valid.")
    check_timestamp(params, now_ms)


def sign(secret: str, total_params: str) -> str:
    """Hex HMAC-SHA256 of ``total_params`` (for tests and the benchmark client)."""
    return hmac.new(secret.encode(), total_params.encode(), hashlib.sha256).hexdigest()
