"""A long fuzz run gets a timeout that grows with its budget; the default run keeps the base one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.fuzz import BASE_TIMEOUT_S, fuzz_timeout

ROOT = Path(__file__).resolve().parents[2]


def test_timeout_scales_with_the_budget() -> None:
    assert fuzz_timeout(50) == BASE_TIMEOUT_S
    assert fuzz_timeout(300) == 3 * BASE_TIMEOUT_S
    assert fuzz_timeout(20_000) == 200 * BASE_TIMEOUT_S  # 16.7 h: a 20000-example run is never cut


def test_collected_property_tests_carry_the_scaled_timeout(tmp_path: Path) -> None:
    env = dict(os.environ, SRS_FUZZ_EXAMPLES="20000")
    code = (
        "import pytest, sys\n"
        "class P:\n"
        "    def pytest_collection_finish(self, session):\n"
        "        for i in session.items:\n"
        "            m = i.get_closest_marker('timeout')\n"
        "            print('T', i.nodeid, m.args[0] if m else None)\n"
        "sys.exit(pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', 'tests/fuzz/test_fuzz_request.py'], plugins=[P()]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("T ")]
    assert lines, out.stdout + out.stderr
    assert all(ln.endswith(str(fuzz_timeout(20_000))) for ln in lines), lines
