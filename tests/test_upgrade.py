"""What a 1.0.1 user notices after upgrading in place: warnings, logging, the
shape of results, 0.x-style calls and the version number."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import urllib3

import pcpi
from pcpi import errors
from pcpi.onprem_session_manager import CWPSessionManager
from pcpi.saas_session_manager import SaaSSessionManager
from pcpi.testing import FakeTenant

from ._fakes import names, quiet_policy
from .conftest import probe, saas_manager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(script: str) -> subprocess.CompletedProcess:
    """``script`` in a fresh interpreter (logging and warnings as a new script
    finds them), with a fake tenant ``t`` open and this checkout's pcpi."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        env.pop(name, None)
    head = "from pcpi.testing import FakeTenant\nwith FakeTenant() as t:\n"
    code = head + textwrap.indent(textwrap.dedent(script), "    ")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=env, cwd=ROOT)


# ---------------------------------------------------------------------- verify=False
def _no_gc(warned: list) -> list:
    """The warnings recorded, without the garbage collector's ResourceWarnings."""
    return [w for w in warned if not issubclass(w.category, ResourceWarning)]


def test_verify_false_warns_once_per_manager_and_leaves_the_users_warnings_alone(tenant):
    filters = list(warnings.filters)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        m = SaaSSessionManager("nightly", tenant.access_key, tenant.secret_key,
                               tenant.saas_url, verify=False)
        cspm = m.create_cspm_session()
        for _ in range(20):
            assert cspm.request("GET", "/cloud").status_code == 200
        ours = list(got)
        with requests.Session() as plain:  # the script's own unverified call
            plain.trust_env = False
            plain.get(f"{tenant.url}/cloud", verify=False).close()
        theirs = got[len(ours):]
    m.close()
    # (a ResourceWarning of the garbage collector may land here too: not ours to count)
    ours, theirs = ([w for w in ws if not issubclass(w.category, ResourceWarning)]
                    for ws in (ours, theirs))
    assert [w.category for w in ours] == [errors.InsecureTenantWarning]
    assert "'nightly'" in str(ours[0].message) and "verify=False" in str(ours[0].message)
    assert issubclass(errors.InsecureTenantWarning, urllib3.exceptions.InsecureRequestWarning)
    assert [w.category for w in theirs] == [urllib3.exceptions.InsecureRequestWarning]
    assert warnings.filters == filters  # pcpi changed no global filter


def test_a_per_call_verify_false_warns_once_too(tenant):
    m = saas_manager(tenant)
    cspm = m.create_cspm_session()
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        for _ in range(5):
            cspm.request("GET", "/cloud", verify=False)
    m.close()
    assert [w.category for w in _no_gc(got)] == [errors.InsecureTenantWarning]


# ---------------------------------------------------------------------- logging
class Kept(logging.Handler):
    """A handler that keeps the records it is given (``.records``)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _kept(logger: logging.Logger) -> list:
    """The records ``logger`` will hand its handlers, from now on."""
    handler = Kept()
    logger.addHandler(handler)
    return handler.records


@pytest.mark.contract  # a 1.0.1 log line
def test_a_logger_with_no_handler_still_shows_pcpis_lines_as_in_1_0_1():
    out = _run("""
        import logging
        from pcpi.saas_session_manager import SaaSSessionManager
        py_logger = logging.getLogger()
        py_logger.setLevel(10)                    # 1.0.1's README example
        m = SaaSSessionManager("t", t.access_key, t.secret_key, t.url, verify=t.ca_path,
                               logger=py_logger)
        m.create_cspm_session().request("GET", "/cloud")
        print("root handlers:", len(logging.getLogger().handlers))
    """)
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    assert any(line.startswith("INFO:root:SUCCESS - ") and line.endswith("/login")
               for line in lines), lines
    assert any(line.startswith("INFO:root:SUCCESS - ") and line.endswith("/cloud")
               for line in lines), lines
    assert "root handlers: 0" in out.stdout  # none added to the user's loggers


@pytest.mark.contract  # a 1.0.1 log line
def test_once_the_application_configures_logging_its_levels_decide():
    out = _run("""
        import logging
        logging.basicConfig(level=logging.ERROR)
        from pcpi.saas_session_manager import SaaSSessionManager
        m = SaaSSessionManager("t", t.access_key, t.secret_key, t.url, verify=t.ca_path)
        m.create_cspm_session().request("GET", "/cloud")
        m.create_cspm_session().request("GET", "/nowhere")
    """)
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    assert not any("SUCCESS" in line for line in lines), lines
    assert any(line.startswith("ERROR:pcpi:FAILED 404") for line in lines), lines


@pytest.mark.contract  # a 1.0.1 log line
def test_the_default_logger_shows_info_lines_until_logging_is_configured():
    out = _run("""
        from pcpi.saas_session_manager import SaaSSessionManager
        m = SaaSSessionManager("t", t.access_key, t.secret_key, t.url, verify=t.ca_path)
        m.create_cspm_session().request("GET", "/cloud")
    """)
    assert out.returncode == 0, out.stderr
    assert any(line.startswith("INFO:pcpi:SUCCESS - ") for line in out.stderr.splitlines())


@pytest.mark.contract  # a 1.0.1 log line
def test_records_carry_the_location_of_the_pcpi_code_that_logged(tenant):
    logger = logging.getLogger("pcpi-test-location")
    logger.setLevel(logging.DEBUG)
    records = _kept(logger)
    m = saas_manager(tenant, logger=logger)
    m.create_cspm_session().request("GET", "/cloud")
    m.close()
    assert records
    for record in records:
        assert os.path.basename(record.pathname) != "_log.py", record.__dict__
        assert record.pathname.startswith(os.path.dirname(pcpi.__file__))
    success = [r for r in records if r.getMessage().endswith("/cloud")][0]
    assert success.funcName == "_returned"


@pytest.mark.contract  # a 1.0.1 log line
def test_loguru_records_carry_the_pcpi_location(tenant):
    loguru = pytest.importorskip("loguru")
    seen = []
    sink = loguru.logger.add(lambda m: seen.append(m.record), level="DEBUG")
    try:
        m = saas_manager(tenant, logger=loguru.logger)
        m.create_cspm_session().request("GET", "/cloud")
        m.close()
    finally:
        loguru.logger.remove(sink)
    assert seen
    assert {r["file"].name for r in seen}.isdisjoint({"_log.py"})
    assert any(r["level"].name == "SUCCESS" and r["function"] == "_returned" for r in seen)


@pytest.mark.contract  # a 1.0.1 log line
def test_a_fatal_error_is_logged_before_it_is_raised(tenant):
    logger = logging.getLogger("pcpi-test-fatal")
    records = _kept(logger)
    m = SaaSSessionManager("t", tenant.access_key, "not-the-secret", tenant.saas_url,
                           verify=tenant.ca_path, logger=logger, retry_policy=quiet_policy())
    with pytest.raises(errors.CredentialsRejectedError) as info:
        m.create_cspm_session()
    m.close()
    errors_logged = [r for r in records if r.levelno == logging.ERROR]
    assert len([r for r in errors_logged if "CredentialsRejectedError" in r.getMessage()]) == 1
    assert str(info.value) in errors_logged[-1].getMessage()
    assert os.path.basename(errors_logged[-1].pathname) != "_log.py"
    assert "not-the-secret" not in errors_logged[-1].getMessage()


def test_a_missing_environment_variable_is_logged_before_it_is_raised(monkeypatch):
    from pcpi import session_loader

    logger = logging.getLogger("pcpi-test-env")
    records = _kept(logger)
    monkeypatch.delenv("PRISMA_PCPI_URL", raising=False)
    with pytest.raises(errors.MissingEnvironmentError):
        session_loader.load_config_env(logger=logger)
    assert any("MissingEnvironmentError" in r.getMessage() for r in records), records


def test_a_long_wait_for_the_rate_limit_is_said_once_per_endpoint(tenant, caplog):
    caplog.set_level(logging.INFO, logger="pcpi")
    tenant.configure(rate_limit=(10, 1))
    m = saas_manager(tenant, retry_policy=quiet_policy(sleep=time.sleep),
                     pacing=pcpi.Pacer())
    cspm = m.create_cspm_session()
    assert cspm.request("GET", "/cloud").status_code == 200  # (the limit is learned)
    with ThreadPoolExecutor(16) as pool:  # the last waits about 1.5 s
        codes = list(pool.map(lambda _: cspm.request("GET", "/cloud").status_code, range(16)))
    m.close()
    assert codes == [200] * 16
    said = [r.getMessage() for r in caplog.records
            if r.levelno == logging.INFO and "rate limit" in r.getMessage()]
    assert len(said) == 1, said  # once, naming the call it waits on
    names(said[0], f"GET {tenant.saas_url}/cloud")


# ---------------------------------------------------------------------- results
def test_config_search_keeps_the_servers_key_order(tenant):
    m = saas_manager(tenant)
    cspm = m.create_cspm_session()
    body = {"query": "config from cloud.resource where x", "limit": 10}
    out = cspm.config_search_request(dict(body))
    http = probe(tenant)
    token = cspm.token
    raw = http.post(f"{tenant.url}/search/config", json=body,
                    headers={"x-redlock-auth": token}).json()
    http.close()
    m.close()
    assert list(out) == list(raw)  # "data" where the server put it, as 1.0.1 returned it
    assert list(out)[-1] != "data"
    assert json.dumps(list(out))  # (what json.dump writes follows this order)


# ---------------------------------------------------------------------- 0.x calls
def test_a_logger_passed_in_the_style_of_pcpi_0x_is_a_clear_type_error(tenant):
    logger = logging.getLogger("script")
    with pytest.raises(TypeError, match=r"6th argument \(proxies\) is a logger.*logger=") as e:
        SaaSSessionManager("t", tenant.access_key, tenant.secret_key, tenant.saas_url, True,
                           logger)
    assert "(tenant_name, a_key, s_key, api_url, verify=True, proxies=None" in str(e.value)
    with pytest.raises(TypeError, match=r"7th argument \(project_flag\) is a logger"):
        CWPSessionManager("t", tenant.compute_url, tenant.username, tenant.password, True,
                          False, logger)
    with pytest.raises(TypeError, match="proxies must be a dict"):
        SaaSSessionManager("t", tenant.access_key, tenant.secret_key, tenant.saas_url, True,
                           "http://proxy:3128")


# ---------------------------------------------------------------------- the release
def test_the_version_is_a_final_release_that_pip_upgrades_to():
    from importlib.metadata import version

    from packaging.version import Version

    v = Version(pcpi.__version__)
    assert not v.is_prerelease and not v.is_devrelease
    assert v > Version("1.0.1")
    assert version("pcpi") == pcpi.__version__


def test_empty_proxies_for_a_tenant_go_direct_even_with_a_proxy_in_the_environment(
        monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nothing listens there
    with FakeTenant() as tenant:
        monkeypatch.delenv("NO_PROXY", raising=False)  # (the tenant's own exclusion)
        monkeypatch.delenv("no_proxy", raising=False)
        m = SaaSSessionManager("t", tenant.access_key, tenant.secret_key, tenant.url,
                               tenant.ca_path, {"http": "", "https": ""},
                               retry_policy=quiet_policy())
        assert m.create_cspm_session().request("GET", "/cloud").status_code == 200
        m.close()


# ---------------------------------------------------------------------- found in review
def test_a_per_call_verify_is_read_as_the_constructor_reads_it(tenant):
    m = saas_manager(tenant)
    cspm = m.create_cspm_session()
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        assert cspm.request("GET", "/cloud", verify="false").status_code == 200
    assert [w.category for w in _no_gc(got)] == [errors.InsecureTenantWarning]
    with pytest.raises(TypeError, match="verify must be"):
        cspm.request("GET", "/cloud", verify=0)  # not silently unverified
    m.close()


def test_where_warnings_are_errors_every_unverified_call_raises(tenant):
    m = saas_manager(tenant)
    cspm = m.create_cspm_session()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(2):
            with pytest.raises(errors.InsecureTenantWarning):
                cspm.request("GET", "/cloud", verify=False)
    m.close()


def test_two_tenants_on_one_transport_are_each_warned_about(tenant):
    shared = saas_manager(tenant).transport
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        for name in ("first", "second"):
            SaaSSessionManager(name, tenant.access_key, tenant.secret_key, tenant.saas_url,
                               verify=False, transport=shared)
    shared.close()
    got = _no_gc(got)
    assert [("'first'" in str(w.message), "'second'" in str(w.message)) for w in got] == \
        [(True, False), (False, True)]
    assert all(os.path.basename(w.filename) == "test_upgrade.py" for w in got)  # not pcpi's
    assert all(f"({tenant.saas_url})" in str(w.message) for w in got)  # names the origin


@pytest.mark.contract  # a 1.0.1 log line
def test_before_logging_is_configured_disable_filters_and_parent_levels_apply():
    out = _run("""
        import logging
        from pcpi.saas_session_manager import SaaSSessionManager
        def call(logger):
            m = SaaSSessionManager("t", t.access_key, t.secret_key, t.url, verify=t.ca_path,
                                   logger=logger)
            m.create_cspm_session().request("GET", "/cloud")
            m.close()
        logging.disable(logging.CRITICAL); call(None); logging.disable(logging.NOTSET)
        quiet = logging.getLogger("filtered"); quiet.addFilter(lambda r: False); call(quiet)
        logging.getLogger("app").setLevel(logging.ERROR); call(logging.getLogger("app.child"))
        print("done")
    """)
    assert out.returncode == 0, out.stderr
    assert "done" in out.stdout and out.stderr == "", out.stderr


def test_a_project_flag_given_as_the_string_false_adds_no_project(tenant):
    m = CWPSessionManager("project-a", tenant.compute_url, tenant.username, tenant.password,
                          tenant.ca_path, None, "false", retry_policy=quiet_policy())
    assert m.project_flag is False
    cwp = m.create_cwp_session()
    assert "project" not in (cwp.request("GET", "/api/v1/images").request.url.split("?") + [""])[1]
    m.close()


@pytest.mark.contract  # a 1.0.1 log line
def test_a_session_built_directly_logs_its_fatal_login_error(tenant):
    from pcpi._cspm_session import CSPMSession

    logger = logging.getLogger("pcpi-test-direct")
    kept = _kept(logger)
    with pytest.raises(errors.CredentialsRejectedError):
        CSPMSession("t", tenant.access_key, "wrong", tenant.saas_url, tenant.ca_path, None,
                    logger, retry_policy=quiet_policy())
    assert sum("CredentialsRejectedError" in r.getMessage() for r in kept) == 1, kept


@pytest.mark.contract  # a 1.0.1 log line
def test_loguru_names_where_a_fatal_error_was_raised(tenant):
    loguru = pytest.importorskip("loguru")
    seen = []
    sink = loguru.logger.add(lambda m: seen.append(m.record), level="ERROR")
    try:
        m = SaaSSessionManager("t", tenant.access_key, "wrong", tenant.saas_url,
                               verify=tenant.ca_path, logger=loguru.logger,
                               retry_policy=quiet_policy())
        with pytest.raises(errors.CredentialsRejectedError):
            m.create_cspm_session()
        m.close()
    finally:
        loguru.logger.remove(sink)
    fatal = [r for r in seen if "CredentialsRejectedError" in r["message"]]
    assert len(fatal) == 1 and fatal[0]["name"].startswith("pcpi."), fatal


@pytest.mark.contract  # a 1.0.1 log line
def test_a_stdlib_logger_with_its_own_success_level_gets_success_lines(tenant):
    class Verbose(logging.Logger):
        def success(self, msg, *args, **kwargs):
            self.log(35, msg, *args, **kwargs)

    logger = Verbose("verbose-test")
    seen = _kept(logger)
    m = saas_manager(tenant, logger=logger)
    m.create_cspm_session().request("GET", "/cloud")
    m.close()
    assert any(r.levelno == 35 and r.getMessage().startswith("SUCCESS - ") for r in seen), seen


@pytest.mark.contract  # a 1.0.1 log line
def test_a_logger_like_object_that_is_not_loguru_gets_its_own_methods_called(tenant):
    said = []

    class Proxy:  # structlog-style: every attribute is a method
        def __getattr__(self, name):
            return lambda *a, **k: said.append((name, a[0] if a else None))

    m = saas_manager(tenant, logger=Proxy())
    m.create_cspm_session().request("GET", "/cloud")
    m.close()
    assert ("success", said[-1][1]) == said[-1] and said[-1][1].startswith("SUCCESS - ")


def test_proxies_none_for_a_scheme_goes_direct_as_in_requests(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nothing listens there
    with FakeTenant() as tenant:
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        m = SaaSSessionManager("t", tenant.access_key, tenant.secret_key, tenant.url,
                               tenant.ca_path, {"http": None, "https": None},
                               retry_policy=quiet_policy())
        assert m.create_cspm_session().request("GET", "/cloud").status_code == 200
        m.close()


def test_load_config_with_a_0x_positional_logger_is_a_type_error(tmp_path):
    from pcpi import session_loader

    with pytest.raises(TypeError, match="num_tenants is a logger"):
        session_loader.load_config(str(tmp_path / "creds.json"), logging.getLogger())
