"""Print the line and branch coverage of pcpi/ (without pcpi/testing/) after
``coverage run -m pytest``, and fail below the project's floor.

    .venv/bin/python -m coverage run -m pytest && .venv/bin/python tests/coverage_gate.py

Floors: 95% of lines and 90% of branches (CONTRIBUTING.md lists what is
deliberately left uncovered).  The data of child processes (the prompts are
driven through one) is combined first.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile

import coverage

LINES, BRANCHES = 95.0, 90.0


def main() -> int:
    cov = coverage.Coverage(messages=False)
    cov.combine()  # the child processes' data; nothing to do when there is none
    cov.save()
    cov.load()
    cov.report(file=sys.stdout)
    with tempfile.TemporaryDirectory() as tmp:  # the JSON report has the totals
        path = os.path.join(tmp, "coverage.json")
        cov.json_report(outfile=path)
        with open(path) as fh:
            totals = json.load(fh)["totals"]
    lines, covered_lines = totals["num_statements"], totals["covered_lines"]
    branches, covered_branches = totals["num_branches"], totals["covered_branches"]
    line_pct = 100.0 * covered_lines / max(lines, 1)
    branch_pct = 100.0 * covered_branches / max(branches, 1)
    out = io.StringIO()
    print(f"\ncoverage of pcpi/ (without pcpi/testing/): lines {line_pct:.1f}% "
          f"({covered_lines}/{lines}, floor {LINES:.0f}%), branches {branch_pct:.1f}% "
          f"({covered_branches}/{branches}, floor {BRANCHES:.0f}%)", file=out)
    ok = line_pct >= LINES and branch_pct >= BRANCHES
    if not ok:
        print("coverage is below the floor", file=out)
    sys.stdout.write(out.getvalue())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
