"""The Telegram notifier against a scripted Bot API (httpx.MockTransport, virtual time).

What the QA pass with a fake Bot API found: a malformed getUpdates answer crashed the bot; a
/resume queued while the bot was down lifted a kill latched before the restart; two bots on
one token fought over getUpdates (409) and obeyed each other's ``/kill@other_bot``; a Telegram
/resume was journalled as coming from the control socket; 429 ``retry_after`` was ignored,
bursts were not paced, drops were silent; the stop summary was not retried.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
import trio
from loguru import logger

from mmtrio.config.notify import TelegramConfig
from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.notices import Notice
from mmtrio.runtime.notifier import TelegramNotifier

TOKEN = "123456:UNIT-token_for-tests"
CHAT = 42
START_MS = 1_790_000_000_000
FRESH = START_MS // 1000 + 5  # a message sent after the start
Answer = Callable[[], Awaitable[httpx.Response]] | httpx.Response | dict[str, Any]


def ok(result: Any) -> dict[str, Any]:
    return {"ok": True, "result": result}


def update(uid: int, text: Any, date: Any = FRESH, chat: int = CHAT) -> dict[str, Any]:
    msg: dict[str, Any] = {"message_id": uid, "chat": {"id": chat}, "text": text}
    if date is not None:
        msg["date"] = date
    return {"update_id": uid, "message": msg}


class Api:
    """Scripted answers per method; sendMessage records (virtual time, chat, text)."""

    def __init__(self) -> None:
        self.polls: list[Answer] = []
        self.sends: list[Answer] = []  # answers for the next sendMessage calls, then ok
        self.me: Answer = ok({"username": "btc_bot"})
        self.sent: list[tuple[float, int, str]] = []
        self.attempts: list[float] = []

    async def handle(self, request: httpx.Request) -> httpx.Response:
        method = request.url.path.rsplit("/", 1)[1]
        args = json.loads(request.content or b"{}")
        if method == "getMe":
            return await self._answer(self.me)
        if method == "getUpdates":
            if not self.polls:
                await trio.sleep_forever()
            return await self._answer(self.polls.pop(0))
        self.attempts.append(trio.current_time())
        if self.sends:
            return await self._answer(self.sends.pop(0))
        self.sent.append((trio.current_time(), int(args["chat_id"]), str(args["text"])))
        return httpx.Response(200, json=ok({"message_id": len(self.sent)}))

    @staticmethod
    async def _answer(a: Answer) -> httpx.Response:
        if isinstance(a, httpx.Response):
            return a
        if isinstance(a, dict):
            return httpx.Response(200 if a.get("ok") else int(a.get("error_code", 400)), json=a)
        return await a()

    def texts(self) -> list[str]:
        return [t for _, _, t in self.sent]


class Control:
    def __init__(self, fail_first: int = 0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_first = fail_first

    async def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(request)
        if self.fail_first > 0:
            self.fail_first -= 1
            raise RuntimeError("handler blew up")
        return {"ok": True}

    def cmds(self) -> list[str]:
        return [r["cmd"] for r in self.requests]


@pytest.fixture
def logs() -> Iterator[list[str]]:
    lines: list[str] = []
    handler = logger.add(
        lambda m: lines.append(str(m).rstrip("\n")), level="DEBUG", format="{level} {message}"
    )
    yield lines
    logger.remove(handler)


def make(
    api: Api, control: Control | None = None, chats: list[int] | None = None
) -> TelegramNotifier:
    cfg = TelegramConfig(enabled=True, chat_ids=chats or [CHAT], api_url="https://tg.test")
    return TelegramNotifier(
        cfg,
        TOKEN,
        bot="btc-a",
        instrument=lambda: BTCUSDT,
        status=lambda: None,
        control=control,
        wall_ms=lambda: START_MS,
        transport=httpx.MockTransport(api.handle),
    )


async def run_until(
    notifier: TelegramNotifier, done: Callable[[], bool], limit_s: float = 600
) -> None:
    """Run the notifier (in its own nursery: an exception from it fails the test) until
    ``done()``, in virtual time."""
    async with trio.open_nursery() as nursery:
        await nursery.start(notifier.run)
        with trio.fail_after(limit_s):
            while not done():  # noqa: ASYNC110 - a condition on the fake's records
                await trio.sleep(0.5)
        nursery.cancel_scope.cancel()


# --- 1. malformed answers never crash the bot -------------------------------------------------
async def _html_502() -> httpx.Response:
    return httpx.Response(502, text="<html><body>502 Bad Gateway</body></html>")


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        (ok(5), "result is int, not a list"),
        (ok({"update_id": 1}), "result is dict, not a list"),
        (ok(None), "result is NoneType, not a list"),
        (ok([7]), "int, not an object"),
        (ok([update(1, 12345)]), "text is int, not a string"),
        (ok([{"update_id": 1, "message": "hi"}]), "message is not an object"),
        (_html_502, "HTTP 502 (not JSON)"),
    ],
)
async def test_a_malformed_getupdates_answer_is_skipped_with_a_warning(
    autojump_clock: trio.abc.Clock, logs: list[str], bad: Answer, says: str
) -> None:
    api, control = Api(), Control()
    api.polls = [bad, bad, ok([update(2, "/status")])]
    notifier = make(api, control)
    await run_until(notifier, lambda: control.cmds() == ["status"])
    warnings = [line for line in logs if line.startswith("WARNING") and says in line]
    malformed = [line for line in warnings if "malformed" in line]
    # Once per kind for a malformed shape; a failed request is logged each time.
    assert len(malformed) == 1 or (says.startswith("HTTP") and len(warnings) == 2)


async def test_an_exception_in_a_telegram_task_never_reaches_the_bot(
    autojump_clock: trio.abc.Clock, logs: list[str]
) -> None:
    api, control = Api(), Control(fail_first=1)
    api.polls = [ok([update(1, "/status")]), ok([update(2, "/status")])]
    notifier = make(api, control)
    await run_until(notifier, lambda: len(control.requests) == 2)
    assert any(line.startswith("ERROR telegram poller task failed") for line in logs)
    assert any("trading goes on" in line for line in logs)


async def test_the_start_is_logged_with_chats_and_commands(
    autojump_clock: trio.abc.Clock, logs: list[str]
) -> None:
    notifier = make(Api(), Control(), chats=[CHAT, -100])
    await run_until(notifier, lambda: True)
    assert "INFO telegram: enabled, 2 chat(s), commands on" in logs


def test_a_kill_before_the_instrument_is_known_is_queued_not_raised() -> None:
    notifier = make(Api())
    notifier._instrument = lambda: None  # the trading loop calls on_notice: it must not raise
    notifier.on_notice(Notice("alert", 0, "kill switch: operator", {}))
    notifier.on_notice(Notice("state_change", 0, "ACTIVE -> HALTED (kill)", {}))
    assert [m.text for m in notifier._queue] == [
        "🛑 btc-a: kill switch: operator",
        "btc-a: ACTIVE -> HALTED (kill)",
    ]


# --- 2. a command sent before the start is not obeyed -------------------------------------------
@pytest.mark.parametrize("date", [START_MS // 1000 - 3600, None, "yesterday", 0])
async def test_a_stale_resume_does_not_lift_a_kill(
    autojump_clock: trio.abc.Clock, logs: list[str], date: Any
) -> None:
    api, control = Api(), Control()
    api.polls = [ok([update(1, "/resume", date=date)]), ok([update(2, "/status")])]
    notifier = make(api, control)
    await run_until(notifier, lambda: control.cmds() == ["status"] and len(api.sent) == 2)
    assert control.cmds() == ["status"]  # never "resume"
    refusal = api.texts()[0]
    assert refusal.startswith("btc-a: ignored '/resume': ")
    assert "before this bot started (2026-09-21 " in refusal
    assert refusal.endswith("Send it again if you still mean it.")
    if date == START_MS // 1000 - 3600:
        assert "sent 2026-09-21 " in refusal
    assert any(line.startswith("WARNING telegram: ignored '/resume' from chat 42") for line in logs)


# --- 3. several bots on one token ---------------------------------------------------------------
async def test_409_conflict_is_one_clear_error_then_every_few_minutes(
    autojump_clock: trio.abc.Clock, logs: list[str]
) -> None:
    conflict = {
        "ok": False,
        "error_code": 409,
        "description": "Conflict: terminated by other getUpdates request",
    }
    api = Api()
    api.polls = [conflict] * 20  # 30 s apart: 10 minutes of conflict
    notifier = make(api, Control())
    await run_until(notifier, lambda: not api.polls)
    errors = [line for line in logs if line.startswith("ERROR") and "409" in line]
    assert 1 <= len(errors) <= 3  # not 20
    assert "another process polls this bot token" in errors[0]
    assert "commands are NOT being received" in errors[0]
    assert "commands = false" in errors[0]


async def test_a_command_for_another_bot_is_ignored(
    autojump_clock: trio.abc.Clock, logs: list[str]
) -> None:
    api, control = Api(), Control()
    api.polls = [
        ok([update(1, "/kill@eth_paper_bot news"), update(2, "/status@BTC_bot")]),
    ]
    notifier = make(api, control)
    await run_until(notifier, lambda: len(api.sent) == 1)
    assert control.cmds() == ["status"]  # the kill was for the ETH bot
    assert notifier.username == "btc_bot"
    assert any("ignored /kill@eth_paper_bot from chat 42" in line for line in logs)
    # getMe failed: the suffix cannot be checked, and the command is obeyed (as before).
    api, control = Api(), Control()
    api.me = {"ok": False, "error_code": 404, "description": "Not Found"}
    api.polls = [ok([update(1, "/status@whoever")])]
    await run_until(make(api, control), lambda: len(api.sent) == 1)
    assert control.cmds() == ["status"]


# --- 4. /resume names its source ----------------------------------------------------------------
async def test_a_telegram_resume_names_the_chat(autojump_clock: trio.abc.Clock) -> None:
    api, control = Api(), Control()
    api.polls = [ok([update(1, "/resume"), update(2, "/kill")])]
    await run_until(make(api, control), lambda: len(api.sent) == 2)
    assert control.requests[0] == {"cmd": "resume", "reason": "operator resume (telegram chat 42)"}
    assert control.requests[1]["reason"] == "operator kill (telegram chat 42)"


# --- 5. 429, pacing, drops ----------------------------------------------------------------------
TOO_MANY = {
    "ok": False,
    "error_code": 429,
    "description": "Too Many Requests: retry after 20",
    "parameters": {"retry_after": 20},
}


async def test_429_retry_after_is_honoured(autojump_clock: trio.abc.Clock) -> None:
    api = Api()
    api.sends = [TOO_MANY]
    notifier = make(api)
    notifier.notify("hello")
    await run_until(notifier, lambda: len(api.sent) == 1)
    first, second = api.attempts
    assert second - first >= 20


async def test_messages_to_one_chat_are_paced(autojump_clock: trio.abc.Clock) -> None:
    api = Api()
    notifier = make(api)
    for i in range(5):
        notifier.notify(f"m{i}")
    await run_until(notifier, lambda: len(api.sent) == 5)
    times = [t for t, _, _ in api.sent]
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))
    assert api.texts() == [f"m{i}" for i in range(5)]


async def test_dropped_messages_are_counted_and_reported(
    autojump_clock: trio.abc.Clock, logs: list[str]
) -> None:
    api = Api()
    notifier = make(api)
    for i in range(150):
        notifier.notify(f"m{i}")
    await run_until(notifier, lambda: len(api.sent) == 101, limit_s=1000)
    assert notifier.dropped == 50
    drops = [line for line in logs if "dropped" in line and line.startswith("WARNING")]
    assert len(drops) == 1 and "50 message(s) dropped" in drops[0]
    assert api.texts()[0] == "m50"
    assert api.texts()[-1] == "⚠ btc-a: 50 Telegram message(s) dropped (queue full)"


async def test_consecutive_state_changes_are_merged(autojump_clock: trio.abc.Clock) -> None:
    api = Api()
    notifier = make(api)
    for change in ("ACTIVE -> REDUCING_ONLY (a)", "REDUCING_ONLY -> HALTED (b)"):
        notifier.on_notice(Notice("state_change", 0, change, {}))
    notifier.notify("other")
    notifier.on_notice(Notice("state_change", 0, "HALTED -> ACTIVE (c)", {}))
    await run_until(notifier, lambda: len(api.sent) == 3)
    assert api.texts() == [
        "btc-a BTCUSDT: ACTIVE -> REDUCING_ONLY (a)\nbtc-a BTCUSDT: REDUCING_ONLY -> HALTED (b)",
        "other",
        "btc-a BTCUSDT: HALTED -> ACTIVE (c)",
    ]


# --- 6. the stop summary ------------------------------------------------------------------------
async def test_the_stop_summary_is_retried_within_the_budget(
    autojump_clock: trio.abc.Clock, logs: list[str]
) -> None:
    api = Api()
    api.sends = [{**TOO_MANY, "parameters": {"retry_after": 2}}]
    await make(api).send_now("stopped", timeout_s=5.0)
    assert api.texts() == ["stopped"]
    assert not any("not delivered" in line for line in logs)


async def test_an_undelivered_stop_summary_is_logged(
    autojump_clock: trio.abc.Clock, logs: list[str]
) -> None:
    async def hang() -> httpx.Response:
        await trio.sleep_forever()
        raise AssertionError

    api = Api()
    api.sends = [hang]
    await make(api).send_now("stopped", timeout_s=5.0)
    assert any(
        line.startswith("WARNING telegram: the stop summary was not delivered to chat(s) [42]")
        for line in logs
    )
    api2 = Api()
    api2.sends = [TOO_MANY]  # retry_after 20 > the 5 s budget: not waited for
    await make(api2).send_now("stopped", timeout_s=5.0)
    assert len(api2.attempts) == 1
    assert any("past the 5 s budget" in line for line in logs)
