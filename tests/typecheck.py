"""The type checks CI runs after the suite (``.ci/run``); fails on the first miss.

    .venv/bin/python tests/typecheck.py

- mypy (the ``[tool.mypy]`` configuration) reports nothing on ``pcpi/``;
- the README's quick start passes ``mypy --strict`` and pyright, as a user's script;
- pyright ``--verifytypes``: at least 90% of pcpi's public symbols have fully known
  types (``pcpi.testing`` included);
- ``pcpi/py.typed`` is there.

They run here rather than in pytest: they check declarations, not behaviour, and
take half a minute of CPU that the suite's time budget is better spent on.
pyright needs node on the machine (the ``pyright`` package finds or fetches it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPLETENESS = 0.90


def _run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kwargs)


def _quick_start(tmp: str) -> str:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        readme = fh.read()
    section = readme[readme.index("## Quick start"):]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match and "load_config" in match.group(1), "README has no quick start"
    path = os.path.join(tmp, "quickstart.py")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(match.group(1))
    return path


def main() -> int:
    failures = []

    def check(what: str, ok: bool, detail: str = "") -> None:
        print(f"{'ok  ' if ok else 'FAIL'} {what}")
        if not ok:
            failures.append(what)
            print(detail[-3000:])

    check("pcpi/py.typed is there", os.path.isfile(os.path.join(ROOT, "pcpi", "py.typed")))
    mypy = [sys.executable, "-m", "mypy"]
    out = _run(mypy, cwd=ROOT)  # files and options from pyproject.toml
    check("mypy reports nothing on pcpi/", out.returncode == 0, out.stdout + out.stderr)
    pyright = shutil.which("pyright", path=os.path.dirname(sys.executable)) or \
        shutil.which("pyright")
    with tempfile.TemporaryDirectory() as tmp:
        script = _quick_start(tmp)
        out = _run(mypy + ["--strict", "--python-version", "3.9", script], cwd=ROOT)
        check("the README quick start passes mypy --strict", out.returncode == 0,
              out.stdout + out.stderr)
        if pyright is None:
            check("pyright is installed (pip install -e '.[dev]')", False)
        else:
            # (standard mode: strict also reports the Any of requests' Response.json())
            with open(os.path.join(tmp, "pyrightconfig.json"), "w") as fh:
                json.dump({"extraPaths": [ROOT], "pythonVersion": "3.9"}, fh)
            out = _run([pyright, "--pythonpath", sys.executable, script], cwd=tmp)
            check("the README quick start passes pyright", out.returncode == 0,
                  out.stdout + out.stderr)
            # PYTHONPATH: pyright does not follow an editable install's import hook
            env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
            out = _run([pyright, "--pythonpath", sys.executable, "--verifytypes", "pcpi",
                        "--ignoreexternal", "--outputjson"], cwd=tmp, env=env)
            try:
                report = json.loads(out.stdout)["typeCompleteness"]
                score = report["completenessScore"]
                here = report["packageRootDirectory"] == os.path.join(ROOT, "pcpi")
                unknown = [s["name"] for s in report["symbols"]
                           if s["isExported"] and not s["isTypeKnown"]]
            except (ValueError, KeyError):
                score, here, unknown = 0.0, False, [out.stdout + out.stderr]
            check(f"pyright --verifytypes: {100 * score:.1f}% of pcpi's public symbols typed "
                  f"(floor {100 * COMPLETENESS:.0f}%)", here and score >= COMPLETENESS,
                  "\n".join(unknown))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
