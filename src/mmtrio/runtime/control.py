"""Operator control: signals, the control socket, the kill-file flag.

- Signals: SIGINT/SIGTERM ask for a graceful stop (the engine's shielded cleanup then cancels
  every order); SIGHUP asks for a config reload. The signal receiver stays open for the
  whole life of the bot *including* the cleanup, so a second Ctrl-C during cleanup is only
  logged: with the receiver closed Trio would raise KeyboardInterrupt inside the shielded
  cancel-all and the venue could be left with resting orders.
- Control socket: a Unix socket (mode 0600, in the state directory) speaking one JSON object
  per line each way: ``{"cmd": "status"}``, ``{"cmd": "kill", "flatten": false}``,
  ``{"cmd": "resume", "override": false, "reason": "…"}``. Only the owner can connect (file
  mode), which is the whole authentication: the socket never leaves the machine.
- Kill file: while the file exists the kill switch is latched (checked by polling, so it also
  works over NFS or when created by another user's cron job). Removing it does not resume:
  resuming is an explicit operator act (`mmtrio resume`), and is refused while the file exists.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import trio
from loguru import logger

from mmtrio import determinism
from mmtrio.errors import ConfigError, MmtrioError

MAX_REQUEST_BYTES = 4096
CONTROL_COMMANDS = ("status", "kill", "resume", "crash")
ControlHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class ControlError(MmtrioError):
    """The control socket cannot be served or reached."""


class ControlSocketInUseError(ControlError, ConfigError):
    """Another process serves this bot's control socket (two bots on one
    ``runtime.control_socket``): a usage error, exit 2, like a busy state directory."""


# --- signals --------------------------------------------------------------------------------


async def watch_signals(
    signals: AsyncIterator[int],
    on_stop: Callable[[str], None],
    on_reload: Callable[[], Awaitable[None]],
) -> None:
    """Dispatch signals until cancelled. ``signals`` comes from ``trio.open_signal_receiver``."""
    stopping = False
    async for signum in signals:
        name = signal.Signals(signum).name
        if signum == signal.SIGHUP:
            if stopping:
                logger.warning("{sig} ignored: the bot is stopping", sig=name)
                continue
            await on_reload()
        elif not stopping:
            stopping = True
            logger.info("{sig} received: stopping (cancelling all orders first)", sig=name)
            on_stop(f"{name} received")
        else:
            logger.warning(
                "{sig} received again: cleanup is in progress and will not be skipped "
                "(it has a deadline); wait for it, or kill -9 and let the venue's dead-man "
                "countdown cancel the orders",
                sig=name,
            )


# --- kill file ---------------------------------------------------------------------------------


async def watch_kill_file(
    path: Path, on_kill: Callable[[str], None], interval_s: float = 0.5
) -> None:
    """Call ``on_kill`` each time ``path`` appears (edge-triggered, polled)."""
    present = False
    while True:
        exists = await determinism.run_sync(path.exists)
        if exists and not present:
            logger.warning("kill file {path} exists: kill switch latched", path=str(path))
            on_kill(f"kill file {path} exists")
        elif present and not exists:
            logger.info(
                "kill file {path} removed; the bot stays halted until `mmtrio resume`",
                path=str(path),
            )
        present = exists
        await trio.sleep(interval_s)


# --- control socket: server ------------------------------------------------------------------


def parse_request(raw: bytes) -> dict[str, Any]:
    """One request line → a validated dict; ControlError naming what is wrong."""
    try:
        obj = json.loads(raw)
    except ValueError:
        raise ControlError("control request is not valid JSON") from None
    if not isinstance(obj, dict):
        raise ControlError("control request must be a JSON object")
    cmd = obj.get("cmd")
    if cmd not in CONTROL_COMMANDS:
        raise ControlError(f"unknown control command {cmd!r}; known: {', '.join(CONTROL_COMMANDS)}")
    for flag in ("flatten", "override"):
        if flag in obj and not isinstance(obj[flag], bool):
            raise ControlError(f"'{flag}' must be true or false")
    if obj.get("override") and not str(obj.get("reason") or "").strip():
        raise ControlError("'override' needs a 'reason' (journaled with the resume)")
    if "reason" in obj and not isinstance(obj["reason"], str):
        raise ControlError("'reason' must be a string")
    if cmd == "crash" and not isinstance(obj.get("child"), str):
        raise ControlError("'crash' needs 'child': the name of a supervised task")
    return obj


async def _read_line(stream: trio.SocketStream) -> bytes:
    buf = b""
    while b"\n" not in buf:
        chunk = await stream.receive_some(MAX_REQUEST_BYTES)
        if not chunk:
            break
        buf += chunk
        if len(buf) > MAX_REQUEST_BYTES:
            raise ControlError(f"control request longer than {MAX_REQUEST_BYTES} bytes")
    return buf.split(b"\n", 1)[0]


async def _serve_one(stream: trio.SocketStream, handler: ControlHandler) -> None:
    async with stream:
        try:
            with trio.fail_after(5):  # a client that connects and says nothing is dropped
                raw = await _read_line(stream)
            answer = await handler(parse_request(raw))
        except ControlError as exc:
            answer = {"ok": False, "error": str(exc)}
        except trio.TooSlowError:
            return
        # The client may have gone away; there is nothing to tell it then.
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await stream.send_all(json.dumps(answer, default=str).encode() + b"\n")


def _serving_pid(path: Path) -> tuple[bool, int | None]:
    """Whether a process accepts connections on the Unix socket ``path``, and its pid when
    the kernel says (``SO_PEERCRED``, Linux)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            probe.connect(str(path))
        except OSError:
            return False, None
        peercred = getattr(socket, "SO_PEERCRED", None)
        if peercred is None:
            return True, None
        try:
            pid = int.from_bytes(probe.getsockopt(socket.SOL_SOCKET, peercred, 12)[:4], "little")
        except OSError:
            return True, None
        return True, (pid or None)
    finally:
        probe.close()


def check_control_socket_free(path: Path) -> None:
    """Raise ``ControlSocketInUseError`` (exit 2) naming the socket and the other bot's pid
    when a process serves ``path``: `mmtrio run` checks it before anything starts, so two
    bots on one ``runtime.control_socket`` are one line, not a crash that systemd restarts."""
    if not path.is_socket():
        return  # absent (the usual case), or not a socket: binding says what is wrong
    serving, pid = _serving_pid(path)
    if not serving:
        return  # stale: left by a bot that was killed (removed when this bot binds)
    who = f"another bot (pid {pid})" if pid is not None else "another bot"
    raise ControlSocketInUseError(
        f"{who} is serving the control socket {path}; stop it first, or give this bot its "
        "own runtime.control_socket (or its own [runtime] name or state_dir): two bots on "
        "one account would fight over the same orders"
    )


def _bind_unix(path: Path) -> trio.socket.SocketType:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # the state directory: 0700
    if path.exists() or path.is_symlink():
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise ControlError(
                f"{path} exists and is not a socket; remove it or choose another path"
            )
        check_control_socket_free(path)
        path.unlink()  # stale: left by a bot that was killed
    # Bind and listen under a private name, then link it into place: the socket appears at
    # ``path`` only once it accepts connections, so a client that sees the file is never
    # refused (bind-then-listen at ``path`` left a window in which `mmtrio ctl` failed with
    # "Connection refused" on a loaded machine). link(2), unlike rename, refuses to replace a
    # socket another process put there meanwhile.
    staging = path.with_name(f".ctl-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        staging.unlink()  # left by a process with this pid that was killed
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # umask while binding so the socket never exists with group/other access, not even
    # between bind and chmod. A stdlib bind is synchronous, so no other task runs meanwhile.
    old = os.umask(0o177)
    try:
        raw.bind(str(staging))
        os.chmod(staging, 0o600)
        raw.listen(8)
        os.link(staging, path)
    except OSError as exc:
        raw.close()
        if exc.errno == errno.EEXIST:  # bound meanwhile by a process that did not claim it
            raise ControlSocketInUseError(
                f"another process bound the control socket {path} while this bot was "
                "starting; stop it first, or give this bot its own runtime.control_socket"
            ) from None
        raise ControlError(
            f"cannot create the control socket {path}: {exc.strerror or exc}"
        ) from None
    finally:
        os.umask(old)
        with contextlib.suppress(FileNotFoundError):
            staging.unlink()
    raw.setblocking(False)
    sock = trio.socket.from_stdlib_socket(raw)
    return sock


async def serve_control(
    path: Path,
    handler: ControlHandler,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the control socket at ``path`` (mode 0600) until cancelled; unlinks it after."""
    sock = _bind_unix(path)
    listener = trio.SocketListener(sock)
    try:
        async with trio.open_nursery() as nursery:
            task_status.started()
            while True:
                stream = await listener.accept()
                nursery.start_soon(_serve_one, stream, handler)
    finally:
        # Unlink before closing, so a client never finds a socket file that refuses it.
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # noqa: ASYNC240  (a tiny unlink during shutdown)
        with trio.CancelScope(shield=True):
            await listener.aclose()


# --- control socket: client ------------------------------------------------------------------


def control_request(path: Path, request: dict[str, Any], timeout_s: float = 10.0) -> dict[str, Any]:
    """Send one request to a running bot and return its answer (blocking; for the CLI)."""
    if not path.exists():
        raise ControlError(
            f"no control socket at {path}: is the bot running with this config "
            "(runtime.control_socket)?"
        )
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout_s)
    try:
        try:
            sock.connect(str(path))
        except OSError as exc:
            raise ControlError(
                f"cannot connect to {path}: {exc.strerror or exc}; is the bot running?"
            ) from None
        sock.sendall(json.dumps(request).encode() + b"\n")
        buf = b""
        while b"\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
    except TimeoutError:
        raise ControlError(f"the bot did not answer on {path} within {timeout_s:g} s") from None
    finally:
        sock.close()
    try:
        answer = json.loads(buf.split(b"\n", 1)[0])
    except ValueError:
        raise ControlError(f"the bot's answer on {path} is not JSON: {buf[:200]!r}") from None
    if not isinstance(answer, dict):
        raise ControlError(f"the bot's answer on {path} is not a JSON object")
    return answer
