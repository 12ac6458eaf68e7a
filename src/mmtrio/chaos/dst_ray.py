"""A deterministic campaign on Ray (`mmtrio chaos --deterministic --engine ray [--address]`).

The same runs as the local process pool (:func:`mmtrio.chaos.dst_campaign.one`, one seed per
Ray task), for campaigns larger than one machine. Without ``address`` a local Ray runtime is
started with ``jobs`` CPUs and shut down afterwards; with one (``auto`` or
``ray://host:10001``) the campaign joins that cluster and uses every CPU it offers
(:mod:`mmtrio.ray_runtime`, which also puts back the campaign's stop handlers).

Decisions:

- Reproducibility: every Ray worker of the campaign is started with ``PYTHONHASHSEED=0``
  (the campaign's runtime environment), as the local pool's forked workers inherit it. A
  task that finds another hash seed refuses to run: its trace hash would not be the seed's.
- Evidence: a run's directory lives on the node that ran it. A run that failed (or every
  run, with ``--keep``) sends its directory back as a gzipped tar with its result, and the
  campaign unpacks it under ``--out/seed-<seed>/``, exactly where the local pool puts it.
  No shared file system is needed.
- At most twice the cluster's CPUs of runs are submitted at a time. A stop (SIGTERM, Ctrl-C)
  submits no more. The runs submitted finish and are reported, as the local pool's do.
- Results come in the order runs finish, not in seed order. The campaign's record
  (:mod:`mmtrio.chaos.dst_record`) and its final summary are by seed.
- A task Ray could not complete (its worker died, the node was lost) is a harness error for
  that seed, named with Ray's error, never a verdict on the bot.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mmtrio.chaos.dst_campaign import (
    HASH_SEED,
    campaign_seeds,
    describe,
    error_doc,
    load_simulation,
    one,
)
from mmtrio.chaos.stop import StopRequest
from mmtrio.errors import MmtrioError
from mmtrio.ray_runtime import ray_runtime

_loaded: set[str] = set()  # per Ray worker process: each venue's simulation imported once


def run_on_worker(
    seed: int, duration_s: float, keep_all: bool, venue: str = "binance"
) -> tuple[dict[str, Any], bytes]:
    """One run on ``venue`` in this (Ray worker) process: its summary and its evidence
    (empty bytes when none was kept)."""
    if os.environ.get("PYTHONHASHSEED") != HASH_SEED or sys.flags.hash_randomization:
        raise MmtrioError(
            f"this Ray worker runs with PYTHONHASHSEED={os.environ.get('PYTHONHASHSEED')!r}, "
            f"not {HASH_SEED}: seed {seed}'s trace would not reproduce"
        )
    if venue not in _loaded:
        load_simulation(venue)
        _loaded.add(venue)
    with tempfile.TemporaryDirectory(prefix="mmdst-ray-") as out:
        doc = one(seed, duration_s, out, keep_all, venue)
        kept = Path(out) / f"seed-{seed}"  # there only when one() kept the evidence
        if not kept.is_dir():
            return doc, b""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            tar.add(kept, arcname=".")
        return doc, buf.getvalue()


def _unpack(blob: bytes, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4
            tar.extractall(target, filter="data")  # no absolute paths, no escapes, no devices
            return
        for member in tar.getmembers():  # the same rules, by hand
            parts = Path(member.name).parts
            if (
                member.name.startswith("/")
                or ".." in parts
                or not (member.isfile() or member.isdir())
            ):
                raise MmtrioError(f"evidence from Ray holds {member.name!r}: not unpacked")
        tar.extractall(target)


def ray_campaign(
    first_seed: int,
    runs: int,
    duration_s: float,
    out_root: Path,
    *,
    jobs: int = 1,
    address: str | None = None,
    keep_all: bool = False,
    stop: StopRequest | None = None,
    skip: frozenset[int] = frozenset(),
    venue: str = "binance",
) -> Iterator[dict[str, Any]]:
    """Each run's summary on ``venue`` as the runs finish on Ray (see the module doc)."""
    out_root = out_root.resolve()
    out_root.mkdir(parents=True, exist_ok=True)
    todo = iter([s for s in campaign_seeds(first_seed, runs) if s not in skip])
    with ray_runtime(address, jobs, {"PYTHONHASHSEED": HASH_SEED}) as ray:
        cpus = ray.cluster_resources().get("CPU", jobs)
        window = 2 * max(1, int(cpus))
        task = ray.remote(num_cpus=1)(run_on_worker)
        pending: dict[Any, int] = {}
        exhausted = False
        while True:
            while not exhausted and len(pending) < window:
                if stop is not None and stop.requested:
                    break
                seed = next(todo, None)
                if seed is None:
                    exhausted = True
                    break
                pending[task.remote(seed, duration_s, keep_all, venue)] = seed
            if not pending:
                return
            done, _ = ray.wait(list(pending), num_returns=1, timeout=0.25)
            for ref in done:
                seed = pending.pop(ref)
                try:
                    doc, blob = ray.get(ref)
                except Exception as exc:  # a worker or node lost: the harness's, not the bot's
                    yield error_doc(seed, "", f"Ray could not complete the run: {describe(exc)}")
                    continue
                if blob:
                    target = out_root / f"seed-{seed}"
                    _unpack(blob, target)
                    doc["out_dir"] = str(target)
                yield doc
