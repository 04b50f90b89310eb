"""The ``pcpi`` command line, run as a child process against the fake tenant over
real HTTPS: each command and output format, exports stopped by a failing page,
by SIGKILL at random moments and by Ctrl-C and then resumed (every id once),
bad credentials, progress on a terminal, and no secret anywhere the child wrote.

The child is ``tests/_cli_child.py`` (``python -m pcpi``'s entry point, with the
fake tenant's host names resolved to 127.0.0.1 in that process); ``python -m
pcpi`` and the ``pcpi`` console script themselves are run too."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import pty
import random
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time

import pytest

from pcpi.testing import FakeTenant

from .conftest import saas_manager

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_cli_child.py")
WINDOW = '{"timeRange": {"type": "relative", "value": {"amount": 24, "unit": "hour"}}}'


def cli(creds, *args, stdin=subprocess.DEVNULL, env=None, timeout=60, entry=None):
    """Run ``pcpi --config creds ARGS`` in a child; a CompletedProcess of bytes."""
    config = ["--config", creds] if creds else []
    cmd = (entry or [sys.executable, CHILD]) + config + list(args)
    return subprocess.run(cmd, stdin=stdin, capture_output=True, env=env, timeout=timeout)


def start(creds, *args, **kwargs):
    return subprocess.Popen([sys.executable, CHILD, "--config", creds, *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kwargs)


def one_line(err: bytes) -> str:
    """The child's stderr, which must be exactly one line without a traceback."""
    text = err.decode("utf-8")
    assert text.endswith("\n") and text.count("\n") == 1, text
    assert "Traceback" not in text
    return text


def no_secret(tenant, *blobs, also=()):
    """None of the tenant's tokens, secret key or password (nor ``also``) in
    ``blobs``.  (The access key is an identity: a rejected login names it, as
    pcpi's ``CredentialsRejectedError`` does, so that the user knows which.)"""
    secrets = [s for s in [*tenant.issued_secrets(), *also] if s]
    leaks = [n for n, blob in enumerate(blobs) for s in secrets
             if s.encode() in (blob if isinstance(blob, bytes) else blob.encode())]
    assert not leaks, f"a secret is in output number {leaks}"


def files_of(folder):
    """What the child wrote there (not the credentials file the test wrote)."""
    return {name: (folder / name).read_bytes() for name in os.listdir(folder)
            if name != "creds.json"}


def alert_ids(n, start=0):
    return [f"P-{i:07d}" for i in range(start, n)]


def jsonl_ids(data: bytes, key="id"):
    return [json.loads(line)[key] for line in data.decode("utf-8").splitlines()]


def csv_rows(data: bytes):
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def hits(tenant, endpoint):
    return tenant.stats()["requests_by_endpoint"].get(endpoint, 0)


@pytest.fixture
def creds(tenant, tmp_path):
    return tenant.write_credentials(str(tmp_path / "creds.json"))


# ---------------------------------------------------------------------- entry points
def test_python_m_pcpi_and_the_console_script_show_help_and_one_line_usage_errors():
    helped = cli(None, "--help", entry=[sys.executable, "-m", "pcpi"])
    text = helped.stdout.decode()
    assert helped.returncode == 0 and helped.stderr == b""
    for command in ("request", "paginate", "rql"):
        assert f"\n  pcpi {command} " in text
    assert "3    incomplete" in text
    script = shutil.which("pcpi", path=os.path.dirname(sys.executable))
    assert script, "the pcpi console script is not installed beside this Python"
    assert b"pcpi rql" in cli(None, "rql", "--help", entry=[script]).stdout
    usage = cli(None, "paginate", "GET", entry=[script])
    assert usage.returncode == 2 and usage.stdout == b""
    assert one_line(usage.stderr).startswith("pcpi paginate: error: the following arguments "
                                             "are required: ENDPOINT")


def test_a_bad_secret_is_one_line_without_traceback_or_secret(tenant, tmp_path):
    wrong = "wrong-secret-" + "x7Rq" * 6
    saas = tenant.credentials("saas")
    saas["secret"] = wrong
    path = tmp_path / "creds.json"
    path.write_text(json.dumps([saas]))
    out = cli(str(path), "rql", "config from cloud.resource", "-o", str(tmp_path / "r.csv"))
    assert out.returncode == 1 and out.stdout == b""
    assert "rejected" in one_line(out.stderr).lower()
    no_secret(tenant, out.stdout, out.stderr, *files_of(tmp_path).values(), also=[wrong])
    assert not os.path.exists(tmp_path / "r.csv")  # (nothing started before the login)
    verbose = cli(str(path), "request", "GET", "/cloud", "-v")
    assert verbose.returncode == 1 and b"Traceback" in verbose.stderr
    no_secret(tenant, verbose.stdout, verbose.stderr, also=[wrong])
    # a self-hosted console by address, through python -m pcpi itself
    hosted = tenant.credentials("selfhosted")
    hosted["secret"] = wrong
    path.write_text(json.dumps([hosted]))
    out = cli(str(path), "request", "GET", "/api/v1/hosts",
              entry=[sys.executable, "-m", "pcpi"])
    assert out.returncode == 1 and out.stdout == b""
    assert one_line(out.stderr).startswith("pcpi: error: ")
    no_secret(tenant, out.stdout, out.stderr, also=[wrong, tenant.password])


def test_no_question_is_asked_without_a_terminal(tmp_path):
    missing = str(tmp_path / "nowhere" / "creds.json")
    out = cli(missing, "request", "GET", "/cloud", stdin=subprocess.PIPE)
    assert out.returncode == 1 and out.stdout == b""
    assert "no credentials file at" in one_line(out.stderr)
    assert not os.path.exists(missing)


def test_credentials_from_the_environment_or_the_tenant_named(tenant, tmp_path):
    env = dict(os.environ, PRISMA_PCPI_URL=tenant.saas_url, PRISMA_PCPI_ID=tenant.access_key,
               PRISMA_PCPI_SECRET=tenant.secret_key, PRISMA_PCPI_VERIFY=tenant.ca_path)
    env.pop("PRISMA_PCPI_NAME", None)
    out = cli(None, "--env", "request", "GET", "/cloud", env=env)
    assert out.returncode == 0 and out.stderr == b""  # (no note about the unset name)
    assert len(out.stdout.splitlines()) == 50
    del env["PRISMA_PCPI_SECRET"]
    out = cli(None, "request", "GET", "/cloud", "--env", env=env)
    assert out.returncode == 1 and "PRISMA_PCPI_SECRET" in one_line(out.stderr)
    bad = tenant.credentials("saas", name="first")
    bad["secret"] = "not-the-secret-at-all"
    path = tmp_path / "creds.json"
    path.write_text(json.dumps([bad, tenant.credentials("saas", name="second")]))
    out = cli(str(path), "--tenant", "second", "request", "GET", "/cloud/100000000007")
    assert out.returncode == 0 and json.loads(out.stdout)["name"] == "account-0007"
    out = cli(str(path), "request", "GET", "/cloud", "--tenant", "third")
    assert out.returncode == 1 and "'first', 'second'" in one_line(out.stderr)
    no_secret(tenant, out.stdout, out.stderr, also=["not-the-secret-at-all"])


# ---------------------------------------------------------------------- request
def test_request_writes_the_answer_in_each_format(tenant, creds, tmp_path):
    manager = saas_manager(tenant)
    accounts = manager.create_cspm_session().request("GET", "/cloud").json()
    manager.close()
    out = cli(creds, "request", "GET", "/cloud")
    assert out.returncode == 0 and out.stderr == b""
    assert [json.loads(line) for line in out.stdout.splitlines()] == accounts
    target = tmp_path / "accounts.json"
    assert cli(creds, "request", "get", "/cloud", "-o", str(target)).returncode == 0
    assert json.loads(target.read_bytes()) == accounts
    target = tmp_path / "accounts.csv"
    out = cli(creds, "request", "GET", "/cloud", "-o", str(target), "--columns",
              "name,accountId")
    assert out.returncode == 0 and out.stdout == b""
    assert csv_rows(target.read_bytes()) == [["name", "accountId"]] + [
        [a["name"], a["accountId"]] for a in accounts]
    # Compute, as the catalogue says; a JSON string is one line
    version = cli(creds, "request", "GET", "/api/v1/version")
    assert (version.returncode, version.stdout) == (0, b'"32.07.123"\n')
    refused = cli(creds, "request", "GET", "/cloud/not-an-id", "-o", str(tmp_path / "x.json"))
    assert refused.returncode == 1 and refused.stdout == b""
    assert "GET /cloud/not-an-id answered HTTP 400: " in one_line(refused.stderr)
    assert not os.path.exists(tmp_path / "x.json")
    nowhere = cli(creds, "request", "GET", "/cloud", "-o", str(tmp_path / "no" / "x.json"))
    assert nowhere.returncode == 1 and "No such file or directory" in one_line(nowhere.stderr)
    cna = cli(creds, "request", "GET", "/namespaces", "--api", "cna")
    assert cna.returncode == 0 and len(cna.stdout.splitlines()) == 5
    no_secret(tenant, *files_of(tmp_path).values())


def test_stdout_that_cannot_be_written_ends_the_command_cleanly(tenant, creds):
    with open(os.devnull, "wb") as devnull:
        full = subprocess.run([sys.executable, CHILD, "--config", creds, "request", "GET",
                               "/cloud"], stdin=subprocess.DEVNULL,
                              stdout=open("/dev/full", "wb"), stderr=subprocess.PIPE,
                              timeout=60)
        assert full.returncode == 1
        assert one_line(full.stderr) == "pcpi: error: writing to stdout: No space left on " \
                                        "device\n"
        # a reader that went away (| head): stop, quietly
        proc = subprocess.Popen([sys.executable, CHILD, "--config", creds, "paginate", "POST",
                                 "/v2/alert", "--json", "{}", "--page-size", "10"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        proc.stdout.close()
        try:
            err = proc.stderr.read()
            assert proc.wait(60) == 1 and err == b""
        finally:
            proc.kill()
            proc.stderr.close()
        assert devnull


def test_a_self_hosted_console_has_no_cspm_api(tenant, tmp_path):
    path = tmp_path / "creds.json"
    path.write_text(json.dumps([tenant.credentials("selfhosted")]))
    out = cli(str(path), "request", "GET", "/cloud", "--api", "cspm")
    assert out.returncode == 1 and "has no CSPM API" in one_line(out.stderr)
    out = cli(str(path), "paginate", "GET", "/api/v1/hosts", "--max-items", "60")
    assert out.returncode == 0 and len(out.stdout.splitlines()) == 60


# ---------------------------------------------------------------------- paginate and rql
def test_paginate_writes_every_page_in_each_format(creds, tmp_path):
    with FakeTenant(alerts=230, scan_resources=30, compute_items=120) as tenant:
        creds = tenant.write_credentials(str(tmp_path / "creds.json"))
        out = cli(creds, "paginate", "POST", "/v2/alert", "--json", WINDOW, "--page-size", "100")
        assert (out.returncode, out.stderr) == (0, b"")
        assert jsonl_ids(out.stdout) == alert_ids(230)
        assert hits(tenant, "POST /v2/alert") == 3
        target = tmp_path / "alerts.json"
        out = cli(creds, "paginate", "POST", "/v2/alert", "--json", WINDOW, "-o", str(target))
        assert (out.returncode, out.stdout, out.stderr) == (0, b"", b"")
        assert [a["id"] for a in json.loads(target.read_bytes())] == alert_ids(230)
        target = tmp_path / "alerts.csv"
        out = cli(creds, "paginate", "POST", "/v2/alert", "--json", WINDOW, "-o", str(target),
                  "--page-size", "100", "--max-items", "150")
        rows = csv_rows(target.read_bytes())
        assert rows[0] == ["id", "status", "alertTime", "policy.policyId", "policy.name",
                           "policy.severity", "resource.id", "resource.cloudType"]
        assert rows[1] == ["P-0000000", "open", "1700000000000", "pol-0000", "policy 0",
                           "low", "res-0000000", "aws"]
        assert [r[0] for r in rows[1:]] == alert_ids(150)
        # lists go in one cell as JSON; a .json named by --format
        out = cli(creds, "paginate", "POST", "/v2/resource/scan_info", "--json", "{}",
                  "--format", "csv")
        rows = csv_rows(out.stdout)
        assert rows[0][-1] == "scannedPolicies" and rows[1][-1] == '[{"id":"pol-0000"}]'
        assert len(rows) == 31
        # Compute's offset paging, on the Compute session the catalogue picks
        target = tmp_path / "images.jsonl"
        out = cli(creds, "paginate", "GET", "/api/v1/images", "-o", str(target))
        assert out.returncode == 0
        assert jsonl_ids(target.read_bytes(), "_id") == [f"images-{i:05d}" for i in range(120)]
        assert hits(tenant, "GET /compute/api/v1/images") == 3
        assert not [n for n in os.listdir(tmp_path) if n.endswith(".pcpi-resume")]
        no_secret(tenant, *files_of(tmp_path).values())


def test_rql_exports_config_and_event_searches(tmp_path):
    with FakeTenant(search_items=250, search_events=120, search_page_size=100) as tenant:
        creds = tenant.write_credentials(str(tmp_path / "creds.json"))
        out = cli(creds, "rql", "config from cloud.resource where cloud.type = 'aws'")
        assert (out.returncode, out.stderr) == (0, b"")
        assert jsonl_ids(out.stdout) == [f"res-{i:07d}" for i in range(250)]
        assert (hits(tenant, "POST /search/config"), hits(tenant, "POST /search/config/page")) \
            == (1, 2)
        target = tmp_path / "events.csv"
        out = cli(creds, "rql", "event from cloud.audit_logs where operation = 'x'", "-o",
                  str(target), "--columns", "id,eventName")
        assert out.returncode == 0
        rows = csv_rows(target.read_bytes())
        assert rows[0] == ["id", "eventName"] and len(rows) == 121
        assert rows[120] == ["evt-0000119", "ConsoleLogin"]


def test_an_export_stopped_by_a_failing_page_exits_3_and_resume_finishes_it(tmp_path):
    query = "config from cloud.resource where cloud.type = 'aws'"
    with FakeTenant(search_items=250, search_page_size=100) as tenant:
        creds = tenant.write_credentials(str(tmp_path / "creds.json"))
        target = tmp_path / "resources.json"
        state = tmp_path / "resources.json.pcpi-resume"
        tenant.fail_next(400, 1000, path="/search/config/page")  # page 2 keeps failing
        out = cli(creds, "rql", query, "-o", str(target))
        assert out.returncode == 3 and out.stdout == b""
        line = one_line(out.stderr)
        assert "page 2 answered HTTP 400" in line
        assert f"{target} holds the 100 rows delivered" in line and "--resume" in line
        assert "page token expires" not in line
        held = target.read_bytes()
        assert [r["id"] for r in json.loads(held)] == [f"res-{i:07d}" for i in range(100)]
        assert state.exists()
        no_secret(tenant, out.stderr, *files_of(tmp_path).values())
        # still failing: the same again, nothing written twice
        out = cli(creds, "rql", query, "-o", str(target), "--resume")
        assert out.returncode == 3 and target.read_bytes() == held
        resumed = out.stderr.decode().splitlines()
        assert resumed[0] == f"pcpi: resuming {target} after 100 rows (1 page)"
        assert len(resumed) == 2 and resumed[1].endswith(
            "(a page token expires after a while: if the same page fails again, leave out "
            "--resume to start over)")
        # another command cannot take it over
        other = cli(creds, "rql", "config from cloud.resource", "-o", str(target), "--resume")
        assert other.returncode == 1 and "another command" in one_line(other.stderr)
        assert target.read_bytes() == held
        # on stdout, what was delivered, and no way to resume
        piped = cli(creds, "rql", query, "--format", "json")
        assert piped.returncode == 3 and len(json.loads(piped.stdout)) == 100
        assert "write to a file with -o" in one_line(piped.stderr)
        tenant.clear_faults()
        out = cli(creds, "rql", query, "-o", str(target), "--resume")
        assert out.returncode == 0
        assert [r["id"] for r in json.loads(target.read_bytes())] == \
            [f"res-{i:07d}" for i in range(250)]
        assert not state.exists()
        # one search for the file, one for stdout: the resumes went on from page 2
        assert hits(tenant, "POST /search/config") == 2
        finished = cli(creds, "rql", query, "-o", str(target), "--resume")
        assert finished.returncode == 1 and "nothing to resume" in one_line(finished.stderr)


def test_keys_first_seen_after_the_first_page_are_left_out_and_named(tmp_path):
    with FakeTenant(alerts=200, latency=0.03) as tenant:
        creds = tenant.write_credentials(str(tmp_path / "creds.json"))
        target = tmp_path / "alerts.csv"
        proc = start(creds, "paginate", "POST", "/v2/alert", "--json", "{}", "--page-size",
                     "20", "-o", str(target))
        try:
            _wait_for_growth(target, 0, proc)  # (the first page fixed the columns)
            tenant.configure(item_bytes=400)  # the later items gain a "pad" key
            out, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
        assert proc.returncode == 0 and out == b""
        assert one_line(err) == (f"pcpi: warning: 1 key first seen after the first page is "
                                 f"not in the columns of {target}: pad (name the columns with "
                                 f"--columns to include them)\n")
        rows = csv_rows(target.read_bytes())
        assert "pad" not in rows[0] and {len(r) for r in rows} == {8}
        assert [r[0] for r in rows[1:]] == alert_ids(200)


def test_a_refusal_mid_export_is_an_error_that_leaves_a_file_to_resume(tmp_path):
    query = "config from cloud.resource"
    with FakeTenant(search_items=250, search_page_size=100) as tenant:
        creds = tenant.write_credentials(str(tmp_path / "creds.json"))
        target = tmp_path / "resources.jsonl"
        # page 2 refused twice with a token the tenant says is alive
        tenant.fail_next(401, 2, path="/search/config/page")
        out = cli(creds, "rql", query, "-o", str(target))
        assert out.returncode == 1
        line = one_line(out.stderr)
        assert "/search/config/page" in line and "refused" in line
        assert line.endswith(f"{target} holds the 100 rows delivered: --resume finishes it "
                             f"once that is fixed\n")
        assert len(jsonl_ids(target.read_bytes())) == 100
        tenant.fail_next(401, 2, path="/search/config/page")
        piped = cli(creds, "rql", query)
        assert piped.returncode == 1 and len(jsonl_ids(piped.stdout)) == 100
        assert "refused" in one_line(piped.stderr) and "--resume" not in piped.stderr.decode()
        # without --resume: started over, and said so
        out = cli(creds, "rql", query, "-o", str(target))
        assert out.returncode == 0
        assert one_line(out.stderr) == (f"pcpi: starting {target} over (it held an unfinished "
                                        f"export, which --resume would have continued)\n")
        assert jsonl_ids(target.read_bytes()) == [f"res-{i:07d}" for i in range(250)]
        no_secret(tenant, *files_of(tmp_path).values())


def test_a_full_disk_is_an_error_and_resume_finishes_once_there_is_room(tmp_path):
    with FakeTenant(alerts=200) as tenant:
        creds = tenant.write_credentials(str(tmp_path / "creds.json"))
        target = tmp_path / "alerts.csv"
        args = ["paginate", "POST", "/v2/alert", "--json", "{}", "--page-size", "20", "-o",
                str(target)]
        full = cli(creds, *args, env=dict(os.environ, PCPI_TEST_FILE_LIMIT="5000"))
        assert full.returncode == 1
        line = one_line(full.stderr)
        assert f"writing {target}: File too large; {target} holds the " in line
        assert "--resume finishes it once that is fixed" in line
        state = json.loads((tmp_path / "alerts.csv.pcpi-resume").read_bytes())
        assert 0 < state["items"] < 200 and state["length"] <= 5000
        out = cli(creds, *args, "--resume")
        assert out.returncode == 0
        rows = csv_rows(target.read_bytes())
        assert rows[0][0] == "id" and [r[0] for r in rows[1:]] == alert_ids(200)


def _wait_for_growth(path, size, proc, seconds=20.0):
    """Until ``path`` is larger than ``size`` or ``proc`` ended (bounded in time)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return
        if os.path.exists(path) and os.path.getsize(path) > size:
            return
        time.sleep(0.005)
    raise AssertionError(f"the export made no progress in {seconds} s")


def test_an_export_killed_at_random_moments_resumes_with_every_id_once(tmp_path):
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    with FakeTenant(alerts=600, latency=0.02) as tenant:
        creds = tenant.write_credentials(str(tmp_path / "creds.json"))
        target = tmp_path / "alerts.csv"
        args = ["paginate", "POST", "/v2/alert", "--json", WINDOW, "--page-size", "20",
                "-o", str(target)]
        kills = 0
        size = 0
        for run in range(5):
            proc = start(creds, *args, *(["--resume"] if run else []))
            try:
                _wait_for_growth(target, size, proc)
                time.sleep(rng.uniform(0.0, 0.04))  # (mid-page, or mid-write)
                proc.send_signal(signal.SIGKILL)
                code = proc.wait(30)
            finally:
                proc.kill()
                proc.communicate(timeout=30)
            if code == 0:
                break  # (it finished before the kill)
            assert code == -signal.SIGKILL, f"seed {seed}"
            kills += 1
            size = os.path.getsize(target) if target.exists() else 0
        assert kills >= 3, f"seed {seed}: the export finished before it was killed enough"
        out = cli(creds, *args, "--resume")
        assert out.returncode == 0, f"seed {seed}: {out.stderr!r}"
        rows = csv_rows(target.read_bytes())
        assert rows[0][0] == "id" and [r[0] for r in rows[1:]] == alert_ids(600), \
            f"seed {seed}"
        assert not (tmp_path / "alerts.csv.pcpi-resume").exists()
        no_secret(tenant, *files_of(tmp_path).values())


def test_ctrl_c_exits_130_and_resume_finishes(tmp_path):
    with FakeTenant(alerts=400, latency=0.02) as tenant:
        creds = tenant.write_credentials(str(tmp_path / "creds.json"))
        target = tmp_path / "alerts.jsonl"
        args = ["paginate", "POST", "/v2/alert", "--json", WINDOW, "--page-size", "20", "-o",
                str(target)]
        proc = start(creds, *args)
        try:
            _wait_for_growth(target, 0, proc)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
        assert proc.returncode == 130 and out == b""
        line = one_line(err)
        assert line.startswith("pcpi: error: interrupted: ") and "--resume" in line
        held = jsonl_ids(target.read_bytes())
        assert held == alert_ids(len(held)) and 0 < len(held) < 400
        done = cli(creds, *args, "--resume")
        assert done.returncode == 0 and jsonl_ids(target.read_bytes()) == alert_ids(400)


def test_progress_is_drawn_on_a_terminal_and_stdout_holds_only_data(tmp_path):
    with FakeTenant(alerts=300, latency=0.05) as tenant:
        creds = tenant.write_credentials(str(tmp_path / "creds.json"))
        master, terminal = pty.openpty()
        # (a new pseudo-terminal is 0 columns wide, where tqdm draws nothing)
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
        drawn = []

        def read():
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # (the terminal closed)
                    return
                if not chunk:
                    return
                drawn.append(chunk)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        proc = subprocess.Popen(
            [sys.executable, CHILD, "--config", creds, "paginate", "POST", "/v2/alert",
             "--json", WINDOW, "--page-size", "50"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=terminal)
        os.close(terminal)
        try:
            out, _ = proc.communicate(timeout=60)
        finally:
            proc.kill()
        reader.join(10)
        os.close(master)
        bar = b"".join(drawn).decode("utf-8", "replace")
        assert proc.returncode == 0
        assert "pages=6" in bar and "300/300" in bar and " items" in bar
        assert jsonl_ids(out) == alert_ids(300)  # (nothing else on stdout)
