"""The Telegram notifier against a fake Bot API server on loopback (a real HTTP server).

End to end: a paper-trading bot with ``[telegram]`` on sends its start, answers /status,
obeys /kill and /resume from its chat only (a stranger's /kill is ignored), reports the kill
and the halt, and sends the exit summary at the stop. The notifier alone: fills summaries,
the daily P&L, a retry after the server fails, and no token in any log line.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trio
from loguru import logger

from mmtrio.config.notify import TelegramConfig
from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.notices import Notice
from mmtrio.runtime.notifier import TelegramNotifier
from tests.integration.fake_telegram import FakeBotApi, serve_fake
from tests.integration.paper import paper_engine
from tests.integration.test_run_engine import run_engine, write_config
from tests.strategies import sample_status

pytestmark = pytest.mark.integration

TOKEN = "123456:FAKE-token_for-tests"
CHAT, STRANGER = 42, 99


def telegram_config(tmp: Path, url: str) -> Path:
    token_file = tmp / "telegram_token"
    token_file.write_text(TOKEN + "\n")
    os.chmod(token_file, 0o600)
    path = write_config(tmp)
    path.write_text(
        path.read_text().split("\n[telegram]", 1)[0]
        + f'\n[telegram]\nenabled = true\nchat_ids = [{CHAT}]\ntoken_file = "{token_file}"\n'
        f'api_url = "{url}"\nfills_summary_s = 10\n'
    )
    return path


async def test_bot_talks_to_its_chat_and_obeys_only_it(tmp_path: Path) -> None:
    api = FakeBotApi(TOKEN)
    codes: list[int] = []
    async with trio.open_nursery() as nursery:
        url = await nursery.start(serve_fake, api)
        cfg_path = telegram_config(tmp_path, url)
        engine = paper_engine(cfg_path)
        async with trio.open_nursery() as bot:
            bot.start_soon(run_engine, engine, codes)
            await api.wait_for(lambda t: any("started" in x for x in t), 40)
            await api.wait_for(lambda t: any("HALTED -> ACTIVE" in x for x in t), 40)

            api.push(CHAT, "/status")
            await api.wait_for(lambda t: any(x.startswith("binance-paper (BTCUSDT)") for x in t))

            api.push(STRANGER, "/kill")  # not in chat_ids: ignored, never answered
            api.push(CHAT, "/kill news at 14:30")
            await api.wait_for(lambda t: any("kill done" in x for x in t))
            await api.wait_for(lambda t: any("-> HALTED" in x for x in t))
            assert any(x.startswith("🛑") and "news at 14:30" in x for x in api.texts())

            api.push(CHAT, "/resume")
            await api.wait_for(lambda t: any("resume done" in x for x in t))
            api.push(CHAT, "/help")
            await api.wait_for(lambda t: any(x.startswith("commands: /status") for x in t))

            engine.request_stop("test over")
        nursery.cancel_scope.cancel()
    assert codes == [0]
    texts = api.texts(CHAT)
    assert api.texts(STRANGER) == []
    summary = texts[-1]
    assert summary.startswith("mmtrio binance-paper stopped (test over): exit code 0")
    assert "zero open orders confirmed at the venue" in summary
    # The kill named the chat it came from, for the journal and the log.
    assert any("telegram chat 42" in x for x in texts)


async def test_fills_summary_daily_pnl_and_retry(tmp_path: Path) -> None:
    api = FakeBotApi(TOKEN)
    view = sample_status()
    lines: list[str] = []
    handler = logger.add(lambda m: lines.append(str(m)), level="DEBUG")
    try:
        async with trio.open_nursery() as nursery:
            url = await nursery.start(serve_fake, api)
            cfg = TelegramConfig(enabled=True, chat_ids=[CHAT], api_url=url)
            notifier = TelegramNotifier(
                cfg,
                TOKEN,
                bot="btc-a",
                instrument=lambda: BTCUSDT,
                status=lambda: view.strategy,
                control=None,
                wall_ms=lambda: 1_723_161_600_000,
            )
            await nursery.start(notifier.run)
            for side in ("BUY", "SELL", "BUY"):
                notifier.on_notice(
                    Notice("fill", 0, "fill", {"side": side, "qty": 2, "price": 600_000})
                )
            summary = notifier.fills_summary()
            assert notifier.fills_summary() is None  # the tally was reset
            assert summary is not None
            api.fail_next = 2  # Telegram has a bad moment: the message is retried, not lost
            notifier.notify(summary)
            daily = notifier.daily_pnl()
            assert daily is not None
            notifier.notify(daily)
            await api.wait_for(lambda t: len(t) == 2)
            nursery.cancel_scope.cancel()
    finally:
        logger.remove(handler)
    fills, day = api.texts(CHAT)
    assert fills.startswith("btc-a BTCUSDT: 3 fill(s) (buy 2 / sell 1, 0.006 BTC)")
    assert "position +0.004 BTC" in fills and "session P&L +0.83 USDT" in fills
    assert "fees -0.40" in fills  # a cost, negative: the sign the screen uses
    assert day.startswith("btc-a BTCUSDT daily: +0.83 USDT since the last daily message")
    assert any("sendMessage failed: HTTP 500" in line for line in lines)
    assert not any(TOKEN in line for line in lines)


def test_enabled_needs_chats_and_a_private_token(tmp_path: Path) -> None:
    from mmtrio.config.credentials import load_telegram_token
    from mmtrio.errors import ConfigError

    with pytest.raises(ValueError, match="chat_ids"):
        TelegramConfig(enabled=True)
    loose = tmp_path / "token"
    loose.write_text(TOKEN)
    os.chmod(loose, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_telegram_token(loose, {})
    assert load_telegram_token(None, {"MMTRIO_TELEGRAM_TOKEN": TOKEN}) == TOKEN
