"""OKX codes → neutral errors and reject kinds; client ids in OKX's format."""

from __future__ import annotations

import pytest

from mmtrio.core.client_ids import ClientIdGenerator
from mmtrio.core.rejects import RejectKind
from mmtrio.errors import AuthError, ClockSkewError, OutcomeUnknownError, RateLimited, VenueError
from mmtrio.venues.okx.client_ids import client_id_format, valid_client_id
from mmtrio.venues.okx.errors import classify, kind_of


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("51400", RejectKind.UNKNOWN_ORDER),
        ("51603", RejectKind.UNKNOWN_ORDER),
        ("51503", RejectKind.UNKNOWN_ORDER),
        ("51511", RejectKind.WOULD_CROSS),
        ("51008", RejectKind.INSUFFICIENT_MARGIN),
        ("51006", RejectKind.INVALID_PRICE),
        ("51121", RejectKind.INVALID_SIZE),
        ("51205", RejectKind.REDUCE_ONLY),
        ("51999", RejectKind.UNKNOWN),  # a code no mapping knows
        (None, RejectKind.UNKNOWN),
    ],
)
def test_kinds(code: str | None, kind: RejectKind) -> None:
    assert kind_of(code) is kind


def test_classify_rules() -> None:
    limited = classify(429, "50011", "Too Many Requests")
    assert isinstance(limited, RateLimited) and limited.retry_after_s == 2.0
    assert isinstance(classify(200, "50061", "order rate"), RateLimited)
    unknown = classify(200, "50004", "endpoint request timeout")
    assert isinstance(unknown, OutcomeUnknownError) and not unknown.definite
    assert isinstance(classify(502, None, ""), OutcomeUnknownError)
    assert isinstance(classify(200, "50102", "Timestamp request expired"), ClockSkewError)
    rejected = classify(200, "51008", "insufficient margin")
    assert rejected.definite and rejected.kind is RejectKind.INSUFFICIENT_MARGIN
    assert type(rejected) is VenueError and rejected.code == "51008"
    odd = classify(200, "59999", "something new")
    assert odd.definite and odd.kind is RejectKind.UNKNOWN


def test_auth_failures_name_the_fix() -> None:
    wrong = classify(401, "50105", "passphrase incorrect", source="MMTRIO_API_KEY")
    assert isinstance(wrong, AuthError) and wrong.source == "MMTRIO_API_KEY"
    assert "passphrase is wrong" in str(wrong) and "MMTRIO_PASSPHRASE" in str(wrong)
    ws = classify(0, "60024", "Wrong passphrase")
    assert isinstance(ws, AuthError) and "passphrase_file" in str(ws)
    env = classify(401, "50101", "APIKey does not match current environment", mode="live")
    assert isinstance(env, AuthError) and "demo (testnet)" in str(env)
    assert isinstance(classify(401, None, ""), AuthError)


def test_client_ids_alphanumeric_at_most_32_and_unique_across_epochs() -> None:
    fmt = client_id_format("mmt")
    ids = ClientIdGenerator(fmt, epoch=0xFFFFFFFF)
    longest = fmt.make(fmt.max_epoch, fmt.max_counter)
    assert valid_client_id(longest) and len(longest) <= 32
    a = ClientIdGenerator(fmt, epoch=7).next()
    b = ClientIdGenerator(fmt, epoch=8).next()
    assert a != b and a.isalnum() and fmt.parse(a) == (7, 0)
    assert ids.next().isalnum()
    assert not valid_client_id("mmt-1") and not valid_client_id("x" * 33)
