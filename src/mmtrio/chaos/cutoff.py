"""The final SIGKILL's fill cutoff: which of the venue's fills the judge checks when a run
ends with a kill (pure; the process harness feeds it its snapshots and its bots' lives).
"""

from __future__ import annotations

from collections.abc import Sequence

from mmtrio.chaos.evidence import Snapshot


def learnt_until_ms(bots: Sequence[tuple[int, int | None, bool]], now_ms: int) -> int:
    """Until when a bot could learn the venue's fills, for the final SIGKILL's fill cutoff.

    ``bots`` are the incarnations' (spawned, ended, reached its start-up reconciliation), oldest
    first. A bot still starting has learnt nothing, and one that never got through its start
    learnt nothing either (chaos seed 1722 on OKX: two restarts in a row were still importing
    when they were killed): the fills judged are those the last bot that did get through its
    start could learn, until it ended (``now_ms`` while it runs); the run's first spawn when no
    bot got that far."""
    for _, end, started in reversed(bots):
        if started:
            return now_ms if end is None else min(end, now_ms)
    return bots[0][0] if bots else now_ms


def fill_cutoff(snapshots: Sequence[Snapshot], learnt_until: int, settle_ms: int) -> int:
    """How many venue fills the final SIGKILL's judge checks: those the venue had made
    ``settle_ms`` (a reconcile interval and slack) before ``learnt_until``
    (:func:`learnt_until_ms`), as the harness's last snapshot by then counted them."""
    before = [s for s in snapshots if s.wall_ms <= learnt_until - settle_ms]
    return before[-1].n_fills if before else 0
