"""The suite's own rules, checked (CONTRIBUTING.md, "Rules for tests"):

* reaches into pcpi's private attributes: at most :data:`BUDGET`.  A reach is an
  attribute access ``x._name`` (not a dunder) in a test module (``tests/*.py``,
  ``tests/unit/*.py``), where ``x`` is not ``self`` or ``cls``, a module of the
  standard library the tests use, or one of the suite's own helper modules.  Each
  ties a test to how pcpi is built rather than to what it does: a refactor that
  keeps the behaviour still has to rewrite it.
* one fake clock and one builder of rate-limit headers: no test module defines a
  clock class or writes the ``X-RateLimit-*`` headers by hand (tests/_fakes.py has
  them).

    .venv/bin/python tests/suite_rules.py        # the count, each reach, each own fake

``tests/test_suite_rules.py`` runs it and fails the suite when a rule is broken.
"""

from __future__ import annotations

import ast
import collections
import json
import pathlib
import sys
from typing import List, Tuple

#: reaches allowed in all
BUDGET = 40

HERE = pathlib.Path(__file__).resolve().parent

#: the suite's helpers and tools, not tests
NOT_TESTS = frozenset({"_hostile.py", "_secrets.py", "_fakes.py", "conftest.py",
                       "coverage_gate.py", "mutation_order.py", "typecheck.py",
                       "_fanout_items.py", "_fanout_child.py", "suite_rules.py"})

#: names whose private attributes are not pcpi's
NOT_PCPI = frozenset({"self", "cls", "sys", "os", "re", "threading", "pytest",
                      "_secrets", "_hostile", "_fakes"})

Reach = Tuple[str, int, str]  # (file relative to tests/, line, attribute)


def test_modules(root: pathlib.Path = HERE) -> List[Tuple[str, ast.AST]]:
    """``(file relative to root, its syntax tree)`` of each test module under ``root``."""
    return [(path.relative_to(root).as_posix(),
             ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
            for path in sorted(list(root.glob("*.py")) + list(root.glob("unit/*.py")))
            if path.name not in NOT_TESTS]


def reaches(modules: List[Tuple[str, ast.AST]]) -> List[Reach]:
    """Every reach in ``modules``, in file and line order."""
    found: List[Reach] = []
    for where, tree in modules:
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or \
                    node.attr.startswith("__"):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in NOT_PCPI:
                continue
            found.append((where, node.lineno, node.attr))
    return sorted(found)


def own_fakes(modules: List[Tuple[str, ast.AST]]) -> List[str]:
    """Where a module defines its own fake clock or
    writes the rate-limit headers by hand."""
    own = []
    for where, tree in modules:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and "clock" in node.name.lower():
                own.append(f"{where}:{node.lineno}: class {node.name} (use tests/_fakes.Clock)")
            if isinstance(node, ast.Dict) and any(
                    isinstance(k, ast.Constant) and isinstance(k.value, str)
                    and k.value.lower().startswith("x-ratelimit-") for k in node.keys):
                own.append(f"{where}:{node.lineno}: rate-limit headers written by hand "
                           f"(use tests/_fakes.limit_headers)")
    return own


def main(argv: List[str]) -> int:
    root = pathlib.Path(argv[argv.index("--root") + 1]) if "--root" in argv else HERE
    modules = test_modules(root)
    found, own = reaches(modules), own_fakes(modules)
    if "--json" in argv:
        print(json.dumps({"budget": BUDGET, "reaches": found, "own_fakes": own}))
    else:
        print(f"{len(found)} reaches into private attributes (budget {BUDGET})")
        for where, n in collections.Counter(w for w, _, _ in found).most_common():
            print(f"  {n:3d}  {where}")
        for where, line, name in found:
            print(f"{where}:{line}: {name}")
        print(f"{len(own)} fake clocks or rate-limit headers of a test's own")
        for line in own:
            print(line)
    return 0 if len(found) <= BUDGET and not own else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
