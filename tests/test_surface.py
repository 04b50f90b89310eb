"""pcpi 1.0.1's whole public surface still exists, with the same signatures.

The fixture is the surface read off the 1.0.1 wheel.  New parameters may only be
keyword-only with defaults; nothing may be renamed, removed or re-defaulted.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import logging
import os
import subprocess
import sys

import pytest

from pcpi.testing import FakeTenant

pytestmark = pytest.mark.contract  # the 1.0.1 surface: nothing here may change

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "fixtures", "pcpi-1.0.1-surface.json")) as fh:
    SURFACE = json.load(fh)["modules"]

_LOGGER = object()


def parse_signature(text: str):
    """``[(name, has_default, default)]`` from a signature string of the fixture."""
    src = "def f" + text.replace("<pcpi logger>", "__PCPI_LOGGER__") + ": pass"
    args = ast.parse(src).body[0].args
    params = args.posonlyargs + args.args
    defaults = [None] * (len(params) - len(args.defaults)) + list(args.defaults)
    out = []
    for p, d in zip(params, defaults):
        if d is None:
            out.append((p.arg, False, None))
        elif isinstance(d, ast.Name) and d.id == "__PCPI_LOGGER__":
            out.append((p.arg, True, _LOGGER))
        else:
            out.append((p.arg, True, ast.literal_eval(d)))
    return out


def check_signature(obj, expected_text: str, where: str) -> None:
    sig = inspect.signature(obj)
    params = list(sig.parameters.values())
    expected = parse_signature(expected_text)
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    assert [p.name for p in positional] == [e[0] for e in expected], where
    for p, (name, has_default, default) in zip(positional, expected):
        if not has_default:
            assert p.default is p.empty, f"{where}: {name} gained a default"
        elif default is _LOGGER:
            assert p.default is logging.getLogger("pcpi"), f"{where}: {name} default"
        else:
            assert p.default == default and type(p.default) is type(default), \
                f"{where}: {name} default {p.default!r} != {default!r}"
    for p in params:
        if p.kind is p.KEYWORD_ONLY:
            assert p.default is not p.empty, f"{where}: new keyword {p.name} needs a default"


def all_symbols():
    for module, names in SURFACE.items():
        for name, spec in names.items():
            yield module, name, spec


@pytest.mark.parametrize("module,name,spec", list(all_symbols()),
                         ids=[f"{m}.{n}" for m, n, _ in all_symbols()])
def test_symbol_and_signatures(module, name, spec):
    mod = importlib.import_module(module)
    assert hasattr(mod, name), f"{module}.{name} is missing"
    obj = getattr(mod, name)
    if spec["kind"] == "function":
        check_signature(obj, spec["signature"], f"{module}.{name}")
    elif spec["kind"] == "re-export":
        target_mod, _, target = spec["of"].rpartition(".")
        assert obj is getattr(importlib.import_module(target_mod), target)
    else:
        mro = [c.__name__ for c in obj.__mro__]
        for base in spec["bases"]:
            assert base in mro, f"{module}.{name} lost base {base}"
        for meth, text in spec["methods"].items():
            assert hasattr(obj, meth), f"{module}.{name}.{meth} is missing"
            check_signature(getattr(obj, meth), text, f"{module}.{name}.{meth}")


def test_every_module_of_the_surface_imports():
    for module in SURFACE:
        importlib.import_module(module)


@pytest.fixture(scope="module")
def live():
    """One instance of every class, logged in against a fake tenant."""
    from pcpi._session_base import Session
    from pcpi.onprem_session_manager import CWPSessionManager
    from pcpi.saas_session_manager import SaaSSessionManager

    with FakeTenant() as tenant:
        saas = SaaSSessionManager("t", tenant.access_key, tenant.secret_key, tenant.saas_url,
                                  verify=tenant.ca_path)
        onprem = CWPSessionManager("project-a", tenant.compute_url, tenant.username,
                                   tenant.password, verify=tenant.ca_path, project_flag=True)
        yield {
            "SaaSSessionManager": saas,
            "CWPSessionManager": onprem,
            "Session": Session(logging.getLogger("pcpi")),
            "CSPMSession": saas.create_cspm_session(),
            "SaaSCWPSession": saas.create_cwp_session(),
            "CNASession": saas.create_cna_session(),
            "CWPSession": onprem.create_cwp_session(),
        }


@pytest.mark.parametrize("module,name,spec", [s for s in all_symbols() if s[2]["kind"] == "class"],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_instance_attributes(live, module, name, spec):
    obj = live[name]
    for attr in spec["instance_attributes"]:
        assert hasattr(obj, attr), f"{name} instance lacks {attr}"


def test_managers_keep_the_sessions_they_create(live):
    saas = live["SaaSSessionManager"]
    assert saas.cspm_session is live["CSPMSession"]
    assert saas.saas_cwp_session is live["SaaSCWPSession"]
    assert saas.cna_session is live["CNASession"]
    assert live["CWPSessionManager"].cwp_session is live["CWPSession"]


def test_import_pcpi_then_submodule_attribute():
    code = "import pcpi; print(pcpi.session_loader.load_config.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "load_config"
