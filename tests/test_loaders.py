"""session_loader: credentials from a file, the environment and stdin answers."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest

from pcpi import errors, session_loader
from pcpi._credentials import normalize_url, read_credentials
from pcpi.errors import ConfigurationError, CredentialsFileError, MissingEnvironmentError
from pcpi.onprem_session_manager import CWPSessionManager
from pcpi.saas_session_manager import SaaSSessionManager

from ._fakes import names

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ------------------------------------------------------------------ from a file
def test_load_config_builds_one_manager_per_entry(tenant, tmp_path):
    path = tmp_path / "creds.json"
    entries = [tenant.credentials("saas", name="prod"),
               tenant.credentials("selfhosted", project="project-a")]
    path.write_text(json.dumps(entries))
    saas, onprem = session_loader.load_config(file_path=str(path))
    assert isinstance(saas, SaaSSessionManager) and isinstance(onprem, CWPSessionManager)
    assert (saas.tenant, saas.a_key, saas.s_key, saas.api_url, saas.verify) == (
        "prod", tenant.access_key, tenant.secret_key, tenant.saas_url, tenant.ca_path)
    assert onprem.project_flag is True and onprem.tenant == "project-a"
    assert saas.create_cspm_session().request("GET", "/cloud").status_code == 200
    assert onprem.create_cwp_session().request("GET", "/api/v1/hosts").status_code == 200


def test_a_single_object_is_accepted(tenant, tmp_path):
    path = tmp_path / "creds.json"
    entry = tenant.credentials("saas")
    entry["verify"] = True  # prismacloud-api writes a JSON boolean
    del entry["proxies"], entry["project_flag"]
    path.write_text(json.dumps(entry))
    [manager] = session_loader.load_config(file_path=str(path))
    assert manager.verify is True and manager.api_url == tenant.saas_url


def test_verify_strings_become_booleans(tenant, tmp_path):
    path = tmp_path / "creds.json"
    entries = [dict(tenant.credentials("saas"), verify=v) for v in ("false", "True", " true ")]
    path.write_text(json.dumps(entries))
    with pytest.warns(errors.InsecureTenantWarning, match="'fake-saas'"):  # the "false" one
        managers = session_loader.load_config(file_path=str(path))
    assert [m.verify for m in managers] == [False, True, True]


BAD_FILES = {
    "not-json": (b"{not json", "not valid JSON"),
    "empty": (b"", "is empty"),
    "scalar": (b"42", "expected a list"),
    "empty-list": (b"[]", "holds no tenants"),
    "not-objects": (b'["a"]', "entry 1 is a str"),
    "missing-secret": (b'[{"name": "x", "url": "https://api.prismacloud.io", '
                       b'"identity": "k"}]', "missing 'secret'"),
    "wrong-type": (b'[{"name": "x", "url": "https://api.prismacloud.io", "identity": 5, '
                   b'"secret": "s"}]', "'identity' must be a string"),
    "bad-verify": (b'[{"url": "https://api.prismacloud.io", "identity": "k", "secret": "s", '
                   b'"verify": "/no/such/ca.pem"}]', "expected true, false or the path"),
    "bad-url": (b'[{"url": "ftp://x", "identity": "k", "secret": "s"}]', "not an http(s) URL"),
    "bad-proxies": (b'[{"url": "https://api.prismacloud.io", "identity": "k", "secret": "s", '
                    b'"proxies": "http://p"}]', "'proxies' must be null or an object"),
    "not-utf8": (b"\xff\xfe\x00[", "not UTF-8"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_malformed_files_are_reported_and_left_untouched(tmp_path, name):
    content, problem = BAD_FILES[name]
    path = tmp_path / "credentials.json"
    path.write_bytes(content)
    os.utime(path, (1_000_000_000, 1_000_000_000))
    with pytest.raises(CredentialsFileError) as info:
        session_loader.load_config(file_path=str(path))
    message = str(info.value)
    assert str(path) in message and problem in message, message
    assert isinstance(info.value, SystemExit)
    assert path.read_bytes() == content
    assert os.stat(path).st_mtime == 1_000_000_000
    assert os.listdir(tmp_path) == ["credentials.json"]


def test_a_directory_is_reported(tmp_path):
    with pytest.raises(CredentialsFileError, match="is a directory"):
        session_loader.load_config(file_path=str(tmp_path))


def test_secrets_never_reach_the_error_message(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps([{"url": "https://api.prismacloud.io", "identity": 3,
                                 "secret": "TOPSECRET-value"}]))
    with pytest.raises(CredentialsFileError) as info:
        read_credentials(str(path))
    assert "TOPSECRET" not in str(info.value)


def test_unreadable_file_is_reported(tmp_path):
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # root reads any file regardless of mode; /proc/self/mem fails to read for real
        if not os.path.exists("/proc/self/mem"):
            pytest.skip("needs Linux /proc when run as root")
        path, expect = "/proc/self/mem", "cannot be read"
    else:
        target = tmp_path / "creds.json"
        target.write_text("[]")
        os.chmod(target, 0)
        path, expect = str(target), "cannot be read (permission denied)"
    with pytest.raises(CredentialsFileError) as info:
        read_credentials(path)
    assert path in str(info.value) and expect in str(info.value)


def test_num_and_min_tenants_together_is_an_error(tmp_path):
    with pytest.raises(ConfigurationError, match="not both"):
        session_loader.load_config(file_path=str(tmp_path / "x.json"), num_tenants=1,
                                   min_tenants=1)


# ------------------------------------------------------------------ URLs
@pytest.mark.parametrize("given,expected", [
    ("app.prismacloud.io", "https://api.prismacloud.io"),
    ("https://app2.eu.prismacloud.io/login?x=1", "https://api2.eu.prismacloud.io"),
    ("https://app.ca.prismacloud.io/", "https://api.ca.prismacloud.io"),
    ("https://api.fake.prismacloud.io:8443", "https://api.fake.prismacloud.io:8443"),
    ("api.prismacloud.cn", "https://api.prismacloud.cn"),
    ("console.example.com:8083", "https://console.example.com:8083"),
    ("https://us-east1.cloud.twistlock.com/us-1-111/", "https://us-east1.cloud.twistlock.com/us-1-111"),
])
def test_url_normalisation(given, expected):
    assert normalize_url(given) == expected


# ------------------------------------------------------------------ environment
def test_load_config_env_builds_a_saas_manager(tenant, monkeypatch):
    monkeypatch.setenv("PRISMA_PCPI_NAME", "env-tenant")
    monkeypatch.setenv("PRISMA_PCPI_URL", tenant.saas_url)
    monkeypatch.setenv("PRISMA_PCPI_ID", tenant.access_key)
    monkeypatch.setenv("PRISMA_PCPI_SECRET", tenant.secret_key)
    monkeypatch.setenv("PRISMA_PCPI_VERIFY", tenant.ca_path)
    manager = session_loader.load_config_env()
    assert isinstance(manager, SaaSSessionManager)
    assert (manager.tenant, manager.verify, manager.proxies) == ("env-tenant", tenant.ca_path,
                                                                 None)
    assert manager.create_cspm_session().request("GET", "/cloud").status_code == 200


def test_load_config_env_self_hosted_with_project(tenant, monkeypatch):
    monkeypatch.setenv("X_URL", tenant.compute_url)
    monkeypatch.setenv("X_ID", tenant.username)
    monkeypatch.setenv("X_SECRET", tenant.password)
    monkeypatch.setenv("X_NAME", "project-a")
    monkeypatch.setenv("X_VERIFY", tenant.ca_path)
    monkeypatch.setenv("X_PROJECT", "True")
    monkeypatch.setenv("X_HTTPS", "http://proxy.example:3128")
    manager = session_loader.load_config_env(
        prisma_name="X_NAME", identifier_name="X_ID", secret_name="X_SECRET",
        api_url_name="X_URL", verify_name="X_VERIFY", https_name="X_HTTPS",
        project_flag_name="X_PROJECT")
    assert isinstance(manager, CWPSessionManager)
    assert manager.project_flag is True
    assert manager.proxies == {"https": "http://proxy.example:3128"}


def test_load_config_env_names_every_missing_variable(monkeypatch):
    for name in ("PRISMA_PCPI_URL", "PRISMA_PCPI_ID", "PRISMA_PCPI_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(MissingEnvironmentError) as info:
        session_loader.load_config_env()
    for name in ("PRISMA_PCPI_URL", "PRISMA_PCPI_ID", "PRISMA_PCPI_SECRET"):
        assert name in str(info.value)


def test_load_config_env_project_flag_other_than_true_is_false(tenant, monkeypatch):
    monkeypatch.setenv("PRISMA_PCPI_URL", tenant.compute_url)
    monkeypatch.setenv("PRISMA_PCPI_ID", "u")
    monkeypatch.setenv("PRISMA_PCPI_SECRET", "p")
    monkeypatch.setenv("PRISMA_PCPI_PROJECT_FLAG", "no")
    assert session_loader.load_config_env().project_flag is False


@pytest.mark.parametrize("var,value,expected", [
    ("PRISMA_PCPI_VERIFY", "maybe", ("true", "false")),
    ("PRISMA_PCPI_URL", "ftp://nope", ("http",)),
])
def test_load_config_env_says_what_was_expected(monkeypatch, var, value, expected):
    monkeypatch.setenv("PRISMA_PCPI_URL", "https://api.prismacloud.io")
    monkeypatch.setenv("PRISMA_PCPI_ID", "k")
    monkeypatch.setenv("PRISMA_PCPI_SECRET", "s")
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigurationError) as info:
        session_loader.load_config_env()
    names(info.value, var, f"'{value}'", *expected)  # the variable, its value, what it takes


# ------------------------------------------------------------------ answers on stdin
CHILD = textwrap.dedent("""
    import json, os, sys
    from pcpi import session_loader
    from pcpi.testing import resolve_to_loopback, SAAS_HOST
    with resolve_to_loopback(SAAS_HOST):
        if sys.argv[1] == "user":
            managers = session_loader.load_config_user()
        else:
            managers = session_loader.load_config(file_path=sys.argv[2])
        out = [{"type": type(m).__name__, "tenant": m.tenant, "verify": m.verify,
                "proxies": m.proxies, "project_flag": getattr(m, "project_flag", None)}
               for m in managers]
    print("RESULT " + json.dumps(out))
""")


def run_child(answers, *args, home):
    env = dict(os.environ, HOME=str(home), PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-c", CHILD, *args], input="\n".join(answers) + "\n",
                          capture_output=True, text=True, timeout=120, env=env,
                          start_new_session=True)  # no controlling terminal: answers from stdin


def result_of(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def test_load_config_user_reads_answers_and_fixes_1_0_1_defects(tenant, tmp_path):
    answers = [
        # first tenant: SaaS, wrong secret first, then right
        tenant.saas_url, tenant.access_key, "wrong-secret", tenant.ca_path, "", "", "saas",
        tenant.saas_url, tenant.access_key, tenant.secret_key, tenant.ca_path, "", "", "saas",
        "y",
        # second tenant: self-hosted project, verify false, an https proxy
        tenant.compute_url, tenant.username, tenant.password, tenant.ca_path, "",
        "", "true", "project-a",
        "n",
    ]
    proc = run_child(answers, "user", home=tmp_path)
    saas, onprem = result_of(proc)
    assert saas == {"type": "SaaSSessionManager", "tenant": "saas", "verify": tenant.ca_path,
                    "proxies": None, "project_flag": None}
    assert onprem == {"type": "CWPSessionManager", "tenant": "project-a",
                      "verify": tenant.ca_path, "proxies": None, "project_flag": True}
    assert "Invalid credentials" in proc.stdout
    assert tenant.secret_key not in proc.stdout + proc.stderr
    assert not os.path.exists(tmp_path / ".prismacloud")


def test_load_config_asks_and_saves_a_private_file_when_missing(tenant, tmp_path):
    answers = [tenant.saas_url, tenant.access_key, tenant.secret_key, tenant.ca_path, "", "",
               "mine", "n"]
    proc = run_child(answers, "file", "", home=tmp_path)
    [saas] = result_of(proc)
    assert saas["tenant"] == "mine"
    folder = tmp_path / ".prismacloud"
    path = folder / "credentials.json"
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    [entry] = json.loads(path.read_text())
    assert entry["identity"] == tenant.access_key and entry["verify"] == tenant.ca_path
    assert [p.name for p in folder.iterdir()] == ["credentials.json"]  # no temp file left


def test_running_out_of_answers_is_a_clear_error(tmp_path):
    proc = run_child(["https://api.prismacloud.io"], "user", home=tmp_path)
    assert proc.returncode == 1
    assert "no answer on standard input" in proc.stderr


def test_a_broken_symbolic_link_is_named_not_replaced(tmp_path):
    link = tmp_path / "credentials.json"
    link.symlink_to(tmp_path / "gone.json")
    with pytest.raises(CredentialsFileError, match="broken symbolic link"):
        session_loader.load_config(file_path=str(link))
    assert os.path.islink(link) and not (tmp_path / "gone.json").exists()


def test_managers_describe_themselves_without_secrets():
    m = CWPSessionManager("console", "https://console.example:8083", "user", "hunter2-secret",
                          True, None, False)
    assert repr(m) == ("<CWPSessionManager tenant='console' "
                       "api_url='https://console.example:8083'>")
    m.close()
