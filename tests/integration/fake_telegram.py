"""A fake Telegram Bot API on loopback: a real HTTP server (Hypercorn on Trio) that records
``sendMessage`` calls and serves ``getUpdates`` long polls from updates the test pushes.

It speaks the Bot API's shapes: ``POST /bot<token>/<method>`` with a JSON body, answers
``{"ok": true, "result": ...}``; a wrong token gets 401 ``{"ok": false, "description":
"Unauthorized"}``, as Telegram answers. ``fail_next`` makes the next sendMessage calls answer
500, to exercise the notifier's retry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, cast

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from hypercorn.typing import ASGIFramework

Scope = MutableMapping[str, Any]


@dataclass
class Sent:
    chat_id: int
    text: str


@dataclass
class FakeBotApi:
    token: str
    sent: list[Sent] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0
    polls: int = 0
    _next_id: int = 1
    _waiters: list[trio.Event] = field(default_factory=list)

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for event in waiters:
            event.set()

    async def _changed(self) -> None:
        event = trio.Event()
        self._waiters.append(event)
        await event.wait()

    def push(self, chat_id: int, text: str, date: int | None = None) -> None:
        """A user writes ``text`` in chat ``chat_id`` (at ``date``, Unix seconds: now)."""
        self.updates.append(
            {
                "update_id": self._next_id,
                "message": {
                    "message_id": self._next_id,
                    "date": int(time.time()) if date is None else date,
                    "chat": {"id": chat_id, "type": "private"},
                    "text": text,
                },
            }
        )
        self._next_id += 1
        self._notify()

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [s.text for s in self.sent if chat_id is None or s.chat_id == chat_id]

    async def wait_for(self, pred: Callable[[list[str]], bool], timeout_s: float = 60) -> None:
        # A bound for a hung bot, not a speed check: at 20 s a test of a paper bot failed once
        # on a loaded machine (helpers and a campaign beside it) and passed on every rerun.
        with trio.fail_after(timeout_s):
            while not pred(self.texts()):
                await self._changed()

    async def _reply(self, send: Callable[..., Awaitable[None]], status: int, doc: Any) -> None:
        body = json.dumps(doc).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def app(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        prefix, _, method = scope["path"].rpartition("/")
        if prefix != f"/bot{self.token}":
            await self._reply(
                send, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            )
            return
        args = json.loads(body or b"{}")
        if method == "sendMessage":
            if self.fail_next > 0:
                self.fail_next -= 1
                await self._reply(send, 500, {"ok": False, "description": "Internal error"})
                return
            self.sent.append(Sent(int(args["chat_id"]), str(args["text"])))
            self._notify()
            await self._reply(send, 200, {"ok": True, "result": {"message_id": len(self.sent)}})
        elif method == "getUpdates":
            self.polls += 1
            offset = int(args.get("offset", 0))
            with trio.move_on_after(min(float(args.get("timeout", 0)), 2.0)):
                while not [u for u in self.updates if u["update_id"] >= offset]:
                    await self._changed()
            result = [u for u in self.updates if u["update_id"] >= offset]
            await self._reply(send, 200, {"ok": True, "result": result})
        else:
            await self._reply(send, 404, {"ok": False, "description": "Not Found"})


async def serve_fake(
    api: FakeBotApi, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve ``api`` on a free loopback port; ``task_status`` gets the base URL."""
    config = HypercornConfig()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 0.5
    async with trio.open_nursery() as nursery:
        # app takes any mapping as its scope; hypercorn's type names its TypedDicts
        app = cast("ASGIFramework", api.app)
        binds: list[str] = await nursery.start(partial(serve, app, config))
        task_status.started(binds[0])
