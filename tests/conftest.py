"""Suite-wide settings.

Hypothesis: ``make test`` (and so CI) runs with the ``ci`` profile, derandomized: the fuzz tests
explore the same examples every run, so a landing never goes red on an input nobody saw before.
Plain ``pytest`` runs stay random and keep finding new inputs (raise the budget with
``SRS_FUZZ_EXAMPLES=5000``); a failure prints the example to add as an ``@example`` or case row.
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
