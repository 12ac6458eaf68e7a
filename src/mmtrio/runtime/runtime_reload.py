"""The reloadable keys the runtime owns, applied after a SIGHUP reload was accepted.

The strategy's keys travel to the trading loop as one :class:`~mmtrio.runtime.trading.ApplyConfig`
(:mod:`.operator`); the reconciler reads ``runtime.reconcile_interval_s`` live. What is left
is applied here, each key the moment the reload is accepted:

- ``[journal] disk_warn_free_mb`` / ``disk_halt_free_mb``: the disk guard's thresholds, from
  its next check;
- ``[journal] retention_days`` / ``max_size_mb``: the journal writer's retention, from its
  next pruning step;
- ``[logging] level``: every log handler of the run, at once (unless ``--log-level`` chose the
  level for this run: then it is kept, and the log says so).
"""

from __future__ import annotations

from loguru import logger

from mmtrio.config import Config
from mmtrio.runtime.diskguard import DiskGuard
from mmtrio.runtime.journal_retention import Retention
from mmtrio.runtime.journal_writer import JournalWriter
from mmtrio.runtime.logging import set_level


def retention_of(config: Config) -> Retention:
    """The journal retention ``config`` asks for."""
    return Retention(
        max_age_days=config.journal.retention_days, max_size_mb=config.journal.max_size_mb
    )


def apply_runtime_reload(
    old: Config, new: Config, *, disk: DiskGuard, writer: JournalWriter | None
) -> None:
    """Apply the runtime's reloadable keys that changed from ``old`` to ``new``."""
    j_old, j_new = old.journal, new.journal
    if (j_old.disk_warn_free_mb, j_old.disk_halt_free_mb) != (
        j_new.disk_warn_free_mb,
        j_new.disk_halt_free_mb,
    ):
        disk.set_thresholds(j_new.disk_warn_free_mb, j_new.disk_halt_free_mb)
        logger.info(
            "disk guard: warn below {} MB, halt below {} MB (reloaded)",
            j_new.disk_warn_free_mb,
            j_new.disk_halt_free_mb,
        )
    if writer is not None and (j_old.retention_days, j_old.max_size_mb) != (
        j_new.retention_days,
        j_new.max_size_mb,
    ):
        writer.retention = retention_of(new)
        logger.info(
            "journal retention: {} days, {} MB (reloaded)", j_new.retention_days, j_new.max_size_mb
        )
    if old.logging.level != new.logging.level:
        logger.info("{}", set_level(new.logging.level))
