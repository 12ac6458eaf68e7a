"""Client order ids: the generic generator, each venue's format, parsing, exhaustion."""

from __future__ import annotations

import re

import pytest

from mmtrio.core.client_ids import ClientIdGenerator, HexIdFormat
from mmtrio.errors import ConfigError
from mmtrio.venues.binance.client_ids import client_id_format, valid_client_id


def test_client_id_generator_on_binance_format() -> None:
    gen = ClientIdGenerator(client_id_format("mmt-"), epoch=0x2A)
    a, b = gen.next(), gen.next()
    assert (a, b) == ("mmt-2a-0", "mmt-2a-1")
    assert valid_client_id(a) and valid_client_id(b)
    assert gen.parse(b) == (0x2A, 1)
    assert gen.is_ours(a)
    assert not gen.is_ours("autoclose-123")
    assert gen.parse("mmt-2a") is None
    assert gen.parse("mmt-2A-1") is None  # not canonical
    assert gen.parse("mmt-02a-1") is None
    # restarts use the next epoch: no collision with the previous run
    restarted = ClientIdGenerator(client_id_format("mmt-"), epoch=0x2B)
    assert restarted.next() not in {a, b}
    assert restarted.is_ours(a)  # orders of an earlier run are ours too
    assert ClientIdGenerator(client_id_format("x"), 1, start=255).next() == "x1-ff"


def test_a_venue_format_with_its_own_alphabet_and_length() -> None:
    # OKX-like: alphanumeric only, 32 characters: a letter separates epoch and counter.
    okx_like = HexIdFormat("mmt", sep="x", max_len=32, allowed=re.compile(r"^[A-Za-z0-9]{1,32}$"))
    gen = ClientIdGenerator(okx_like, epoch=5, start=16**12 - 1)
    cid = gen.next()
    assert cid == "mmt5x" + "f" * 12 and len(cid) <= 32
    assert gen.parse(cid) == (5, 16**12 - 1)
    with pytest.raises(ConfigError, match="hex digit"):
        HexIdFormat("m", sep="a", max_len=32, allowed=re.compile(r"^[A-Za-z0-9]+$"))


@pytest.mark.parametrize("prefix", ["", "bad prefix", "é", "a" * 20, "x#"])
def test_client_id_bad_prefix(prefix: str) -> None:
    with pytest.raises(ConfigError, match="prefix"):
        client_id_format(prefix)


def test_client_id_bad_epoch_or_start() -> None:
    fmt = client_id_format("mm")
    with pytest.raises(ConfigError, match="epoch"):
        ClientIdGenerator(fmt, epoch=-1)
    with pytest.raises(ConfigError, match="epoch"):
        ClientIdGenerator(fmt, epoch=16**12)
    with pytest.raises(ConfigError, match="start"):
        ClientIdGenerator(fmt, epoch=1, start=-1)


def test_client_id_counter_exhaustion() -> None:
    gen = ClientIdGenerator(client_id_format("mm"), epoch=1, start=16**12 - 1)
    last = gen.next()
    assert len(last) <= 36 and valid_client_id(last)
    with pytest.raises(ConfigError, match="epoch"):
        gen.next()
