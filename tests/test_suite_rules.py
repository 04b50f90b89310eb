"""The suite's own rules (CONTRIBUTING.md, "Rules for tests"), checked like code by
tests/suite_rules.py: the budget of reaches into pcpi's private attributes, and one
fake clock and one builder of rate-limit headers (tests/_fakes.py) for all."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def _rules(root: str = HERE) -> dict:
    """What tests/suite_rules.py finds under ``root`` (run apart: parsing the whole
    suite under the secrets watch's tracer would take seconds)."""
    out = subprocess.run([sys.executable, os.path.join(HERE, "suite_rules.py"), "--json",
                          "--root", root], capture_output=True, text=True, timeout=60)
    assert out.stdout, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def suite() -> dict:
    return _rules()


def test_tests_reach_into_pcpi_privates_within_the_budget(suite):
    listed = "\n".join(f"  {where}:{line}: {name}" for where, line, name in suite["reaches"])
    assert len(suite["reaches"]) <= suite["budget"], (
        f"{len(suite['reaches'])} reaches into pcpi's private attributes, over the budget of "
        f"{suite['budget']}: assert what a call returns, raises, logs or sends instead "
        f"(CONTRIBUTING.md)\n{listed}")


def test_no_test_module_writes_its_own_fake_clock_or_rate_limit_headers(suite):
    assert suite["own_fakes"] == []


def test_the_rules_find_what_they_look_for(tmp_path):
    (tmp_path / "unit").mkdir()
    (tmp_path / "unit" / "test_planted.py").write_text(
        "class SlowClock:\n"
        "    def now(self):\n"
        "        return self._now + _secrets._offset\n"   # its own, and a helper's: no reach
        "def test_x(pacer):\n"
        "    pacer._lock.acquire()\n"                     # a reach
        "    return {'X-RateLimit-Remaining': '0'}\n")
    (tmp_path / "_fakes.py").write_text("class Clock: ...\nx = obj._private\n")  # a helper
    found = _rules(str(tmp_path))
    assert found["reaches"] == [["unit/test_planted.py", 5, "_lock"]]
    assert [line.split(": ")[0] for line in found["own_fakes"]] == \
        ["unit/test_planted.py:1", "unit/test_planted.py:6"]
