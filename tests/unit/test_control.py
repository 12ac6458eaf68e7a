"""Control: request parsing, the Unix control socket (mode 0600, stale/busy paths), the kill
file watcher, signal dispatch, and log redaction of secrets."""

from __future__ import annotations

import io
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
from loguru import logger

from mmtrio.runtime.control import (
    ControlError,
    control_request,
    parse_request,
    serve_control,
    watch_kill_file,
    watch_signals,
)
from mmtrio.runtime.logging import REDACTED, Redactor, register_secret, setup_logging


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b"not json", "not valid JSON"),
        (b"[1]", "JSON object"),
        (b'{"cmd": "explode"}', "unknown control command"),
        (b'{"cmd": "kill", "flatten": "yes"}', "'flatten'"),
        (b'{"cmd": "kill", "reason": 3}', "'reason'"),
    ],
)
def test_bad_requests_are_named(raw: bytes, needle: str) -> None:
    with pytest.raises(ControlError, match=needle):
        parse_request(raw)


def test_good_request() -> None:
    assert parse_request(b'{"cmd": "kill", "flatten": true}') == {"cmd": "kill", "flatten": True}


async def test_socket_roundtrip_mode_and_busy_path(tmp_path: Path) -> None:
    path = tmp_path / "ctl.sock"
    seen: list[dict[str, Any]] = []

    async def handler(req: dict[str, Any]) -> dict[str, Any]:
        seen.append(req)
        return {"ok": True, "echo": req["cmd"]}

    async with trio.open_nursery() as nursery:
        await nursery.start(serve_control, path, handler)
        assert path.stat().st_mode & 0o777 == 0o600
        answer = await trio.to_thread.run_sync(control_request, path, {"cmd": "status"})
        assert answer == {"ok": True, "echo": "status"}
        bad = await trio.to_thread.run_sync(control_request, path, {"cmd": "nope"})
        assert bad["ok"] is False and "unknown control command" in bad["error"]
        with pytest.raises(ControlError, match="another bot"):
            await nursery.start(serve_control, path, handler)
        nursery.cancel_scope.cancel()
    assert seen == [{"cmd": "status"}]
    assert not path.exists()  # unlinked on exit


async def test_stale_socket_is_replaced_and_non_socket_refused(tmp_path: Path) -> None:
    import socket as s

    path = tmp_path / "ctl.sock"
    stale = s.socket(s.AF_UNIX, s.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # a killed bot's leftover: nobody listens

    async def handler(req: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    async with trio.open_nursery() as nursery:
        await nursery.start(serve_control, path, handler)
        nursery.cancel_scope.cancel()
    other = tmp_path / "file"
    other.write_text("x")
    with pytest.raises(ControlError, match="not a socket"):
        await serve_control(other, handler)


def test_client_without_bot_says_so(tmp_path: Path) -> None:
    with pytest.raises(ControlError, match="is the bot running"):
        control_request(tmp_path / "none.sock", {"cmd": "status"})


async def _until(cond: Any, what: str) -> None:
    # The watcher checks the disk in a worker thread, so this runs on the real clock (short).
    with trio.move_on_after(5):
        while not cond():  # noqa: ASYNC110
            await trio.sleep(0.005)
        return
    raise AssertionError(what)


async def test_kill_file_is_edge_triggered(tmp_path: Path) -> None:
    flag = tmp_path / "KILL"
    kills: list[str] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch_kill_file, flag, kills.append, 0.005)
        await trio.sleep(0.05)
        assert kills == []
        flag.write_text("")
        await _until(lambda: len(kills) == 1, "first kill")
        assert "KILL" in kills[0]
        await trio.sleep(0.05)
        assert len(kills) == 1  # still present: latched once, not repeated
        flag.unlink()
        await trio.sleep(0.05)
        flag.write_text("")
        await _until(lambda: len(kills) == 2, "second kill after re-creation")
        nursery.cancel_scope.cancel()


async def _signals(*sigs: int) -> AsyncIterator[int]:
    for sig in sigs:
        yield sig


async def test_signals_first_stop_wins_and_hup_reloads() -> None:
    stops: list[str] = []
    reloads: list[int] = []

    async def on_reload() -> None:
        reloads.append(1)

    await watch_signals(
        _signals(signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGHUP),
        stops.append,
        on_reload,
    )
    assert stops == ["SIGINT received"]  # the second stop signal does not restart cleanup
    assert reloads == [1]  # no reload while stopping


def test_redactor_hides_secrets_and_signatures() -> None:
    r = Redactor()
    r.register("supersecretvalue123")
    text = r.redact("GET /fapi/v1/order?x=1&signature=deadbeef01 key supersecretvalue123")
    assert "supersecretvalue123" not in text and "deadbeef01" not in text
    assert text.count(REDACTED) == 2
    with pytest.raises(Exception, match="at least"):
        r.register("short")


def test_logged_secret_never_reaches_the_sink() -> None:
    sink = io.StringIO()
    handler = setup_logging("INFO", sink=sink)
    try:
        _log_with_secret(sink)
    finally:  # give the other tests loguru's default handler back
        logger.remove(handler)
        logger.add(sys.stderr)


def _log_with_secret(sink: io.StringIO) -> None:
    secret = "api-secret-" + "for-test-0123456789"  # built at run time: not in source lines
    register_secret(secret)
    logger.bind(extra_field=secret).info(f"request failed: secret {secret}")
    try:
        raise ValueError(f"url with {secret}")
    except ValueError:
        logger.exception("boom")
    out = sink.getvalue()
    assert secret not in out
    assert "url with " + REDACTED in out


def test_a_served_socket_is_refused_naming_the_server_pid(tmp_path: Path) -> None:
    """`mmtrio run` checks the socket before anything starts (exit 2, one line)."""
    import os
    import socket as stdsocket

    from mmtrio.errors import ConfigError
    from mmtrio.runtime.control import check_control_socket_free

    path = tmp_path / "control.sock"
    check_control_socket_free(path)  # absent: free
    server = stdsocket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    try:
        with pytest.raises(ConfigError, match=rf"\(pid {os.getpid()}\) is serving the control"):
            check_control_socket_free(path)
    finally:
        server.close()
    check_control_socket_free(path)  # stale now: nobody accepts


def test_the_control_socket_is_claimed_by_one_bot_whatever_the_timing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claimed before the socket exists (a bot still starting): a second claim is refused at
    once, exit 2, naming the path and the holder; released, the path can be claimed again."""
    import os
    import stat

    from mmtrio.errors import ConfigError
    from mmtrio.runtime import control_claim
    from mmtrio.runtime.control_claim import claim_control_socket, lock_path

    path = tmp_path / "state" / "control.sock"
    first = claim_control_socket(path, "btc-a")
    assert not path.exists()  # nothing bound yet: the old check saw a free path here
    assert stat.S_IMODE(lock_path(path).stat().st_mode) == 0o600
    with pytest.raises(ConfigError) as info:
        claim_control_socket(path, "btc-b")
    assert f"another bot (btc-a, pid {os.getpid()}) holds the control socket {path}" in str(
        info.value
    )
    first.release()
    second = claim_control_socket(path, "btc-b")
    assert lock_path(path).read_text() == f"{os.getpid()} btc-b\n"
    second.release()

    # A holder that has not written its name yet: waited for briefly, then said so.
    import fcntl

    monkeypatch.setattr(control_claim, "HOLDER_WAIT_S", 0.05)
    lock_path(path).write_text("")
    fd = os.open(lock_path(path), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(ConfigError, match="another bot \\(its pid unknown\\) holds"):
            claim_control_socket(path, "btc-b")
    finally:
        os.close(fd)


async def test_the_socket_file_appears_only_once_it_accepts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that sees the socket file is never refused: the bot binds and listens under
    a private name and links it into place (CI once saw "Connection refused" from a status
    request that landed between bind and listen). A path taken meanwhile is refused, naming
    the path, and no private name is left behind."""
    import os
    import socket as stdsocket

    path = tmp_path / "ctl.sock"
    accepted_at_link: list[bool] = []
    real_link = os.link

    def checking_link(src: Any, dst: Any) -> None:
        assert not Path(dst).exists()
        probe = stdsocket.socket(stdsocket.AF_UNIX, stdsocket.SOCK_STREAM)
        try:
            probe.connect(str(src))  # refused here if listen() had not run yet
            accepted_at_link.append(True)
        finally:
            probe.close()
        real_link(src, dst)

    monkeypatch.setattr("mmtrio.runtime.control.os.link", checking_link)

    async def handler(req: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    async with trio.open_nursery() as nursery:
        await nursery.start(serve_control, path, handler)
        assert accepted_at_link == [True]
        assert path.stat().st_mode & 0o777 == 0o600
        assert sorted(os.listdir(tmp_path)) == ["ctl.sock"]
        nursery.cancel_scope.cancel()
    assert not path.exists()

    def racing_link(src: Any, dst: Any) -> None:
        Path(dst).write_text("")  # another process got there between the check and the link
        real_link(src, dst)

    monkeypatch.setattr("mmtrio.runtime.control.os.link", racing_link)
    with pytest.raises(ControlError, match=f"another process bound the control socket {path}"):
        await serve_control(path, handler)
    assert sorted(os.listdir(tmp_path)) == ["ctl.sock"]
