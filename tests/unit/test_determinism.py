"""mmtrio.determinism: the real world by default, the seeded virtual one inside a simulation."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import trio

from mmtrio import determinism
from mmtrio.determinism import Determinism, Fenced
from mmtrio.errors import JournalError
from mmtrio.runtime.journal import Journal


async def test_without_a_simulation_it_is_the_real_world() -> None:
    before = time.time_ns() // 1_000_000
    assert before <= determinism.wall_ms() <= time.time_ns() // 1_000_000
    a, b = determinism.rng("x"), determinism.rng("x")
    assert [a.random() for _ in range(4)] != [b.random() for _ in range(4)]  # unseeded
    assert await determinism.run_sync(sum, [1, 2, 3]) == 6  # in a worker thread
    assert not determinism.disk_full()
    assert determinism.free_disk_bytes("/") is None


async def test_inside_a_simulation_time_is_virtual_and_randomness_seeded(
    autojump_clock: trio.testing.MockClock,
) -> None:
    det = Determinism(seed=7, epoch_ms=1_000_000)
    determinism.CURRENT.set(det)
    start = determinism.wall_ms()
    await trio.sleep(2.5)
    assert determinism.wall_ms() - start == 2_500
    assert determinism.wall_ms() == 1_000_000 + int(trio.current_time() * 1000)
    first = [determinism.rng("backoff").random() for _ in range(2)]
    again = Determinism(seed=7, epoch_ms=0)
    assert first == [again.rng("backoff").random() for _ in range(2)]  # same seed, same draws
    assert first[0] != first[1]  # the second RNG of a name is another stream
    assert determinism.pid() == det.pid


async def test_children_inherit_the_simulation_and_others_do_not(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen: dict[str, object] = {}

    async def bot() -> None:
        determinism.CURRENT.set(Determinism(seed=1, epoch_ms=0))

        async def child() -> None:
            seen["child"] = determinism.current()

        async with trio.open_nursery() as n:
            n.start_soon(child)

    async def other() -> None:
        await trio.sleep(1)
        seen["other"] = determinism.current()

    async with trio.open_nursery() as n:
        n.start_soon(bot)
        n.start_soon(other)
    assert isinstance(seen["child"], Determinism)
    assert seen["other"] is None


async def test_a_fenced_bot_closes_its_journal_and_writes_nothing(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    det = Determinism(seed=1, epoch_ms=0)
    determinism.CURRENT.set(det)
    journal = await determinism.run_sync(Journal.open, tmp_path)
    det.fence()  # kill -9
    with pytest.raises(Fenced):
        await determinism.run_sync(journal.next_epoch)
    # its lock went with it: the next incarnation opens the same state directory
    determinism.CURRENT.set(Determinism(seed=1, epoch_ms=0))
    again = await determinism.run_sync(Journal.open, tmp_path)
    assert await determinism.run_sync(again.next_epoch) >= 1
    again.close()


async def test_a_full_disk_fails_every_commit(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    det = Determinism(seed=1, epoch_ms=0)
    determinism.CURRENT.set(det)
    journal = await determinism.run_sync(Journal.open, tmp_path)
    epoch = journal.next_epoch()
    det.full_disk = True
    with pytest.raises(JournalError, match="disk is full"):
        journal.next_epoch()
    det.full_disk = False
    assert journal.next_epoch() == epoch + 1  # the refused commit left nothing behind
    journal.close()
