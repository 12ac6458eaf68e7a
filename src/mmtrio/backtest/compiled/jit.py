"""numba, cached on disk, behind a typed decorator (numba is an optional extra).

The cache lives in ``$NUMBA_CACHE_DIR`` when set, else in the per-user cache directory
(``~/.cache/mmtrio/numba``): an installed package's own directory may not be writable. The
first run compiles (tens of seconds); later runs load the cache (well under a second). The
runner reports that time apart from the replay's (``compile_seconds``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])

if "NUMBA_CACHE_DIR" not in os.environ:
    import platformdirs

    os.environ["NUMBA_CACHE_DIR"] = os.path.join(platformdirs.user_cache_dir("mmtrio"), "numba")

import numba  # noqa: E402  (the cache directory must be set before numba reads it)


def jit(fn: F) -> F:
    """``numba.njit`` with the on-disk cache; the function keeps its Python signature."""
    return cast(F, numba.njit(cache=True, nogil=True, boundscheck=False)(fn))
