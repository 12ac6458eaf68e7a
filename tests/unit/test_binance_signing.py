"""Signing known-answer tests (Binance docs examples) and secret hygiene."""

from __future__ import annotations

import copy
import hashlib
import hmac
import pickle

import pytest

from mmtrio.errors import ConfigError
from mmtrio.venues.binance.signing import Signer, encode_params

# Binance USD-M futures docs example (its secret is "2b5eb11e…"; "NhqPtmd…" is the SPOT docs'
# secret, whose example query is the LTCBTC one below).
FUT_SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
FUT_QUERY = (
    "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC"
    "&recvWindow=5000&timestamp=1591702613943"
)
FUT_SIG = "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
SPOT_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
SPOT_QUERY = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
    "&recvWindow=5000&timestamp=1499827319559"
)
SPOT_SIG = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


def test_known_answers() -> None:
    assert hmac.new(FUT_SECRET.encode(), FUT_QUERY.encode(), hashlib.sha256).hexdigest() == FUT_SIG
    assert Signer("k" * 64, FUT_SECRET).signature(FUT_QUERY) == FUT_SIG
    assert Signer("k" * 64, SPOT_SECRET).signature(SPOT_QUERY) == SPOT_SIG


def test_query_plus_body_and_signature_last() -> None:
    s = Signer("key", SPOT_SECRET)
    q, body = SPOT_QUERY[:40], SPOT_QUERY[40:]
    assert s.signature(q + body) == SPOT_SIG
    signed = s.sign_query(SPOT_QUERY)
    assert signed == f"{SPOT_QUERY}&signature={SPOT_SIG}"
    assert s.sign_query(q, body).endswith(f"&signature={SPOT_SIG}")
    assert encode_params([("a", "x:y/z"), ("b", "1")]) == "a=x%3Ay%2Fz&b=1"


def test_secret_never_shown() -> None:
    s = Signer("vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A", SPOT_SECRET)
    for text in (repr(s), str(s), f"{s}", repr([s])):
        assert SPOT_SECRET not in text and "redacted" in text
        assert "vmPUZE6mv9SD5VNHk4Hl" not in text
    with pytest.raises(TypeError, match="secret"):
        pickle.dumps(s)
    with pytest.raises(TypeError):
        copy.deepcopy(s)
    assert not hasattr(s, "__dict__")  # nothing to dump by accident
    with pytest.raises(ConfigError, match="must both be set"):
        Signer("key", "")


# --- Ed25519 keys ------------------------------------------------------------------------
# RFC 8032 section 7.1, TEST 2: secret key, public key, message 0x72 ("r"), signature.
RFC_SEED = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"
RFC_PUBLIC = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
RFC_SIG = (
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
    "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
)


def ed25519_pem(seed_hex: str) -> str:
    """The PKCS#8 PEM of an Ed25519 private key (what Binance's key generator writes)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_an_ed25519_key_signs_as_rfc_8032_test_2() -> None:
    import base64
    from urllib.parse import quote

    from mmtrio.sim.binance.auth import Credentials, ed25519_public_key, signature_valid
    from mmtrio.venues.binance.signing import Ed25519Signer, make_signer

    pem = ed25519_pem(RFC_SEED)
    signer = make_signer("ed-key", pem)
    assert isinstance(signer, Ed25519Signer) and signer.logs_on
    expected = base64.b64encode(bytes.fromhex(RFC_SIG)).decode()
    assert signer.signature("r") == signer.signature(b"r") == expected
    # In a query string the base64 signature is percent-encoded (+, / and = are not safe).
    assert signer.sign_query("r") == f"r&signature={quote(expected, safe='')}"
    assert "%" in quote(expected, safe="")  # this vector has characters to encode
    # The sim checks it with the public half (RFC: 3d4017c3…).
    public = ed25519_public_key(pem)
    assert public is not None and public.public_bytes_raw().hex() == RFC_PUBLIC
    creds = Credentials("ed-key", pem)
    assert signature_valid(creds, b"r", quote(expected, safe="").encode())  # as in a query
    assert signature_valid(creds, b"r", expected.encode())  # as in a ws-fapi frame
    assert not signature_valid(creds, b"s", expected.encode())
    assert not signature_valid(creds, b"r", b"not base64 !")
    # An HMAC secret is still HMAC.
    assert not make_signer("k", FUT_SECRET).logs_on


def test_an_ed25519_signer_hides_its_key_and_refuses_other_pem_keys() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from mmtrio.venues.binance.signing import make_signer

    pem = ed25519_pem(RFC_SEED)
    signer = make_signer("abcdefghijkl", pem)
    assert "PRIVATE" not in repr(signer) and "redacted" in repr(signer)
    with pytest.raises(TypeError):
        pickle.dumps(signer)
    with pytest.raises(TypeError):
        copy.copy(signer)
    other = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with pytest.raises(ConfigError, match="Ed25519"):
        make_signer("k", other)
    with pytest.raises(ConfigError, match="cannot be read"):
        make_signer("k", "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
