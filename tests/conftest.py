"""Suite-wide settings.

Hypothesis: ``make test`` (and so CI) runs with the ``ci`` profile, derandomized: the fuzz tests
explore the same examples every run, so a landing never goes red on an input nobody saw before.
Plain ``pytest`` runs stay random and keep finding new inputs (raise the budget with
``SRS_FUZZ_EXAMPLES=5000``); a failure prints the example to add as an ``@example`` or case row.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from support.fuzz import fuzz_timeout

settings.register_profile("ci", derandomize=True, print_blob=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A long run (``SRS_FUZZ_EXAMPLES=20000``) must not trip the per-test timeout: property tests
    get one scaled with the budget (tests/support/fuzz.py)."""
    raw = os.environ.get("SRS_FUZZ_EXAMPLES", "")
    if not raw.isdigit():
        return
    timeout = fuzz_timeout(int(raw))
    for item in items:
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.timeout(timeout))
