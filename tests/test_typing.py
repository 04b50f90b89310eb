"""pcpi type-checks: mypy (the [tool.mypy] configuration) reports nothing on
pcpi/, and the README's quick start passes ``mypy --strict`` (and pyright, when
it is installed) as a user's script would."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                                reason="mypy is not installed (pip install -e '.[dev]')")


def _mypy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def _quick_start(tmp_path) -> str:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        readme = fh.read()
    section = readme[readme.index("## Quick start"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert "load_config" in code and "create_cspm_session" in code
    path = tmp_path / "quickstart.py"
    path.write_text(code, encoding="utf-8")
    return str(path)


def test_mypy_reports_nothing_on_pcpi():
    out = _mypy()  # files and options from pyproject.toml
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Success: no issues found" in out.stdout


def test_the_readme_quick_start_passes_mypy_strict(tmp_path):
    out = _mypy("--strict", "--python-version", "3.9", _quick_start(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr


def test_pcpi_ships_py_typed():
    assert os.path.isfile(os.path.join(ROOT, "pcpi", "py.typed"))


def _pyright():
    exe = shutil.which("pyright", path=os.path.dirname(sys.executable)) or shutil.which("pyright")
    if exe is None:
        pytest.skip("pyright is not installed")
    return exe


def test_the_readme_quick_start_passes_pyright(tmp_path):
    # (standard mode: strict mode also reports the Any that requests' Response.json()
    # returns, which is no concern of pcpi's)
    exe = _pyright()
    script = _quick_start(tmp_path)
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(
        {"extraPaths": [ROOT], "pythonVersion": "3.9"}))
    try:
        out = subprocess.run([exe, "--pythonpath", sys.executable, script], cwd=tmp_path,
                             capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:  # pragma: no cover - no node, offline
        pytest.skip(f"pyright cannot run here: {exc}")
    if out.returncode not in (0, 1):  # pragma: no cover - pyright itself failed to start
        pytest.skip(f"pyright cannot run here: {out.stdout[-500:]} {out.stderr[-500:]}")
    assert out.returncode == 0, out.stdout + out.stderr


def test_pyright_type_completeness_is_at_least_90_percent(tmp_path):
    # pyright --verifytypes: the share of pcpi's public symbols whose types are
    # fully known to users' type checkers (pcpi.testing included).  PYTHONPATH:
    # pyright does not follow the import hook of an editable install.
    exe = _pyright()
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        out = subprocess.run([exe, "--pythonpath", sys.executable, "--verifytypes", "pcpi",
                              "--ignoreexternal", "--outputjson"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:  # pragma: no cover - no node, offline
        pytest.skip(f"pyright cannot run here: {exc}")
    try:
        report = json.loads(out.stdout)
    except ValueError:  # pragma: no cover - pyright itself failed to start
        pytest.skip(f"pyright cannot run here: {out.stdout[-500:]} {out.stderr[-500:]}")
    completeness = report["typeCompleteness"]
    assert completeness["packageRootDirectory"] == os.path.join(ROOT, "pcpi"), completeness
    unknown = [s["name"] for s in completeness["symbols"]
               if s["isExported"] and not s["isTypeKnown"]]
    assert completeness["completenessScore"] >= 0.90, unknown
