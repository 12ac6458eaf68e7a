"""The Hyperliquid L1 signer against independent checks.

1. Known answers: the official SDK's published vectors (``tests/signing_test.py`` of
   hyperliquid-python-sdk: a fixed key, action and nonce with the expected r, s, v), copied
   here as data, for mainnet and testnet, with and without a vault.
2. Differential: our signature equals the SDK's ``sign_l1_action`` (the SDK is a test-only
   dependency) for generated orders, modifies, cancels and schedule-cancels.
3. The EIP-712 digest equals eth-account's ``encode_typed_data`` of the phantom agent.
4. Recovery returns the signer; a changed action, nonce or network recovers someone else.
"""

from __future__ import annotations

import pickle
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmtrio.core.commands import PlaceOrder
from mmtrio.core.events import Side, TimeInForce
from mmtrio.errors import ConfigError, ProtocolError
from mmtrio.venues.hyperliquid.client_ids import CloidFormat
from mmtrio.venues.hyperliquid.codec_exchange import (
    cancel_cloid_action,
    place_action,
    schedule_cancel_action,
)
from mmtrio.venues.hyperliquid.codec_info import instrument_of
from mmtrio.venues.hyperliquid.signing import (
    AgentKey,
    L1Signer,
    Signature,
    action_hash,
    agent_digest,
    recover_l1_signer,
)

KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
VAULT = "0x1719884eb866cb12b2287399b15f7db5e7d775ea"
DUMMY = {"type": "dummy", "num": 100000000000}  # float_to_int_for_hashing(1000)


def order_action(cloid: str | None = None, tpsl: bool = False) -> dict[str, object]:
    # What the SDK's order_request_to_order_wire makes of {coin ETH (asset 1), buy 100 @ 100}.
    t: dict[str, object] = (
        {"trigger": {"isMarket": True, "triggerPx": "103", "tpsl": "sl"}}
        if tpsl
        else {"limit": {"tif": "Gtc"}}
    )
    wire: dict[str, object] = {"a": 1, "b": True, "p": "100", "s": "100", "r": False, "t": t}
    if cloid is not None:
        wire["c"] = cloid
    return {"type": "order", "orders": [wire], "grouping": "na"}


# (action, vault, mainnet, r, s, v) from hyperliquid-python-sdk tests/signing_test.py.
VECTORS = [
    (DUMMY, None, True,
     "0x53749d5b30552aeb2fca34b530185976545bb22d0b3ce6f62e31be961a59298",
     "0x755c40ba9bf05223521753995abb2f73ab3229be8ec921f350cb447e384d8ed8", 27),
    (DUMMY, None, False,
     "0x542af61ef1f429707e3c76c5293c80d01f74ef853e34b76efffcb57e574f9510",
     "0x17b8b32f086e8cdede991f1e2c529f5dd5297cbe8128500e00cbaf766204a613", 28),
    (order_action(), None, True,
     "0xd65369825a9df5d80099e513cce430311d7d26ddf477f5b3a33d2806b100d78e",
     "0x2b54116ff64054968aa237c20ca9ff68000f977c93289157748a3162b6ea940e", 28),
    (order_action(), None, False,
     "0x82b2ba28e76b3d761093aaded1b1cdad4960b3af30212b343fb2e6cdfa4e3d54",
     "0x6b53878fc99d26047f4d7e8c90eb98955a109f44209163f52d8dc4278cbbd9f5", 27),
    (order_action("0x00000000000000000000000000000001"), None, True,
     "0x41ae18e8239a56cacbc5dad94d45d0b747e5da11ad564077fcac71277a946e3",
     "0x3c61f667e747404fe7eea8f90ab0e76cc12ce60270438b2058324681a00116da", 27),
    (order_action("0x00000000000000000000000000000001"), None, False,
     "0xeba0664bed2676fc4e5a743bf89e5c7501aa6d870bdb9446e122c9466c5cd16d",
     "0x7f3e74825c9114bc59086f1eebea2928c190fdfbfde144827cb02b85bbe90988", 28),
    (DUMMY, VAULT, True,
     "0x3c548db75e479f8012acf3000ca3a6b05606bc2ec0c29c50c515066a326239",
     "0x4d402be7396ce74fbba3795769cda45aec00dc3125a984f2a9f23177b190da2c", 28),
    (DUMMY, VAULT, False,
     "0xe281d2fb5c6e25ca01601f878e4d69c965bb598b88fac58e475dd1f5e56c362b",
     "0x7ddad27e9a238d045c035bc606349d075d5c5cd00a6cd1da23ab5c39d4ef0f60", 27),
    (order_action(tpsl=True), None, True,
     "0x98343f2b5ae8e26bb2587daad3863bc70d8792b09af1841b6fdd530a2065a3f9",
     "0x6b5bb6bb0633b710aa22b721dd9dee6d083646a5f8e581a20b545be6c1feb405", 27),
    ({"type": "scheduleCancel"}, None, True,
     "0x6cdfb286702f5917e76cd9b3b8bf678fcc49aec194c02a73e6d4f16891195df9",
     "0x6557ac307fa05d25b8d61f21fb8a938e703b3d9bf575f6717ba21ec61261b2a0", 27),
    ({"type": "scheduleCancel"}, None, False,
     "0xc75bb195c3f6a4e06b7d395acc20bbb224f6d23ccff7c6a26d327304e6efaeed",
     "0x342f8ede109a29f2c0723bd5efb9e9100e3bbb493f8fb5164ee3d385908233df", 28),
    ({"type": "scheduleCancel", "time": 123456789}, None, True,
     "0x609cb20c737945d070716dcc696ba030e9976fcf5edad87afa7d877493109d55",
     "0x16c685d63b5c7a04512d73f183b3d7a00da5406ff1f8aad33f8ae2163bab758b", 28),
    ({"type": "scheduleCancel", "time": 123456789}, None, False,
     "0x4e4f2dbd4107c69783e251b7e1057d9f2b9d11cee213441ccfa2be63516dc5bc",
     "0x706c656b23428c8ba356d68db207e11139ede1670481a9e01ae2dfcdb0e1a678", 27),
]  # fmt: skip


@pytest.mark.parametrize(("action", "vault", "mainnet", "r", "s", "v"), VECTORS)
def test_known_answers(
    action: dict[str, object], vault: str | None, mainnet: bool, r: str, s: str, v: int
) -> None:
    sig = L1Signer(AgentKey(KEY), mainnet=mainnet, vault=vault).sign(action, 0)
    assert (sig.r, sig.s, sig.v) == (int(r, 16), int(s, 16), v)


def test_phantom_agent_connection_id_matches_production() -> None:
    # SDK test_phantom_agent_creation_matches_production: ETH (asset 4 then), Ioc buy.
    action = {
        "type": "order",
        "orders": [{"a": 4, "b": True, "p": "1670.1", "s": "0.0147", "r": False,
                    "t": {"limit": {"tif": "Ioc"}}}],
        "grouping": "na",
    }  # fmt: skip
    assert action_hash(action, 1677777606040).hex() == (
        "0fcbeda5ae3c4950a548021552a4fea2226858c4453571bf3f24ba017eac2908"
    )


INST = instrument_of("BTC", 5)  # tick 0.1, lot 0.00001
ids = CloidFormat("mmt")


@st.composite
def actions(draw: st.DrawFn) -> dict[str, object]:
    kind = draw(st.sampled_from(["order", "cancel", "schedule", "disarm"]))
    cloid = ids.make(draw(st.integers(0, 2**32 - 1)), draw(st.integers(0, 2**48 - 1)))
    if kind == "order":
        price = INST.floor_price(draw(st.integers(1, 2_000_000_000)))
        cmd = PlaceOrder(
            cloid, "BTC", draw(st.sampled_from(list(Side))), price,
            draw(st.integers(1, 10**9)), draw(st.sampled_from(list(TimeInForce))),
            draw(st.booleans()),
        )  # fmt: skip
        return place_action(draw(st.integers(0, 300)), INST, cmd)
    if kind == "cancel":
        return cancel_cloid_action(draw(st.integers(0, 300)), cloid)
    if kind == "schedule":
        return schedule_cancel_action(draw(st.integers(1, 2**62)))
    return schedule_cancel_action(None)


@settings(max_examples=60, deadline=None)
@given(
    action=actions(),
    nonce=st.integers(0, 2**63),
    mainnet=st.booleans(),
    vault=st.none() | st.just(VAULT),
    expires=st.none() | st.integers(0, 2**63),
)
def test_same_signature_as_the_official_sdk(
    action: dict[str, object], nonce: int, mainnet: bool, vault: str | None, expires: int | None
) -> None:
    eth_account = pytest.importorskip("eth_account")
    sdk = pytest.importorskip("hyperliquid.utils.signing")
    wallet = eth_account.Account.from_key(KEY)
    theirs = sdk.sign_l1_action(wallet, action, vault, nonce, expires, mainnet)
    ours = L1Signer(AgentKey(KEY), mainnet=mainnet, vault=vault).sign(action, nonce, expires)
    assert (ours.r, ours.s, ours.v) == (int(theirs["r"], 16), int(theirs["s"], 16), theirs["v"])


@settings(max_examples=40, deadline=None)
@given(connection_id=st.binary(min_size=32, max_size=32), mainnet=st.booleans())
def test_digest_is_eth_accounts_eip712_encoding(connection_id: bytes, mainnet: bool) -> None:
    messages = pytest.importorskip("eth_account.messages")
    from eth_utils.crypto import keccak

    typed = {
        "domain": {"chainId": 1337, "name": "Exchange", "version": "1",
                   "verifyingContract": "0x0000000000000000000000000000000000000000"},
        "types": {
            "Agent": [{"name": "source", "type": "string"},
                      {"name": "connectionId", "type": "bytes32"}],
            "EIP712Domain": [{"name": "name", "type": "string"},
                             {"name": "version", "type": "string"},
                             {"name": "chainId", "type": "uint256"},
                             {"name": "verifyingContract", "type": "address"}],
        },
        "primaryType": "Agent",
        "message": {"source": "a" if mainnet else "b", "connectionId": connection_id},
    }  # fmt: skip
    signable = messages.encode_typed_data(full_message=typed)
    expected = keccak(b"\x19" + signable.version + signable.header + signable.body)
    assert agent_digest(connection_id, mainnet=mainnet) == expected


def test_recovery_names_the_signer_and_nobody_else() -> None:
    key = AgentKey(KEY)
    action = order_action("0x6d6d7400000001000000000007000000")
    sig = L1Signer(key, mainnet=False).sign(action, 1_700_000_000_000)
    assert recover_l1_signer(action, sig, 1_700_000_000_000, mainnet=False) == key.address
    assert recover_l1_signer(action, sig, 1_700_000_000_001, mainnet=False) != key.address
    assert recover_l1_signer(action, sig, 1_700_000_000_000, mainnet=True) != key.address
    other = {**action, "grouping": "normalTpsl"}
    assert recover_l1_signer(other, sig, 1_700_000_000_000, mainnet=False) != key.address
    # The wire form (zero-padded hex) and the SDK's unpadded form read back the same.
    assert Signature.from_wire(sig.to_wire()) == sig
    unpadded = {"r": hex(sig.r), "s": hex(sig.s), "v": sig.v}
    assert Signature.from_wire(unpadded) == sig


def test_the_key_never_shows_and_never_pickles() -> None:
    key = AgentKey(KEY)
    assert key.address == "0x14791697260e4c9a71f18484c9f997b308e59325"  # the SDK tests' wallet
    assert KEY[2:] not in repr(key) and KEY[2:] not in str(L1Signer(key, mainnet=True))
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(key)


@pytest.mark.parametrize(
    "bad", ["", "0x12", "zz" * 32, "0x" + "00" * 32, "0x" + "ff" * 32, KEY + "00"]
)
def test_a_bad_key_is_named_without_echoing_it(bad: str) -> None:
    with pytest.raises(ConfigError) as exc:
        AgentKey(bad)
    assert "private key" in str(exc.value)
    if len(bad) > 8:
        assert bad not in str(exc.value)


@pytest.mark.parametrize(
    "wire",
    [None, {"r": "0x1", "s": "0x1"}, {"r": "1", "s": "0x1", "v": 27},
     {"r": "0x1", "s": "0x1", "v": 29}, {"r": "0x0", "s": "0x1", "v": 27},
     {"r": "0x" + "f" * 64, "s": "0x1", "v": 28}],
)  # fmt: skip
def test_malformed_signatures_are_protocol_errors(wire: object) -> None:
    with pytest.raises(ProtocolError):
        Signature.from_wire(wire)


def test_number_strings_are_part_of_what_is_signed() -> None:
    # "60000" and "60000.0" are different bytes: the venue re-encodes canonically, so an
    # action with trailing zeros would recover a stranger (codec.wire_number prevents it).
    wire = {"a": 0, "b": True, "p": "60000", "s": "0.001", "r": False}
    a = {"type": "order", "orders": [{**wire, "t": {"limit": {"tif": "Alo"}}}], "grouping": "na"}
    b = {**a, "orders": [{**a["orders"][0], "p": "60000.0"}]}  # type: ignore[dict-item]
    assert action_hash(a, 1) != action_hash(b, 1)
    cmd = PlaceOrder(ids.make(1, 1), "BTC", Side.BUY, INST.price_to_ticks(Decimal("60000")), 100)
    assert place_action(0, INST, cmd)["orders"][0]["p"] == "60000"
