"""OKX request authentication, as OKX checks it: key, passphrase, timestamp, signature.

REST (OKX v5 docs "REST Authentication"): the four ``OK-ACCESS-*`` headers; the signature is
``base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath + body))`` over the EXACT path
(query included) and body bytes the client sent, never a re-encoding of parsed parameters
(that would accept signatures the real venue rejects, and the reverse). The timestamp is ISO
8601 with milliseconds and must be within 30 s of the venue's clock. WebSocket login: the
``login`` op's ``{apiKey, passphrase, timestamp (Unix s), sign}`` with ``sign`` over
``timestamp + "GET/users/self/verify"``.

Each failure is the answer OKX gives (code and message; HTTP 401 for REST), in the order
OKX checks: a missing header, an unknown key, the timestamp, the passphrase, the signature.
This module is the sim's own implementation (it does not use the connector's signer): a
bug in one cannot hide in the other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from mmtrio.errors import MmtrioError

MAX_SKEW_MS = 30_000
VERIFY_PATH = "/users/self/verify"


@dataclass(frozen=True, slots=True)
class OkxCredentials:
    """The paper account's one API key. Never printed except by `mmtrio sim` itself."""

    api_key: str
    api_secret: str
    passphrase: str


class OkxAuthError(MmtrioError):
    """An authentication failure: OKX's ``code`` and ``msg`` (HTTP 401 on REST)."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg


def _b64_hmac(secret: str, text: bytes) -> bytes:
    return base64.b64encode(hmac.new(secret.encode(), text, hashlib.sha256).digest())


def parse_iso_ms(stamp: str) -> int | None:
    """Epoch ms of ``2020-12-08T09:08:57.715Z``; None when it is not that form."""
    if len(stamp) != 24 or not stamp.endswith("Z") or stamp[19] != ".":
        return None
    try:
        dt = datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")
        millis = int(stamp[20:23])
    except ValueError:
        return None
    epoch = datetime(1970, 1, 1)
    return int((dt - epoch).total_seconds()) * 1000 + millis


def verify_rest(
    creds: OkxCredentials,
    headers: dict[str, str],
    method: str,
    raw_path: bytes,
    body: bytes,
    *,
    now_ms: int,
) -> None:
    """Check a signed REST request (``headers`` keyed in lower case); raise OkxAuthError."""
    key = headers.get("ok-access-key", "")
    passphrase = headers.get("ok-access-passphrase")
    sign = headers.get("ok-access-sign", "")
    stamp = headers.get("ok-access-timestamp", "")
    if not key:
        raise OkxAuthError("50103", 'Request header "OK-ACCESS-KEY" cannot be empty.')
    if passphrase is None or passphrase == "":
        raise OkxAuthError("50104", 'Request header "OK-ACCESS-PASSPHRASE" cannot be empty.')
    if not sign:
        raise OkxAuthError("50106", 'Request header "OK-ACCESS-SIGN" cannot be empty.')
    if not stamp:
        raise OkxAuthError("50107", 'Request header "OK-ACCESS-TIMESTAMP" cannot be empty.')
    if not hmac.compare_digest(key.encode(), creds.api_key.encode()):
        raise OkxAuthError("50111", "Invalid OK-ACCESS-KEY.")
    at = parse_iso_ms(stamp)
    if at is None:
        raise OkxAuthError("50112", "Invalid OK-ACCESS-TIMESTAMP.")
    if abs(now_ms - at) > MAX_SKEW_MS:
        raise OkxAuthError("50102", "Timestamp request expired.")
    if not hmac.compare_digest(passphrase.encode(), creds.passphrase.encode()):
        raise OkxAuthError("50105", 'Request header "OK-ACCESS-PASSPHRASE" incorrect.')
    prehash = stamp.encode() + method.upper().encode() + raw_path + body
    if not hmac.compare_digest(_b64_hmac(creds.api_secret, prehash), sign.encode()):
        raise OkxAuthError("50113", "Invalid Sign.")


def verify_login(creds: OkxCredentials, args: object, now_ms: int) -> None:
    """Check a WebSocket ``login`` op's ``args``; raise OkxAuthError with OKX's 600xx code."""
    if not isinstance(args, list) or len(args) != 1 or not isinstance(args[0], dict):
        raise OkxAuthError("60009", "Login failed.")
    arg = args[0]
    fields = [arg.get(k) for k in ("apiKey", "passphrase", "timestamp", "sign")]
    if not all(isinstance(f, str) and f for f in fields):
        raise OkxAuthError("60009", "Login failed.")
    key, passphrase, stamp, sign = (str(f) for f in fields)
    if not hmac.compare_digest(key.encode(), creds.api_key.encode()):
        raise OkxAuthError("60005", "Invalid OK-ACCESS-KEY")
    if not stamp.isdigit():
        raise OkxAuthError("60004", "Invalid timestamp")
    if abs(now_ms - int(stamp) * 1000) > MAX_SKEW_MS:
        raise OkxAuthError("60006", "Timestamp request expired")
    if not hmac.compare_digest(passphrase.encode(), creds.passphrase.encode()):
        raise OkxAuthError("60024", "Wrong passphrase")
    want = _b64_hmac(creds.api_secret, (stamp + "GET" + VERIFY_PATH).encode())
    if not hmac.compare_digest(want, sign.encode()):
        raise OkxAuthError("60007", "Invalid sign")
