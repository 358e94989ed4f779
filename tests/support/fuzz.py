"""The per-test timeout of property tests grows with their example budget (``SRS_FUZZ_EXAMPLES``)."""

from __future__ import annotations

BASE_TIMEOUT_S = 300.0  # pyproject's pytest timeout, sized for the suite's default budgets
SMALLEST_DEFAULT_BUDGET = 100  # the fuzz tests' own defaults are 120-400 examples


def fuzz_timeout(examples: int, base_s: float = BASE_TIMEOUT_S) -> float:
    """Seconds a property test may take with ``examples`` examples: the base timeout, scaled by how
    many times the budget exceeds the smallest default one (a test's time grows with its examples)."""
    return base_s * max(1.0, examples / SMALLEST_DEFAULT_BUDGET)
