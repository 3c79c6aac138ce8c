"""Hypothesis settings shared by the fuzz suite (tests/test_fuzz_*.py).

CI runs a fixed, small number of examples with a fixed seed (``derandomize=True``), so a failure is
reproducible and the suite stays under a minute on one core; ``make fuzz`` sets ``NEWSWATCH_FUZZ_EXAMPLES``
to explore far more inputs, still derandomized unless ``NEWSWATCH_FUZZ_RANDOM=1``.
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

CI_EXAMPLES = 60
EXAMPLES = int(os.environ.get("NEWSWATCH_FUZZ_EXAMPLES", str(CI_EXAMPLES)))
RANDOM = os.environ.get("NEWSWATCH_FUZZ_RANDOM") == "1"


def fuzz_settings(deadline_ms: int, examples: int = CI_EXAMPLES) -> settings:
    """Settings for one property: ``deadline_ms`` per example, ``examples`` examples in CI (scaled by the env)."""
    return settings(
        max_examples=max(1, examples * EXAMPLES // CI_EXAMPLES), deadline=timedelta(milliseconds=deadline_ms), derandomize=not RANDOM,
        database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )
