"""Client order ids: format, parsing, validation and counter exhaustion."""

from __future__ import annotations

import pytest

from mmtrio.core.client_ids import ClientIdGenerator
from mmtrio.errors import ConfigError


def test_client_id_generator() -> None:
    gen = ClientIdGenerator("mmt-", epoch=0x2A)
    a, b = gen.next(), gen.next()
    assert (a, b) == ("mmt-2a-0", "mmt-2a-1")
    assert gen.parse(b) == (0x2A, 1)
    assert gen.is_ours(a)
    assert not gen.is_ours("autoclose-123")
    assert gen.parse("mmt-2a") is None
    assert gen.parse("mmt-2A-1") is None  # not canonical
    assert gen.parse("mmt-02a-1") is None
    # restarts use the next epoch: no collision with the previous run
    restarted = ClientIdGenerator("mmt-", epoch=0x2B)
    assert restarted.next() not in {a, b}
    assert restarted.is_ours(a)  # orders of an earlier run are ours too
    assert ClientIdGenerator("x", 1, start=255).next() == "x1-ff"


@pytest.mark.parametrize("prefix", ["", "bad prefix", "é", "a" * 20, "x#"])
def test_client_id_bad_prefix(prefix: str) -> None:
    with pytest.raises(ConfigError, match="prefix"):
        ClientIdGenerator(prefix, epoch=1)


def test_client_id_bad_epoch_or_start() -> None:
    with pytest.raises(ConfigError, match="epoch"):
        ClientIdGenerator("mm", epoch=-1)
    with pytest.raises(ConfigError, match="epoch"):
        ClientIdGenerator("mm", epoch=16**12)
    with pytest.raises(ConfigError, match="start"):
        ClientIdGenerator("mm", epoch=1, start=-1)


def test_client_id_counter_exhaustion() -> None:
    gen = ClientIdGenerator("mm", epoch=1, start=16**12 - 1)
    last = gen.next()
    assert len(last) <= 36
    with pytest.raises(ConfigError, match="epoch"):
        gen.next()
