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
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])

BACKTEST_PACKAGE = Path(__file__).resolve().parents[1]


def sources_digest(root: Path = BACKTEST_PACKAGE) -> str:
    """16 hex digits over every ``.py`` below ``root``, by relative path and content."""
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


if "NUMBA_CACHE_DIR" not in os.environ:
    import platformdirs

    os.environ["NUMBA_CACHE_DIR"] = os.path.join(
        platformdirs.user_cache_dir("mmtrio"), "numba", sources_digest()
    )

import numba  # noqa: E402  (the cache directory must be set before numba reads it)


def jit(fn: F) -> F:
    """``numba.njit`` with the on-disk cache; the function keeps its Python signature."""
    return cast(F, numba.njit(cache=True, nogil=True, boundscheck=False)(fn))
