"""Checks of the recovery cases added by issue #20 (pure, like mmtrio.chaos.invariants).

``position_gap``: while no bot ran, the venue changed the position without a trade of ours.
The next bot must adopt the venue's position (invariant 2 then finds them equal) and must
say so: an alert naming the gap (``runtime/reconcile.py``: "position gap of … adopted"). A
bot that adopts it silently — the finding-1 failure mode — violates invariant 2 here. A bot
that finds no journal at all (no earlier bot got as far as writing one) has no position the
change could be a gap from: it adopts the venue's and says "first start … the venue's
position is adopted", which is not judged a silent adoption.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mmtrio.chaos.logs import first_entry_ms

if TYPE_CHECKING:
    from mmtrio.chaos.evidence import ProcessRecord, Violation

# runtime/reconcile.py's error line "position at start: gap of +0.003 BTC adopted; <reason>"
# and core/adoption.py's alert "position gap of +0.003 BTC adopted from the venue …" (older
# logs: "+3 lots")
GAP_ALERT = re.compile(r"gap of [+-]\d+(?:\.\d+)? \w+ adopted")
STARTUP_RECONCILE = "reconcile (start)"


# runtime/recovery.py, a journal no earlier bot wrote: the venue's position is adopted as it
# stands (there is no journaled position it could be a gap from), and the line says so
NEW_JOURNAL = "first start (no earlier session journaled)"


def check_gap_alerts(gap_ms: Sequence[int], processes: Sequence[ProcessRecord]) -> list[Violation]:
    """Each position change made while no bot ran is named by the next bot that started."""
    from mmtrio.chaos.evidence import Violation

    # when each bot's start-up reconciliation ran (None: it never got there)
    reconciled = {p.index: first_entry_ms(p.log_text, STARTUP_RECONCILE) for p in processes}
    for at in gap_ms:
        # A bot started before the change but reconciled after it met the change first: the
        # fault's kill found the bot already down, and the restart of an earlier kill came
        # before the change (OKX campaign seed 36034: bot 2 started 0.2 s before the +3 lots,
        # named the gap at its start-up reconcile 2.4 s later; bot 3, the next to start,
        # rightly found nothing to name, and was blamed). A bot that had reconciled before
        # it was running: its periodic reconciliation's case, not this one.
        alive = [
            (p, r)
            for p in processes
            if p.start_ms < at
            and (p.end_ms is None or p.end_ms > at)
            and (r := reconciled[p.index]) is not None
        ]
        if any(r < at for _, r in alive):
            continue
        nxt = [p for p, _ in alive] or [p for p in processes if p.start_ms >= at]
        if not nxt:
            continue  # the run ended first: nobody to judge
        first = min(nxt, key=lambda p: p.start_ms)
        if STARTUP_RECONCILE not in first.log_text:
            continue  # it never finished its start-up recovery (killed again first)
        if NEW_JOURNAL in first.log_text:
            # Every bot before it died before its journal's first record (chaos --venue okx
            # seed 1605: bot 0, CPU-starved, printed nothing in 7 s before its SIGKILL).
            continue
        if not GAP_ALERT.search(first.log_text):
            return [
                Violation(
                    2,
                    first.start_ms,
                    f"bot process #{first.index} adopted the venue's position after a change "
                    "without a trade of ours, without an alert naming the gap",
                )
            ]
    return []
