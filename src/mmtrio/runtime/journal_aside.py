"""A journal whose venue no longer exists is set aside, and the session starts a new one.

A paper venue lives as long as its process: each ``mmtrio run`` in paper mode builds a new,
flat one with its own trade ids. A journal written against another instance
(``VenueSettings.instance``, kept in the journal's start record) describes an account that is
gone; continuing it made the bot halt on a position mismatch (or discard new fills as
duplicates). It is moved to ``journal-paper-<UTC time>.sqlite3`` beside the new journal, under
the state-directory lock, and the session starts flat with fresh loss limits. A real venue
has no instance (empty): its journal always continues.
"""

from __future__ import annotations

import time
from typing import Any

from loguru import logger

from mmtrio.runtime.journal import Journal
from mmtrio.runtime.journal_read import RecoveryState


def venue_replaced(instance: str, last_start: dict[str, Any] | None) -> bool:
    """The journal's last session ran against another life of this replaceable venue."""
    return bool(instance) and last_start is not None and last_start.get("instance") != instance


def set_aside(journal: Journal) -> RecoveryState:
    """Set the journal aside (blocking: run in a worker thread); the new one's recovery state."""
    tag = f"paper-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    aside = journal.set_aside(tag)
    logger.warning(
        "a new paper venue: the previous paper session's journal (its position, fills and loss "
        "limits, for a venue that no longer exists) is kept as {}; this session starts flat "
        "with a new journal",
        aside,
    )
    return journal.load_recovery_state()


__all__ = ["set_aside", "venue_replaced"]
