"""Shared test configuration.

``MMTRIO_STATE_ROOT`` points at a fresh temporary directory for the whole run.

Hypothesis profiles: ``ci`` (the default under CI=true) keeps the suite fast and
deterministic (derandomized); ``dev`` explores more examples locally.
"""

from __future__ import annotations

import os
import tempfile

from hypothesis import HealthCheck, settings

# No test may read or write a real bot's state: configs that leave [runtime] state_dir to its
# default put it under this throwaway root (tests that check the default unset it themselves).
os.environ["MMTRIO_STATE_ROOT"] = tempfile.mkdtemp(prefix="mmtrio-test-state-")

settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
