"""[venue] market_silence_s: checked with the key named, and carried to the venue's streams."""

from __future__ import annotations

from typing import Any

import pytest

from mmtrio.cli.venue import check_venue, live_settings
from mmtrio.config import diff_reload
from mmtrio.venues.protocol import SessionHooks, VenueCredentials
from mmtrio.venues.silence import DEFAULT_MARKET_SILENCE_S
from tests.unit.test_config import LIVE, parse, problems, with_changes

KEY = "venue.market_silence_s"


def test_the_default_is_ten_seconds_and_zero_turns_it_off() -> None:
    assert parse(with_changes()).venue.market_silence_s == DEFAULT_MARKET_SILENCE_S == 10.0
    assert parse(with_changes(venue__market_silence_s=0.0)).venue.market_silence_s == 0.0
    assert parse(with_changes(venue__market_silence_s=1)).venue.market_silence_s == 1.0


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (0.5, "must be 0 (off) or at least 1.0 s"),
        (-1.0, "0.0 ≤ value ≤ 3600.0"),
        (7200.0, "0.0 ≤ value ≤ 3600.0"),
        ("10", "number"),
        (True, "number"),
    ],
)
def test_a_bad_value_is_refused_with_the_key_named(value: Any, says: str) -> None:
    found = problems(with_changes(venue__market_silence_s=value))
    assert KEY in found, found
    assert says in found[KEY], found[KEY]


def test_it_needs_a_restart() -> None:
    old = parse(with_changes())
    new = parse(with_changes(venue__market_silence_s=30.0))
    plan = diff_reload(old, new)
    assert [c.key for c in plan.refused] == [KEY] and plan.changes == ()


async def test_the_limit_reaches_the_market_stream_and_not_the_user_stream() -> None:
    config = parse(with_changes(**LIVE, venue__market_silence_s=25.0))
    settings = live_settings(config, check_venue(config))
    assert settings.market_silence_s == 25.0
    from mmtrio.venues.binance.codec import BinanceDecoder
    from mmtrio.venues.binance.venue import BinanceSession

    session = BinanceSession(settings, VenueCredentials("k", "s"), SessionHooks(lambda: 0))
    try:
        from mmtrio.core.instruments import BTCUSDT

        session.rest.decoder = BinanceDecoder([BTCUSDT])
        market: Any = session.market_feed(BTCUSDT)
        user: Any = session.user_feed(BTCUSDT)
        assert market.silence.limit_s == 25.0
        assert user.silence.limit_s is None
    finally:
        await session.aclose()
