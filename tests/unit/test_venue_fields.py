"""The readers every venue codec shares (mmtrio.venues.fields) and the venues' own integer
readers: text that is not an ASCII integer is a ProtocolError, never a ValueError."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mmtrio.errors import ProtocolError
from mmtrio.venues import fields
from mmtrio.venues.binance import codec_fields as binance
from mmtrio.venues.extended import fields as extended
from mmtrio.venues.okx import fields as okx

NOT_INTEGERS = ["²", "-²", "١", "--5", "-", "", "1.5", " 7", "+7"]


@pytest.mark.parametrize("text", NOT_INTEGERS)
def test_extended_ids_printed_as_text_must_be_ascii_integers(text: str) -> None:
    # "²".isdigit() is True and int("²") raises ValueError; "--5".lstrip("-") is digits.
    with pytest.raises(ProtocolError, match="'id' must be an integer"):
        extended.get_int({"id": text}, "id", "order")


@pytest.mark.parametrize("text", NOT_INTEGERS)
def test_okx_integer_strings_must_be_ascii_integers(text: str) -> None:
    with pytest.raises(ProtocolError, match="'ts' must be an integer string"):
        okx.get_int_str({"ts": text}, "ts", "trade")


@pytest.mark.parametrize("text", NOT_INTEGERS)
def test_binance_lenient_integers_must_be_ascii_integers(text: str) -> None:
    with pytest.raises(ProtocolError, match="'E' must be an integer"):
        binance.get_int_lenient({"E": text}, "E", "event")


def test_signed_integers_read_as_written() -> None:
    assert extended.get_int({"id": "-12"}, "id", "order") == -12
    assert extended.get_int({"id": 12}, "id", "order") == 12
    assert okx.get_int_str({"ts": "1597026383085"}, "ts", "trade") == 1597026383085
    assert fields.signed_ascii_int("-0") == 0


def test_a_non_object_payload_is_named() -> None:
    for payload in (["a"], "text", 7, None):
        with pytest.raises(ProtocolError, match="expected an object"):
            fields.field(payload, "k", "book")  # type: ignore[arg-type]


def test_booleans_are_not_integers_and_decimals_are_finite() -> None:
    with pytest.raises(ProtocolError, match="must be an integer"):
        fields.get_int({"n": True}, "n", "book")
    with pytest.raises(ProtocolError, match="not finite"):
        fields.get_dec({"x": "NaN"}, "x", "account")
    with pytest.raises(ProtocolError, match="not a decimal number"):
        fields.get_dec({"x": "1e"}, "x", "account")
    assert fields.get_dec({"x": "1.50"}, "x", "account") == Decimal("1.50")
