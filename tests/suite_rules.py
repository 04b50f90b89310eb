"""How often the tests reach into pcpi's private attributes (CONTRIBUTING.md, "Rules
for tests": at most :data:`BUDGET`).

A reach is an attribute access ``x._name`` (not a dunder) in a test module
(``tests/*.py``, ``tests/unit/*.py``), where ``x`` is not ``self`` or ``cls``, a
module of the standard library the tests use, or one of the suite's own helper
modules.  Each reach ties a test to how pcpi is built rather than to what it does:
a refactor that keeps the behaviour still has to rewrite it.

    .venv/bin/python tests/private_reaches.py        # the count, then each reach

``tests/test_suite_rules.py`` fails the suite above the budget.
"""

from __future__ import annotations

import ast
import collections
import pathlib
import sys
from typing import List, Tuple

#: reaches allowed in all
BUDGET = 40

HERE = pathlib.Path(__file__).resolve().parent

#: the suite's helpers and tools, not tests
NOT_TESTS = frozenset({"_hostile.py", "_secrets.py", "_fakes.py", "conftest.py",
                       "coverage_gate.py", "mutation_order.py", "typecheck.py",
                       "_fanout_items.py", "_fanout_child.py", "private_reaches.py"})

#: names whose private attributes are not pcpi's
NOT_PCPI = frozenset({"self", "cls", "sys", "os", "re", "threading", "pytest",
                      "_secrets", "_hostile", "_fakes"})

Reach = Tuple[str, int, str]  # (file relative to tests/, line, attribute)


def reaches(root: pathlib.Path = HERE) -> List[Reach]:
    """Every reach in the test modules under ``root``, in file and line order."""
    found: List[Reach] = []
    for path in sorted(list(root.glob("*.py")) + list(root.glob("unit/*.py"))):
        if path.name in NOT_TESTS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or \
                    node.attr.startswith("__"):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in NOT_PCPI:
                continue
            found.append((path.relative_to(root).as_posix(), node.lineno, node.attr))
    return sorted(found)


def main() -> int:
    found = reaches()
    print(f"{len(found)} reaches into private attributes (budget {BUDGET})")
    per_file = collections.Counter(where for where, _, _ in found)
    for where, n in per_file.most_common():
        print(f"  {n:3d}  {where}")
    for where, line, name in found:
        print(f"{where}:{line}: {name}")
    return 0 if len(found) <= BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
