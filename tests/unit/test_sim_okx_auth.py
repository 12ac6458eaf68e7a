"""The simulated OKX venue's authentication against the connector's signer (two independent
implementations of OKX's rule) and every refusal OKX documents, in OKX's order."""

from __future__ import annotations

import pytest

from mmtrio.sim.okx.auth import (
    OkxAuthError,
    OkxCredentials,
    parse_iso_ms,
    verify_login,
    verify_rest,
)
from mmtrio.venues.okx.signing import Signer, iso_timestamp

CREDS = OkxCredentials("paper-key", "paper-secret", "paper-pass")
NOW = 1_700_000_000_000


def signed(method: str, path: str, body: str = "", *, ms: int = NOW, **over: str) -> dict[str, str]:
    signer = Signer(over.pop("key", "paper-key"), over.pop("secret", "paper-secret"),
                    over.pop("passphrase", "paper-pass"))  # fmt: skip
    headers = signer.rest_headers(iso_timestamp(ms), method, path, body)
    return {k.lower(): v for k, v in headers.items()}


def test_connector_requests_pass() -> None:
    body = '{"instId":"BTC-USDT-SWAP","tdMode":"cross"}'
    verify_rest(CREDS, signed("POST", "/api/v5/trade/order", body), "POST",
                b"/api/v5/trade/order", body.encode(), now_ms=NOW)  # fmt: skip
    path = "/api/v5/trade/order?instId=BTC-USDT-SWAP&clOrdId=a1"
    verify_rest(CREDS, signed("GET", path), "GET", path.encode(), b"", now_ms=NOW + 29_000)
    verify_login(
        CREDS, [Signer("paper-key", "paper-secret", "paper-pass").login_args(NOW // 1000)], NOW
    )
    assert parse_iso_ms(iso_timestamp(NOW + 5)) == NOW + 5


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"drop": "ok-access-key"}, "50103"),
        ({"drop": "ok-access-passphrase"}, "50104"),
        ({"drop": "ok-access-sign"}, "50106"),
        ({"drop": "ok-access-timestamp"}, "50107"),
        ({"key": "other"}, "50111"),
        ({"ms": str(NOW - 31_000)}, "50102"),
        ({"passphrase": "wrong"}, "50105"),
        ({"secret": "wrong"}, "50113"),
        ({"tamper": "1"}, "50113"),
    ],
)
def test_rest_refusals(change: dict[str, str], code: str) -> None:
    drop = change.pop("drop", None)
    tamper = change.pop("tamper", None)
    ms = int(change.pop("ms", NOW))
    headers = signed("GET", "/api/v5/account/balance?ccy=USDT", ms=ms, **change)
    if drop:
        del headers[drop]
    path = b"/api/v5/account/balance?ccy=USDT" + (b"&x=1" if tamper else b"")
    with pytest.raises(OkxAuthError) as err:
        verify_rest(CREDS, headers, "GET", path, b"", now_ms=NOW)
    assert err.value.code == code


@pytest.mark.parametrize(
    ("creds", "at", "code"),
    [
        (OkxCredentials("other", "paper-secret", "paper-pass"), NOW, "60005"),
        (CREDS, NOW - 60_000, "60006"),
        (OkxCredentials("paper-key", "paper-secret", "wrong"), NOW, "60024"),
        (OkxCredentials("paper-key", "wrong", "paper-pass"), NOW, "60007"),
    ],
)
def test_login_refusals(creds: OkxCredentials, at: int, code: str) -> None:
    args = [Signer(creds.api_key, creds.api_secret, creds.passphrase).login_args(at // 1000)]
    with pytest.raises(OkxAuthError) as err:
        verify_login(CREDS, args, NOW)
    assert err.value.code == code
    with pytest.raises(OkxAuthError, match="60009"):
        verify_login(CREDS, [{"apiKey": "paper-key"}], NOW)
