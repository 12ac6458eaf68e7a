"""The Ray runtime a sweep or a campaign runs on (optional extra ``mmtrio[ray]``).

Without ``address`` a local Ray runtime is started with ``num_cpus`` CPUs (no dashboard, its
workers' logs not copied to this terminal) and shut down when the block ends; with one
(``auto`` or ``ray://host:10001``) the block joins that cluster. A runtime this process had
already started is used as it is.

Ray's driver installs its own SIGTERM handler, which exits on the spot; the handlers this
process had (a campaign's stop request, Python's Ctrl-C) are put back, so a stop still lets
the work under way finish.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from mmtrio.errors import MmtrioError


@contextmanager
def ray_runtime(
    address: str | None, num_cpus: int | None, env_vars: dict[str, str] | None = None
) -> Iterator[ModuleType]:
    """The ``ray`` module, initialised for the block (see the module docstring)."""
    try:
        import ray
    except ImportError:
        raise MmtrioError(
            "--engine ray needs Ray: pip install 'mmtrio[ray]' (or use the default local engine)"
        ) from None
    if ray.is_initialized():
        yield ray
        return
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    ray.init(
        address=address,
        num_cpus=None if address else num_cpus,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        runtime_env={"env_vars": env_vars} if env_vars else None,
    )
    for sig, handler in handlers.items():
        if handler is not None:  # None: not installed from Python, nothing to put back
            signal.signal(sig, handler)
    try:
        yield ray
    finally:
        ray.shutdown()
