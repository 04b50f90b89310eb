"""Calls that real pcpi 1.0.1 scripts make, with the outcome those scripts rely on.

Each test makes one call the way scripts written for 1.0.1 do (migration tools,
RQL exporters, CI reports, the project's own examples and its ``run_tests.py``)
and asserts what 1.0.1 gives for it against the same fake tenant: what the call
sends, what it gets back, which objects and attributes the script then reads.
The expected values were taken by running the same calls under pcpi 1.0.1.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import textwrap
import venv
from urllib.parse import parse_qsl, urlsplit

import pytest

import pcpi
from pcpi import session_loader
from pcpi.onprem_session_manager import CWPSessionManager
from pcpi.saas_session_manager import SaaSSessionManager

from ._fakes import quiet_policy
from .conftest import saas_manager

pytestmark = pytest.mark.contract  # what 1.0.1 scripts rely on: nothing here may change

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def manager(tenant):
    m = saas_manager(tenant)
    yield m
    m.close()


# ------------------------------------------------------------------ 1. session.headers in place
def test_headers_changed_in_place_apply_to_the_next_calls(manager):
    cspm = manager.create_cspm_session()
    cspm.headers.update({"Accept": "text/csv"})
    res = cspm.request("GET", "/cloud")
    assert res.status_code == 200
    assert res.request.headers["Accept"] == "text/csv"
    assert res.headers["Content-Type"].startswith("text/csv")
    assert res.text.startswith("accountId,")

    cspm.headers.pop("Accept")
    res = cspm.request("GET", "/cloud")
    assert res.status_code == 200
    assert res.request.headers["Accept"] == "*/*"  # requests' default again, as in 1.0.1
    assert res.headers["Content-Type"].startswith("application/json")
    assert isinstance(res.json(), list) and res.json()[0]["accountId"]
    assert "Accept" not in cspm.headers


# ------------------------------------------------------------------ 2. positional JSON body
def test_json_body_as_the_third_positional_argument_is_sent_as_json(manager):
    cspm = manager.create_cspm_session()
    payload = {"query": "config from cloud.resource where cloud.type = 'aws'", "limit": 5}
    res = cspm.request("POST", "/search/config", payload)
    assert res.status_code == 200
    assert json.loads(res.request.body) == payload
    assert res.request.headers["Content-Type"].startswith("application/json")
    body = res.json()
    assert "data" in body  # the search answer itself, not a wrapper
    assert body["query"] == payload["query"]
    assert body["data"]["totalRows"] == 5 and len(body["data"]["items"]) == 5


# ------------------------------------------------------------------ 3. session.logger
def test_session_logger_info_and_error_reach_the_scripts_logger(tenant):
    loguru = pytest.importorskip("loguru")

    # a stdlib logger: the records are the script's own, at its own location
    logger = logging.getLogger("compat.script")
    keep = _Records()
    logger.addHandler(keep)
    logger.setLevel(logging.DEBUG)
    try:
        m = SaaSSessionManager("t", tenant.access_key, tenant.secret_key, tenant.saas_url,
                               verify=tenant.ca_path, logger=logger,
                               retry_policy=quiet_policy())
        cspm = m.create_cspm_session()
        assert cspm.logger is logger
        keep.records.clear()
        cspm.logger.info("exported 50 accounts")
        cspm.logger.error("account 123 failed")
    finally:
        logger.removeHandler(keep)
    mine = [(r.levelname, r.getMessage(), r.pathname, r.funcName) for r in keep.records]
    here = sys._getframe().f_code.co_name
    assert mine == [("INFO", "exported 50 accounts", __file__, here),
                    ("ERROR", "account 123 failed", __file__, here)]

    # loguru's logger, as the README's "recommended setup" passes it
    seen = []
    sink = loguru.logger.add(lambda msg: seen.append(
        (msg.record["level"].name, msg.record["message"], msg.record["function"])))
    try:
        m = SaaSSessionManager("t", tenant.access_key, tenant.secret_key, tenant.saas_url,
                               verify=tenant.ca_path, logger=loguru.logger,
                               retry_policy=quiet_policy())
        cspm = m.create_cspm_session()
        assert cspm.logger is loguru.logger
        seen.clear()
        cspm.logger.info("exported 50 accounts")
        cspm.logger.error("account 123 failed")
    finally:
        loguru.logger.remove(sink)
    assert seen == [("INFO", "exported 50 accounts", here),
                    ("ERROR", "account 123 failed", here)]


# ------------------------------------------------------------------ 4. prisma_id
def test_cna_session_has_the_tenants_prisma_id(tenant, manager):
    cna = manager.create_cna_session()
    assert cna.prisma_id == tenant.app.prisma_id
    assert isinstance(cna.prisma_id, str)
    assert cna.headers["X-Namespace"] == "/" + cna.prisma_id
    res = cna.request("GET", "/namespaces")
    assert res.status_code == 200
    assert all(ns["name"].startswith(f"/{cna.prisma_id}/") for ns in res.json())


# ------------------------------------------------------------------ 5. exact session types
def test_session_types_compare_equal_to_the_private_module_classes(tenant, tmp_path):
    """In a fresh interpreter, as a script: ``import pcpi`` plus the loader, then
    ``type(s) == pcpi._<module>.<Class>`` for what each create_* returns."""
    creds = tenant.write_credentials(str(tmp_path / "creds.json"),
                                     kinds=("saas", "selfhosted"))
    code = textwrap.dedent(f"""
        import pcpi
        from pcpi import session_loader
        from pcpi.testing import resolve_to_loopback
        with resolve_to_loopback("api.fake.prismacloud.io"):
            saas, onprem = session_loader.load_config({creds!r})
            cspm = saas.create_cspm_session()
            cwp = saas.create_cwp_session()
            cna = saas.create_cna_session()
            console = onprem.create_cwp_session()
        print([type(cspm) == pcpi._cspm_session.CSPMSession,
               type(cwp) == pcpi._saas_cwp_session.SaaSCWPSession,
               type(cna) == pcpi._cna_session.CNASession,
               type(console) == pcpi._onprem_cwp_session.CWPSession,
               type(cwp) == pcpi._session_types.SaaSCWPSession,
               type(saas) == pcpi.saas_session_manager.SaaSSessionManager,
               type(onprem) == pcpi.onprem_session_manager.CWPSessionManager])
    """)
    env = dict(os.environ, PYTHONPATH=ROOT)  # this checkout's pcpi, not an installed one
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == str([True] * 7)


# ------------------------------------------------------------------ 6. load_config, mixed file
def test_load_config_min_tenants_with_loguru_on_a_mixed_file(tenant, tmp_path):
    loguru = pytest.importorskip("loguru")
    path = tenant.write_credentials(str(tmp_path / "creds.json"), kinds=("saas", "selfhosted"))
    before = open(path).read()
    seen = []
    sink = loguru.logger.add(lambda msg: seen.append(
        (msg.record["level"].name, msg.record["message"])))
    try:
        managers = session_loader.load_config(path, min_tenants=2, logger=loguru.logger)
        assert [type(m) for m in managers] == [SaaSSessionManager, CWPSessionManager]
        saas, onprem = managers
        assert [m.tenant for m in managers] == ["fake-saas", "fake-selfhosted"]
        assert all(m.logger is loguru.logger for m in managers)
        assert [m.verify for m in managers] == [tenant.ca_path, tenant.ca_path]
        assert [m.proxies for m in managers] == [None, None]
        assert onprem.project_flag is False
        assert (saas.a_key, saas.s_key, saas.api_url) == (
            tenant.access_key, tenant.secret_key, tenant.saas_url)
        assert (onprem.uname, onprem.passwd, onprem.api_url) == (
            tenant.username, tenant.password, tenant.compute_url)
        cspm = saas.create_cspm_session()
        console = onprem.create_cwp_session()
        assert cspm.logger is loguru.logger and console.logger is loguru.logger
        assert cspm.request("GET", "/cloud").status_code == 200
        assert console.request("GET", "/api/v1/hosts").status_code == 200
    finally:
        loguru.logger.remove(sink)
    assert open(path).read() == before  # an existing file: no prompt, nothing rewritten
    successes = [msg for level, msg in seen if level == "SUCCESS"]
    assert len(successes) >= 4 and all(m.startswith("SUCCESS - ") for m in successes)


# ------------------------------------------------------------------ 7. query + params + project
def test_endpoint_query_string_params_and_project_all_reach_the_server(tenant):
    m = CWPSessionManager("project-a", tenant.compute_url, tenant.username, tenant.password,
                          verify=tenant.ca_path, project_flag=True,
                          retry_policy=quiet_policy())
    try:
        cwp = m.create_cwp_session()
        res = cwp.request("GET", "/api/v1/images?limit=3", params={"offset": 10})
    finally:
        m.close()
    assert res.status_code == 200
    # 1.0.1 sent .../compute/api/v1/images?limit=3&offset=10&project=project-a
    url = urlsplit(res.url)
    assert url.path == "/compute/api/v1/images"
    assert sorted(parse_qsl(url.query)) == [("limit", "3"), ("offset", "10"),
                                            ("project", "project-a")]
    # and the server acted on all three: 3 items from the 11th, in the project
    assert [i["_id"] for i in res.json()] == ["images-00010", "images-00011", "images-00012"]
    assert {i["project"] for i in res.json()} == {"project-a"}


# ------------------------------------------------------------------ 8. run_tests.py constructors
def test_positional_constructors_with_string_verify_and_empty_proxies(tenant, monkeypatch):
    no_proxy = {"http": "", "https": ""}
    saas = SaaSSessionManager("t", tenant.access_key, tenant.secret_key, tenant.saas_url,
                              "True", no_proxy)
    onprem = CWPSessionManager("c", tenant.compute_url, tenant.username, tenant.password,
                               "True", no_proxy, False)
    # run_tests.py compares these attributes between managers built the same way
    again = SaaSSessionManager("t", tenant.access_key, tenant.secret_key, tenant.saas_url,
                               "True", no_proxy)
    assert [saas.tenant, saas.a_key, saas.s_key, saas.api_url] == [
        again.tenant, again.a_key, again.s_key, again.api_url] == [
        "t", tenant.access_key, tenant.secret_key, tenant.saas_url]
    assert [onprem.tenant, onprem.uname, onprem.passwd, onprem.api_url] == [
        "c", tenant.username, tenant.password, tenant.compute_url]
    assert saas.proxies == onprem.proxies == no_proxy and onprem.project_flag is False
    assert saas.verify and onprem.verify
    assert tenant.stats()["requests"] == 0  # a manager logs in only when a session is made
    for m in (saas, onprem, again):
        m.close()

    # an empty proxy string means "no proxy" for that scheme, even where the
    # environment names one (requests gives an explicit '' precedence)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:1")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")
    for name in ("NO_PROXY", "no_proxy", "https_proxy", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    saas = SaaSSessionManager("t", tenant.access_key, tenant.secret_key, tenant.saas_url,
                              tenant.ca_path, no_proxy, retry_policy=quiet_policy())
    onprem = CWPSessionManager("c", tenant.compute_url, tenant.username, tenant.password,
                               tenant.ca_path, no_proxy, False, retry_policy=quiet_policy())
    try:
        assert saas.create_cspm_session().request("GET", "/cloud").status_code == 200
        assert onprem.create_cwp_session().request("GET", "/api/v1/hosts").status_code == 200
    finally:
        saas.close()
        onprem.close()


# ------------------------------------------------------------------ 9. pip install over 1.0.1
_UNREACHABLE = re.compile(r"NewConnectionError|Failed to establish a new connection|"
                          r"Temporary failure in name resolution|Name or service not known|"
                          r"Network is unreachable|Connection refused|ConnectTimeout|"
                          r"Read timed out|ProxyError|Could not fetch URL", re.I)


def _requirement_names(requires) -> list:
    """Names of the requirements that apply without an extra."""
    names = []
    for req in requires or []:
        spec, _, marker = req.partition(";")
        if "extra" in marker:
            continue
        names.append(re.split(r"[\s\[<>=!~;(]", spec.strip(), maxsplit=1)[0].lower())
    return names


def test_installing_over_1_0_1_leaves_nothing_of_it_behind(tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = str(env_dir / ("Scripts" if os.name == "nt" else "bin") / "python")

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def run(*args, timeout=120):  # away from this checkout, so imports find the install
        return subprocess.run([py, *args], capture_output=True, text=True, timeout=timeout,
                              cwd=str(tmp_path), env=env)

    old = run("-m", "pip", "install", "-q", "--timeout", "15", "--retries", "1",
              "pcpi==1.0.1")
    if old.returncode != 0:
        why = [line for line in (old.stdout + old.stderr).splitlines()
               if _UNREACHABLE.search(line)]
        if why:
            pytest.skip("the package index is unreachable, so pcpi==1.0.1 cannot be "
                        f"installed to upgrade from: {why[-1].strip()[:300]}")
    assert old.returncode == 0, old.stderr[-3000:]
    probe = ("import json, os, pcpi, importlib.metadata as md; from pcpi import session_loader; "
             "print(json.dumps([os.path.dirname(pcpi.__file__), md.version('pcpi'), "
             "md.requires('pcpi')]))")
    out = run("-c", probe)  # a 1.0.1 user has run it: its __pycache__ exists too
    assert out.returncode == 0, out.stderr[-3000:]
    pkg_dir, old_version, old_requires = json.loads(out.stdout)
    assert old_version == "1.0.1"
    assert "pyyaml" in _requirement_names(old_requires)  # what 1.0.1 pulled in

    # this checkout, without VCS data, venvs or earlier build output
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
        ".ruff_cache", "mutants", ".coverage*"))
    new = run("-m", "pip", "install", "-q", str(src), timeout=300)
    assert new.returncode == 0, new.stderr[-3000:]

    probe = ("import json, pcpi, importlib.metadata as md; "
             "d = md.distribution('pcpi'); "
             "print(json.dumps([pcpi.__version__, d.version, d.requires, "
             "[str(f) for f in d.files]]))")
    out = run("-c", probe)
    assert out.returncode == 0, out.stderr[-3000:]
    version, dist_version, requires, files = json.loads(out.stdout)
    assert version == dist_version == pcpi.__version__

    shipped = {os.path.normpath(f) for f in files if f.startswith("pcpi/")}
    site = os.path.dirname(pkg_dir)
    left = []
    for folder, _dirs, names in os.walk(pkg_dir):
        for name in names:
            rel = os.path.normpath(os.path.relpath(os.path.join(folder, name), site))
            if os.path.basename(folder) == "__pycache__":
                # a compiled module is stale but harmless if its source still ships
                source = os.path.join(os.path.dirname(os.path.dirname(rel)),
                                      name.split(".")[0] + ".py")
                if os.path.normpath(source) in shipped:
                    continue
            elif rel in shipped:
                continue
            left.append(rel)
    assert left == [], f"files of pcpi 1.0.1 left in site-packages: {left}"
    assert not [d for d in os.listdir(site) if d.startswith("pcpi-1.0.1")]
    assert "pyyaml" not in _requirement_names(requires)


# ------------------------------------------------------------------ 10. a login or refresh forced
def test_a_login_or_a_refresh_forced_with_the_1_0_1_methods_renews_the_token(tenant, manager):
    """Scripts renew a session's token themselves with 1.0.1's methods (the only
    private names of the 1.0.1 surface that the suite calls): ``_api_login_wrapper()``
    logs in and returns the token; ``_api_refresh_wrapper()`` renews it (an extend on
    CSPM); the session then sends the new one."""
    cspm = manager.create_cspm_session()
    first = cspm.token
    tenant.reset_stats()
    cspm._api_refresh_wrapper()
    refreshed = cspm.token
    assert refreshed != first
    assert cspm._api_login_wrapper() == cspm.token != refreshed
    res = cspm.request("GET", "/cloud")
    assert res.status_code == 200 and res.request.headers["x-redlock-auth"] == cspm.token
    st = tenant.stats()
    assert (st["extends"], st["logins"]) == (1, 1)
