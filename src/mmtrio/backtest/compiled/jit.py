"""numba, cached on disk, behind a typed decorator (numba is an optional extra).

The cache lives in ``$NUMBA_CACHE_DIR`` when set, else in the per-user cache directory,
``~/.cache/mmtrio/numba/<digest>``: an installed package's own directory may not be writable.
The first run compiles (tens of seconds); later runs load the cache (well under a second). The
runner reports that time apart from the replay's (``compile_seconds``).

``<digest>`` hashes the sources of :mod:`mmtrio.backtest`, where every kernel, every jitted
function a kernel calls and every constant one compiles in lives. numba checks a cached
kernel against its own file only, so a kernel whose callee or slot layout changed in another
file (``compiled/matching.py``, ``fastsweep_params.py``) would otherwise load stale machine
code; a directory per digest makes any such change a fresh compile. A ``$NUMBA_CACHE_DIR`` the
user sets is taken as it is.

Each start marks its digest's directory as used (its modification time) and removes the
sibling digest directories nobody used for :data:`UNUSED_DAYS` days (an upgrade or an edit of
the backtest package leaves one behind, about 20 MB each). Only names that are a digest (16
hex digits) are touched; an older mmtrio that still runs somewhere simply compiles again.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])

BACKTEST_PACKAGE = Path(__file__).resolve().parents[1]
UNUSED_DAYS = 30
_DIGEST = re.compile(r"[0-9a-f]{16}")


def sources_digest(root: Path = BACKTEST_PACKAGE) -> str:
    """16 hex digits over every ``.py`` below ``root``, by relative path and content."""
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def mark_used_and_prune(
    cache_dir: Path, now: float, unused_days: float = UNUSED_DAYS
) -> list[Path]:
    """Mark ``cache_dir`` used now and remove its sibling digest directories unused for
    ``unused_days``; returns those removed. A cache that cannot be written or removed is
    left as it is (numba then reports its own warning): it never stops a backtest."""
    removed: list[Path] = []
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        os.utime(cache_dir, (now, now))
        for other in cache_dir.parent.iterdir():
            if other == cache_dir or not _DIGEST.fullmatch(other.name) or not other.is_dir():
                continue
            if now - other.stat().st_mtime > unused_days * 86_400:
                shutil.rmtree(other, ignore_errors=True)
                removed.append(other)
    except OSError:
        pass
    return removed


if "NUMBA_CACHE_DIR" not in os.environ:
    import platformdirs

    _cache = Path(platformdirs.user_cache_dir("mmtrio"), "numba", sources_digest())
    mark_used_and_prune(_cache, time.time())
    os.environ["NUMBA_CACHE_DIR"] = str(_cache)

import numba  # noqa: E402  (the cache directory must be set before numba reads it)


def jit(fn: F) -> F:
    """``numba.njit`` with the on-disk cache; the function keeps its Python signature."""
    return cast(F, numba.njit(cache=True, nogil=True, boundscheck=False)(fn))
