"""A wrong API secret at start: one clear line, exit 2, nothing sent after the first refusal
(issue #20, finding 5).

It used to print ``the bot crashed: VenueError … -1022`` with a traceback, retry the
shutdown cancel-all 60 times (each refused again), and exit 1 with "check the account now".
A key the venue refuses is bad input, like a bad config: exit 2, with a line naming where
the key and secret came from, and the venue hears nothing more after it said no.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trio
from loguru import logger

from mmtrio.cli.venue import check_venue, live_settings
from mmtrio.config import load_config, load_venue_credentials
from mmtrio.runtime.engine import Engine
from tests.integration.sim_helpers import KEY, running_sim
from tests.integration.test_run_engine import write_config

EXIT_USAGE = 2


def _binance_config(tmp: Path, rest: str, ws: str) -> Path:
    path = write_config(tmp)
    text = path.read_text()
    text = re.sub(
        r'^mode = "paper".*$',
        f'mode = "testnet"\nsymbol = "BTCUSDT"\nrest_url = "{rest}"\n'
        f'market_ws_url = "{ws}"\nprivate_ws_url = "{ws}"',
        text,
        count=1,
        flags=re.M,
    )
    text = text[: text.index("[sim]")] + text[text.index("[quoting]") :]
    path.write_text(text)
    return path


async def test_wrong_secret_at_start_is_one_auth_error_exit_2_and_nothing_more_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMTRIO_API_KEY", KEY)
    monkeypatch.setenv("MMTRIO_API_SECRET", "not-the-secret-the-venue-knows")
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="DEBUG")
    try:
        async with running_sim() as (venue, urls):
            cfg = _binance_config(tmp_path, urls.rest, urls.ws)
            config = load_config(cfg)
            factory = check_venue(config)
            credentials = load_venue_credentials(config.venue, factory.credential_fields)
            assert credentials is not None
            engine = Engine(
                config,
                config_path=cfg,
                venue=factory,
                settings=live_settings(config, factory),
                credentials=credentials,
            )
            with trio.fail_after(30):
                code = await engine.run()
            log = list(venue.request_log)
    finally:
        logger.remove(sink)
    text = "".join(lines)
    assert code == EXIT_USAGE, text[-3000:]
    refused = [i for i, r in enumerate(log) if r.status in (400, 401)]
    assert refused, log
    after = log[refused[0] + 1 :]
    assert after == [], f"sent after the venue refused the credentials: {after}"
    assert "Traceback" not in text and "crashed" not in text, text[-3000:]
    (said,) = [line for line in lines if "refused the API credentials from" in line]
    assert "-1022" in said and "env MMTRIO_API_KEY + env MMTRIO_API_SECRET" in said, said
    assert "not-the-secret" not in text  # the secret itself is never printed
    assert "check the account now" not in text
