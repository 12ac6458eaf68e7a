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
