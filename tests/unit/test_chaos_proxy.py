"""The chaos fault proxy over real loopback sockets: pass-through, half-open, reset."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import trio

from mmtrio.chaos.proxy import FaultProxy


async def _echo(stream: trio.SocketStream) -> None:
    try:
        async for data in stream:
            await stream.send_all(data)
    except trio.BrokenResourceError:
        pass


async def _setup(nursery: trio.Nursery) -> tuple[FaultProxy, int]:
    up = await nursery.start(trio.serve_tcp, _echo, 0)
    upstream_port = up[0].socket.getsockname()[1]
    proxy = FaultProxy({"rest": ("127.0.0.1", upstream_port)})
    front = await nursery.start(trio.serve_tcp, lambda s: proxy.serve("rest", s), 0)
    return proxy, front[0].socket.getsockname()[1]


async def _roundtrip(port: int, data: bytes) -> bytes:
    async with await trio.open_tcp_stream("127.0.0.1", port) as s:
        await s.send_all(data)
        return await s.receive_some(100)


async def test_passes_bytes_both_ways() -> None:
    async with trio.open_nursery() as n:
        _, port = await _setup(n)
        assert await _roundtrip(port, b"hello") == b"hello"
        n.cancel_scope.cancel()


async def test_half_open_is_silent_then_resumes_with_nothing_lost() -> None:
    async with trio.open_nursery() as n:
        proxy, port = await _setup(n)
        async with await trio.open_tcp_stream("127.0.0.1", port) as s:
            await s.send_all(b"a")
            assert await s.receive_some(10) == b"a"
            proxy.half_open("rest", 1.0, "resume", n)
            await s.send_all(b"b")  # the write succeeds: the link looks up
            with trio.move_on_after(0.3) as silent:
                await s.receive_some(10)
            assert silent.cancelled_caught  # nothing came back while the link was dead
            assert await s.receive_some(10) == b"b"  # it waited, it was not lost
        n.cancel_scope.cancel()


async def test_a_window_opened_inside_another_ends_for_every_waiting_link() -> None:
    # Chaos seed 10067 (Binance): two half-open windows 0.55 s apart on the websockets, both
    # "then resume". The second replaced the first's end event, which then never fired: links
    # stalled in the first window stayed silent for good (the order socket's every request
    # timed out for the rest of the run, and the bot's reconciliation with it).
    async with trio.open_nursery() as n:
        proxy, port = await _setup(n)
        async with await trio.open_tcp_stream("127.0.0.1", port) as s:
            await s.send_all(b"a")
            assert await s.receive_some(10) == b"a"
            proxy.half_open("rest", 1.0, "resume", n)
            await s.send_all(b"b")  # waits in the first window
            await trio.sleep(0.3)
            proxy.half_open("rest", 0.5, "resume", n)  # a second window, inside the first
            with trio.move_on_after(0.3) as silent:
                await s.receive_some(10)
            assert silent.cancelled_caught
            with trio.fail_after(2.0):  # both windows are over by 0.8 s from the first
                assert await s.receive_some(10) == b"b"
        n.cancel_scope.cancel()


async def test_half_open_then_reset_and_kill_reset_the_client() -> None:
    async with trio.open_nursery() as n:
        proxy, port = await _setup(n)
        async with await trio.open_tcp_stream("127.0.0.1", port) as s:
            assert await _roundtrip(port, b"x") == b"x"
            await s.send_all(b"y")
            assert await s.receive_some(10) == b"y"
            proxy.half_open("rest", 0.5, "reset", n)
            with pytest.raises(trio.BrokenResourceError):
                await s.receive_some(10)  # ECONNRESET once the window ends
        async with await trio.open_tcp_stream("127.0.0.1", port) as s:
            await s.send_all(b"z")
            assert await s.receive_some(10) == b"z"  # a new connection works again
            assert proxy.kill("rest") == 1
            with pytest.raises(trio.BrokenResourceError):
                await s.receive_some(10)
        n.cancel_scope.cancel()


def test_the_command_line_protocol() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mmtrio.chaos.proxy", "--upstream", "rest=127.0.0.1:9",
         "--upstream", "ws=127.0.0.1:9"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    try:
        ports = json.loads(proc.stdout.readline())
        assert set(ports) == {"rest", "ws"} and all(isinstance(p, int) for p in ports.values())
        for cmd, ok in (
            ({"cmd": "half_open", "target": "ws", "seconds": 1, "then": "reset"}, True),
            ({"cmd": "kill", "target": "all"}, True),
            ({"cmd": "stats"}, True),
            ({"cmd": "half_open", "target": "nope", "seconds": 1}, False),
            ({"cmd": "explode"}, False),
        ):
            proc.stdin.write(json.dumps(cmd) + "\n")
            proc.stdin.flush()
            answer = json.loads(proc.stdout.readline())
            assert answer["ok"] is ok, (cmd, answer)
        proc.stdin.close()  # EOF: the proxy ends
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_a_connection_its_client_abandoned_in_the_window_is_reset_not_replayed() -> None:
    got: list[bytes | bytearray] = []

    async def record(stream: trio.SocketStream) -> None:
        try:
            async for data in stream:
                got.append(data)
        except trio.BrokenResourceError:
            pass  # the reset of an abandoned link

    async with trio.open_nursery() as n:
        up = await n.start(trio.serve_tcp, record, 0)
        proxy = FaultProxy({"rest": ("127.0.0.1", up[0].socket.getsockname()[1])})
        front = await n.start(trio.serve_tcp, lambda s: proxy.serve("rest", s), 0)
        port = front[0].socket.getsockname()[1]
        s = await trio.open_tcp_stream("127.0.0.1", port)
        await s.send_all(b"early")
        await trio.sleep(0.2)  # real sockets: let the proxy forward it
        proxy.half_open("rest", 0.5, "resume", n)
        await s.send_all(b"stale request")
        await s.aclose()  # the client gives up inside the window
        kept = await trio.open_tcp_stream("127.0.0.1", port)  # a connection that stays
        await kept.send_all(b"waited")
        await trio.sleep(1.0)
        assert b"".join(got) == b"earlywaited"  # the abandoned bytes never reached the venue
        await kept.aclose()
        n.cancel_scope.cancel()
