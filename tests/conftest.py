"""Shared test settings: hypothesis profiles and paths.

Profiles: `ci` (the default; derandomized so CI runs are repeatable) and `thorough`
(`HYPOTHESIS_PROFILE=thorough pytest` for many more examples).
"""

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

settings.register_profile("ci", derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=2_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
