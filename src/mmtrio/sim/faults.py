"""Faults the simulated venue injects on demand (admin port or Python), each one recorded.

A fault is a kind plus parameters. Some act once, now (close a websocket, cancel an order,
end the user-stream session); others arm a counter that the REST or stream path consumes
(``count`` next requests / messages). The log keeps every injection with its wall and sim
time, so a chaos run can line a bot's reaction up against what was done to it.

The kinds are venue-neutral: each front end says the fault in its protocol (a skipped depth
message is a sequence gap in whatever ids that venue publishes; ``user_session_expire`` ends
the private stream's session the way that venue ends one). ``error_code`` answers with the
front end's own error shape; without a ``code`` the front end uses its generic server error.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from mmtrio.sim.errors import SimBadRequest

# kind -> what it does (served by GET /admin/faults; also the validation list)
FAULT_KINDS: dict[str, str] = {
    "ws_close": "close websockets now: target market|user|orders|all",
    "ws_stall": (
        "stop sending on websockets for `seconds`, holding what would have gone (sent late; a "
        "connection whose queue fills is closed as too slow); pings and requests are still "
        "answered: target market|user|orders|all"
    ),
    "ws_mute": (
        "the websockets open now send nothing for `seconds` and what they would have sent is "
        "dropped (never sent: a stream that stalled on one connection); pings and requests "
        "are still answered and the connection stays open; new connections are served "
        "normally: target market|user|orders|all. Not in the chaos draws"
    ),
    "ws_no_pong": "stop answering client pings (and ignore their pongs): on true|false",
    "depth_skip": "drop the next `count` depth diffs (clients see a sequence gap)",
    "depth_duplicate": "send the next `count` depth diffs twice",
    "depth_reorder": "swap the next `count` pairs of depth diffs",
    "user_duplicate": "send the next `count` user-stream events twice",
    "user_reorder": "hold the next user event, send it after the one that follows (`count` times)",
    "delay": (
        "delay the next `count` REST responses by `ms` (after those an earlier delay still "
        "holds, each injection with its own `ms`)"
    ),
    "http_429": "answer the next `count` REST requests with 429 (Retry-After `retry_after` s)",
    "order_5xx": "accept the next `count` order requests, then answer 503 (outcome unknown)",
    "order_drop": "accept the next `count` order requests, then never answer",
    "venue_cancel": "cancel `client_id` (or all open orders) as the venue",
    "venue_expire": "expire `client_id` (or all open orders) as the venue",
    "user_session_expire": "end the user-stream session now (user streams are told, then close)",
    "clock_skew": "shift the server clock by `ms` (time endpoint and timestamp checks)",
    "error_code": "answer the next `count` REST requests with `code`/`msg`/`status`",
    "user_replay": (
        "send the last `count` fill events (the front end's user events carrying a trade) "
        "again on the user streams, as a venue replaying history to a client that reconnected"
    ),
    "position_adjust": (
        "change the position by `lots` (signed) at the mark price without a trade of ours, as "
        "a liquidation, an ADL or a transfer does (the trade history does not list it)"
    ),
    "link_silent": (
        "the link to the client is silent for `seconds` (then `reset` or not): a 429 sent "
        "meanwhile is read only when it comes back, or never (no ban for that back-off)"
    ),
    "client_slow": (
        "the client is starved of CPU for `seconds` (null: from now on): a 429 sent meanwhile "
        "is read late, so requests it sent before reading it are not banned for a while"
    ),
    "margin_call": (
        "send a margin call on the user streams now, with the account's figures (front ends "
        "whose venue pushes one)"
    ),
    "mark_price": (
        "set the mark price to `price` (a decimal string) until cleared with `price` null, as "
        "the market moving there would: pushed at once, and a mark at the account's "
        "liquidation price liquidates it (sim/liquidation.py)"
    ),
    "disarm": "disarm every counter not yet consumed (http_429, order_5xx, delay, …)",
    "fill": (
        "fill our best open order(s) on `side` (BUY|SELL), or those at `client_id`'s price, "
        "as a market trade through that price would (a fill on demand, e.g. while no bot runs)"
    ),
}


@dataclass(slots=True)
class FaultRecord:
    wall_ms: int
    sim_ms: int
    kind: str
    params: dict[str, Any]


def count_param(params: dict[str, Any]) -> int:
    value = params.get("count", 1)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SimBadRequest(
            f"fault parameter 'count' must be a non-negative integer, got {value!r}"
        )
    return value


@dataclass
class FaultState:
    """Armed counters the serving paths consume; ``log`` is every injection ever made."""

    depth_skip: int = 0
    depth_duplicate: int = 0
    depth_reorder: int = 0
    user_duplicate: int = 0
    user_reorder: int = 0
    # [count left, ms] per delay injection, oldest first: each keeps its own hold
    delays: deque[list[int]] = field(default_factory=deque)
    http_429: int = 0
    retry_after: float = 1.0
    order_5xx: int = 0
    order_drop: int = 0
    no_pong: bool = False
    clock_skew_ms: int = 0
    error_count: int = 0
    error_code: int | None = None  # None: the front end's own generic server error code
    error_msg: str = "An unknown error occurred while processing the request (injected fault)."
    error_status: int = 400
    log: list[FaultRecord] = field(default_factory=list)
    # (from, to) wall ms of every response a delay fault held: the venue answered no earlier
    held: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=10_000))

    @property
    def delay_count(self) -> int:
        """Responses still to be held by the delay injections armed so far."""
        return sum(count for count, _ in self.delays)

    def take_delay(self, wall_ms: int) -> float:
        """The extra hold (s) for a response leaving at ``wall_ms``: one armed delay, recorded.

        Injections are consumed in the order they came, each with its own ``ms``. One shared
        ``ms`` let the newest injection re-time what the earlier ones had left (DST seed
        103824: 5 x 264 ms held 1,251 ms each, 6 x 206 ms 1,223 ms; 19 of the 21 answers a
        restarted bot's start-up read in 30 s came after its 1 s timeout, and it gave up)."""
        if not self.delays:
            return 0.0
        batch = self.delays[0]
        batch[0] -= 1
        if batch[0] == 0:
            self.delays.popleft()
        ms = batch[1]
        self.held.append((wall_ms, wall_ms + ms))
        return ms / 1000.0

    def disarm(self) -> None:
        """Every armed counter back to zero (faults injected but not consumed yet)."""
        for name in ("depth_skip", "depth_duplicate", "depth_reorder", "user_duplicate",
                     "user_reorder", "http_429", "order_5xx", "order_drop",
                     "error_count"):  # fmt: skip
            setattr(self, name, 0)
        self.delays.clear()

    def arm(self, kind: str, params: dict[str, Any]) -> None:
        """Arm a counter-type fault. Immediate faults are executed by the venue itself."""
        if kind in (
            "depth_skip",
            "depth_duplicate",
            "depth_reorder",
            "user_duplicate",
            "user_reorder",
            "http_429",
            "order_5xx",
            "order_drop",
        ):
            setattr(self, kind, getattr(self, kind) + count_param(params))
            if kind == "http_429":
                self.retry_after = float(params.get("retry_after", 1.0))
        elif kind == "delay":
            count, ms = count_param(params), _int(params, "ms")
            if count:
                self.delays.append([count, ms])
        elif kind == "ws_no_pong":
            self.no_pong = bool(params.get("on", True))
        elif kind == "disarm":
            self.disarm()
        elif kind == "clock_skew":
            self.clock_skew_ms = _int(params, "ms")
        elif kind == "error_code":
            # Every parameter is checked before anything is armed: a refused injection
            # (HTTP 400) must leave the venue as it was, not answer the next requests wrongly.
            count = count_param(params)
            code = _int(params, "code") if "code" in params else None
            status = _int(params, "status", 400)
            if not 400 <= status <= 599:
                raise SimBadRequest(f"fault 'status' must be an HTTP error status, got {status}")
            self.error_count += count
            self.error_code, self.error_status = code, status
            self.error_msg = str(params.get("msg", self.error_msg))

    @staticmethod
    def take(value: int) -> tuple[bool, int]:
        return (True, value - 1) if value > 0 else (False, 0)


def _int(params: dict[str, Any], name: str, default: int | None = None) -> int:
    value = params.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise SimBadRequest(f"fault parameter {name!r} must be an integer, got {value!r}")
    return value
