"""The command line without a network: arguments, usage errors (exit 2, one line),
which tenant and API a command talks to, RQL routing, the bar and the messages."""

from __future__ import annotations

import io
import json
import logging
import shlex

import pytest
import requests

from pcpi import cli
from pcpi._cli import commands, progress, tenant
from pcpi._cli.commands import Console, Failure, UsageError
from pcpi._cli.formats import make_writer
from pcpi._redact import remember
from pcpi.onprem_session_manager import CWPSessionManager
from pcpi.saas_session_manager import SaaSSessionManager

# the parts tested here by their private names (one reach each)
answer_bytes = commands._answer_bytes
isatty = cli._isatty
_logging_to = cli._logging
tqdm_class = progress._tqdm

SECRET = "unit-test-secret-Zq8w"


def creds_file(tmp_path, *names, url="https://api.fake.prismacloud.io:1"):
    path = tmp_path / "creds.json"
    path.write_text(json.dumps([{"name": n, "url": url, "identity": "ak", "secret": SECRET,
                                 "verify": "true"} for n in names]))
    return str(path)


def run_main(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------- the parser
def examples():
    parser = cli.build_parser()
    texts = [parser.epilog] + [sub.epilog for sub in _subparsers(parser).values()]
    for text in texts:
        for line in text.split("examples:\n", 1)[1].split("\n\n", 1)[0].splitlines():
            yield line.split("     (", 1)[0].strip()


def _subparsers(parser):
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


@pytest.mark.parametrize("example", sorted(set(examples())))
def test_every_example_in_the_help_parses(example):
    words = shlex.split(example)
    assert words[0] == "pcpi"
    args = cli.build_parser().parse_args(words[1:])
    assert args.command in ("request", "paginate", "rql")


def test_each_command_has_examples_and_the_exit_codes_in_its_help():
    parser = cli.build_parser()
    for name, sub in _subparsers(parser).items():
        assert f"examples:\n  pcpi {name} " in sub.epilog
        assert "3    incomplete" in sub.epilog
    for name in ("request", "paginate", "rql"):
        assert f"  pcpi {name} " in parser.epilog


def test_global_options_go_before_or_after_the_command():
    parser = cli.build_parser()
    before = parser.parse_args(["--config", "c.json", "--tenant", "t", "-v", "rql", "config x"])
    after = parser.parse_args(["rql", "config x", "--config", "c.json", "--tenant", "t", "-v"])
    for args in (before, after):
        assert (args.config, args.tenant, args.verbose, args.env, args.quiet) == \
            ("c.json", "t", 1, False, False)
    assert parser.parse_args(["-q", "request", "get", "/cloud"]).method == "GET"


def test_parsed_values():
    args = cli.build_parser().parse_args(
        ["paginate", "post", "/v2/alert", "--param", "a=b=c", "--param", "d=", "--columns",
         " id , policy.name", "--max-items", "0", "--page-size", "5", "--style", "body-token"])
    assert args.param == [("a", "b=c"), ("d", "")]
    assert args.columns == ["id", "policy.name"]
    assert (args.max_items, args.page_size, args.max_pages) == (0, 5, 10_000)


@pytest.mark.parametrize("argv,said", [
    ([], "required: COMMAND"),
    (["request", "FETCH", "/cloud"], "not an HTTP method"),
    (["paginate", "GET"], "required: ENDPOINT"),
    (["paginate", "GET", "/x", "--param", "novalue"], "is not NAME=VALUE"),
    (["paginate", "GET", "/x", "--columns", "a,,b"], "empty column"),
    (["paginate", "GET", "/x", "--columns", "a,a"], "a column twice"),
    (["paginate", "GET", "/x", "--max-items", "-1"], "less than 0"),
    (["paginate", "GET", "/x", "--page-size", "0"], "less than 1"),
    (["paginate", "GET", "/x", "--page-size", "ten"], "not a whole number"),
    (["paginate", "GET", "/x", "--style", "cursor"], "invalid choice"),
    (["request", "GET", "/x", "--resume"], "unrecognized arguments: --resume"),
    (["paginate", "GET", "/api/v1/images", "-q", "-v"], "-q and -v"),
    (["--env", "rql", "config x", "--tenant", "t"], "--env reads one tenant"),
    (["paginate", "POST", "/v2/alert", "-o", "alerts.txt"], "end it in .jsonl, .json or .csv"),
    (["paginate", "POST", "/v2/alert", "--columns", "id"], "--columns picks CSV columns"),
    (["paginate", "POST", "/v2/alert", "--resume"], "--resume goes on with an export into a "
                                                    "file: add -o FILE"),
    (["paginate", "POST", "/v2/alert", "-o", "-", "--resume"], "add -o FILE"),
    (["paginate", "POST", "/no/such/list"], "pcpi does not know how POST /no/such/list pages: "
                                            "add --style"),
    (["paginate", "GET", "/v2/alert", "--style", "rql"], "needs POST"),
    (["paginate", "POST", "/v2/alert", "--json", "[1]"], "must be a JSON object"),
    (["paginate", "POST", "/v2/alert", "--json", "{nope"], "--json is not JSON"),
    (["request", "POST", "/alert", "--json", "{nope"], "--json is not JSON"),
    (["rql", "network from vpc.flow_record"], "not 'network' queries"),
    (["rql", "  "], "the RQL query is empty"),
    (["rql", "config from x", "--json", "[]"], "fields to add"),
])
def test_usage_errors_are_one_line_and_exit_2_before_anything_is_read(capsys, tmp_path,
                                                                      monkeypatch, argv,
                                                                      said):
    monkeypatch.chdir(tmp_path)  # (any file a wrong check wrote would be here)
    code, out, err = run_main(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and said in err and "--help)" in err, err
    assert list(tmp_path.iterdir()) == []


def test_help_and_version_exit_0(capsys):
    code, out, _ = run_main(capsys, "--version")
    assert code == 0 and out.startswith("pcpi 1.")
    code, out, _ = run_main(capsys, "paginate", "--help")
    assert code == 0 and "--resume" in out and "examples:" in out


# ---------------------------------------------------------------------- arguments
def test_too_many_columns_are_a_usage_error():
    from pcpi._cli import formats

    many = ",".join(f"c{i}" for i in range(formats.MAX_COLUMNS + 1))
    with pytest.raises(ValueError, match="at most"):
        commands.parse_columns(many)
    assert len(commands.parse_columns(many.rsplit(",", 1)[0])) == formats.MAX_COLUMNS


def test_a_closed_or_missing_stream_is_not_a_terminal():
    closed = io.StringIO()
    closed.close()
    assert not isatty(closed) and not isatty(None) and not isatty(io.StringIO())


@pytest.mark.parametrize("raised,code,said", [
    (KeyboardInterrupt(), 130, "pcpi: error: interrupted\n"),
    (commands.Interrupted("interrupted: f.csv holds the 2 rows delivered"), 130,
     "pcpi: error: interrupted: f.csv holds the 2 rows delivered\n"),
    (RuntimeError(f"a bug near {SECRET}"), 1,
     "pcpi: error: internal error, please report it (with the traceback -v shows): "
     "RuntimeError: a bug near <redacted>\n"),
    (OSError(28, "No space left on device", "out.csv"), 1,
     "pcpi: error: out.csv: No space left on device\n"),
])
def test_anything_else_is_still_one_line(capsys, monkeypatch, raised, code, said):
    remember(SECRET, lasting=True)

    def run(args, console):
        raise raised

    monkeypatch.setattr(cli, "_run", run)
    assert run_main(capsys, "request", "GET", "/cloud") == (code, "", said)
    code_v, _, err = run_main(capsys, "request", "GET", "/cloud", "-v")
    assert code_v == code and err.endswith(said)
    assert ("Traceback" in err) == (code == 1) and SECRET not in err


@pytest.mark.parametrize("raised,hint", [
    (requests.exceptions.SSLError("certificate verify failed"), "check 'verify' of the "
                                                                 "tenant"),
    (requests.ConnectionError("Connection refused"), "check the tenant's URL, the network"),
    (requests.exceptions.ConnectTimeout("connect timed out"), "check the tenant's URL"),
    (requests.exceptions.ReadTimeout("read timed out"), None),
    (requests.HTTPError("418"), None),
])
def test_network_errors_say_what_to_check(capsys, monkeypatch, raised, hint):
    def run(args, console):
        raise raised

    monkeypatch.setattr(cli, "_run", run)
    code, out, err = run_main(capsys, "request", "GET", "/cloud")
    assert (code, out) == (1, "") and err.startswith(f"pcpi: error: {raised}")
    assert err.count("\n") == 1 and (hint is None) == ("(check" not in err)
    assert hint is None or hint in err


def test_json_comes_inline_from_a_file_or_from_stdin(tmp_path, monkeypatch):
    path = tmp_path / "body.json"
    path.write_bytes(b'\xef\xbb\xbf{"a": [1]}')  # (a byte-order mark is fine)
    assert commands.read_json('{"a": 1}', None) == {"a": 1}
    assert commands.read_json(f"@{path}", None) == {"a": [1]}
    stdin = io.TextIOWrapper(io.BytesIO(b'{"from": "stdin"}'))
    assert commands.read_json("@-", stdin) == {"from": "stdin"}
    with pytest.raises(Failure, match="there is none"):
        commands.read_json("@-", None)
    with pytest.raises(Failure, match=r"--json @.*missing\.json: No such file"):
        commands.read_json(f"@{tmp_path / 'missing.json'}", None)
    path.write_bytes(b"{bad")
    with pytest.raises(Failure, match="body.json is not JSON"):
        commands.read_json(f"@{path}", None)
    monkeypatch.setattr(commands, "MAX_JSON_BYTES", 4)
    path.write_bytes(b'{"a": 1}')
    with pytest.raises(Failure, match="larger than 4 bytes"):
        commands.read_json(f"@{path}", None)
    with pytest.raises(UsageError, match="nested too deeply"):
        commands.read_json("[" * 100_000, None)


def test_rql_queries_go_to_their_search():
    assert commands.rql_call("config from cloud.resource where x = 'y'") == (
        "/search/config", {"query": "config from cloud.resource where x = 'y'",
                           "heuristicSearch": True, "withResourceJson": True})
    assert commands.rql_call("CONFIG FROM IAM where source.public = true")[0] == \
        "/api/v1/permission"
    endpoint, body = commands.rql_call("event from cloud.audit_logs where x")
    assert endpoint == "/search/event" and body["timeRange"] == commands.EVENT_WINDOW
    window = {"type": "to_now", "value": "epoch"}
    _, body = commands.rql_call("event from x", {"timeRange": window, "limit": 5})
    assert body == {"query": "event from x", "timeRange": window, "limit": 5}
    _, body = commands.rql_call("config from x", {"withResourceJson": False})
    assert body["withResourceJson"] is False


def test_output_format_and_answers_written_out():
    assert commands.output_format(None, None) == "jsonl"
    assert commands.output_format("-", "csv") == "csv"
    assert commands.output_format("x.JSON", None) == "json"
    answer = b'[{"a": 1}, {"a": 2}]'
    assert answer_bytes(answer, make_writer("jsonl")) == b'{"a":1}\n{"a":2}\n'
    assert answer_bytes(answer, make_writer("json")) == b'[\n{"a":1},\n{"a":2}\n]\n'
    assert answer_bytes(b'{"a": {"b": 1}}', make_writer("json")) == \
        b'{"a":{"b":1}}\n'
    assert answer_bytes(b'{"a": {"b": 1}}', make_writer("csv")) == b"a.b\r\n1\r\n"
    assert answer_bytes(b"id,name\n1,x\n", make_writer("csv")) == b"id,name\n1,x\n"
    assert answer_bytes(b"\xff\xfe", make_writer("json")) == b"\xff\xfe"
    assert answer_bytes(b"  ", make_writer("json")) == b""


# ---------------------------------------------------------------------- tenant and API
def test_a_missing_credentials_file_is_not_asked_for_without_a_terminal(tmp_path):
    stdin = io.StringIO("https://api.prismacloud.io\nkey\nsecret\n")  # (isatty: False)
    stderr = io.StringIO()
    with pytest.raises(tenant.TenantError, match="no credentials file at .*nothing.json.*"
                                                 "--env"):
        tenant.load_manager(str(tmp_path / "nothing.json"), False, None, stdin=stdin,
                            stderr=stderr)
    with pytest.raises(tenant.TenantError):
        tenant.load_manager(str(tmp_path / "nothing.json"), False, None, stdin=None,
                            stderr=stderr)
    assert stderr.getvalue() == "" and stdin.read().startswith("https://")  # (nothing asked)


class Terminal(io.StringIO):
    """Standard input that says it is a terminal (and has no answers)."""

    def isatty(self):
        return True


def test_on_a_terminal_the_questions_go_to_stderr_never_to_stdout(tmp_path, monkeypatch,
                                                                  capsys):
    from pcpi.errors import ConfigurationError

    terminal = Terminal("")
    monkeypatch.setattr("sys.stdin", terminal)
    stderr = io.StringIO()
    with pytest.raises(ConfigurationError, match="no answer on standard input"):
        tenant.load_manager(str(tmp_path / "creds.json"), False, None, stdin=terminal,
                            stderr=stderr)
    assert stderr.getvalue().startswith("Enter Prisma Cloud Credentials\nEnter Prisma URL.")
    assert capsys.readouterr().out == ""


def test_the_first_tenant_or_the_one_named(tmp_path):
    path = creds_file(tmp_path, "prod", "dev")
    first = tenant.load_manager(path, False, None, stdin=None, stderr=io.StringIO())
    named = tenant.load_manager(path, False, "dev", stdin=None, stderr=io.StringIO())
    assert (first.tenant, named.tenant) == ("prod", "dev")
    with pytest.raises(tenant.TenantError, match=r"no tenant named 'qa' in .* \(it has "
                                                 r"'prod', 'dev'\)"):
        tenant.load_manager(path, False, "qa", stdin=None, stderr=io.StringIO())


def test_the_environment_loader(monkeypatch):
    monkeypatch.setenv("PRISMA_PCPI_URL", "https://api.fake.prismacloud.io:1")
    monkeypatch.setenv("PRISMA_PCPI_ID", "ak")
    monkeypatch.setenv("PRISMA_PCPI_SECRET", SECRET)
    manager = tenant.load_manager(None, True, None, stdin=None, stderr=io.StringIO())
    assert isinstance(manager, SaaSSessionManager) and manager.a_key == "ak"


@pytest.mark.parametrize("method,endpoint,api", [
    ("POST", "/v2/alert", "cspm"), ("GET", "/api/v1/images", "compute"),
    ("GET", "/api/v1/images?collections=x", "compute"), ("POST", "/api/v1/permission", "cspm"),
    ("GET", "/api/v32.07/hosts", "compute"), ("GET", "/not/catalogued", "cspm")])
def test_saas_calls_go_to_the_api_the_catalogue_names(method, endpoint, api):
    manager = SaaSSessionManager("t", "ak", SECRET, "https://api.fake.prismacloud.io:1")
    assert tenant.api_for(None, manager, method, endpoint) == api
    assert tenant.api_for("cna", manager, method, endpoint) == "cna"


def test_a_self_hosted_console_has_only_compute():
    manager = CWPSessionManager("c", "https://console.example:8083", "user", SECRET)
    assert tenant.api_for(None, manager, "POST", "/v2/alert") == "compute"
    assert tenant.api_for("compute", manager, "GET", "/api/v1/images") == "compute"
    with pytest.raises(tenant.TenantError, match="has no CSPM API"):
        tenant.api_for("cspm", manager, "GET", "/cloud")


# ---------------------------------------------------------------------- messages
def test_every_line_on_stderr_is_redacted_and_quiet_keeps_errors_only():
    remember(SECRET, lasting=True)
    stream = io.StringIO()
    console = Console(stream, 0, progress=False)
    console.note(f"note {SECRET}")
    console.warn("warn")
    console.error(f"error {SECRET}", ValueError(f"inner {SECRET}"))
    assert stream.getvalue() == ("pcpi: note <redacted>\npcpi: warning: warn\n"
                                 "pcpi: error: error <redacted>\n")
    quiet = io.StringIO()
    console = Console(quiet, -1, progress=False)
    console.note("n")
    console.warn("w")
    console.error("e")
    assert quiet.getvalue() == "pcpi: error: e\n"
    verbose = io.StringIO()
    try:
        raise ValueError(f"inner {SECRET}")
    except ValueError as exc:
        Console(verbose, 1, progress=False).error("outer", exc)
    assert "Traceback" in verbose.getvalue() and SECRET not in verbose.getvalue()
    assert verbose.getvalue().endswith("pcpi: error: outer\n")


def _record(module, level=logging.WARNING, msg="m"):
    return logging.makeLogRecord({"name": "pcpi", "levelno": level,
                                  "levelname": logging.getLevelName(level), "msg": msg,
                                  "module": module})


@pytest.mark.parametrize("verbosity,shown", [
    (-1, []), (0, ["pcpi: warning: listing"]),
    (1, ["pcpi: warning: listing", "pcpi: warning: call", "pcpi: info: success",
         "pcpi: error: failed"])])
def test_pcpi_log_lines_on_stderr_by_verbosity(verbosity, shown):
    stream = io.StringIO()
    logger = logging.getLogger("pcpi")
    before = (logger.level, logger.propagate, list(logger.handlers))
    with _logging_to(stream, verbosity):
        for record in (_record("_pager", msg="listing"), _record("_session_base", msg="call"),
                       _record("_session_base", logging.INFO, "success"),
                       _record("_session_base", logging.ERROR, "failed"),
                       _record("_pager", logging.DEBUG, "debug")):
            if logger.isEnabledFor(record.levelno):
                logger.handle(record)
    assert stream.getvalue().splitlines() == shown
    assert (logger.level, logger.propagate, list(logger.handlers)) == before


def test_python_warnings_become_one_line(recwarn):
    import warnings

    remember(SECRET, lasting=True)
    stream = io.StringIO()
    with _logging_to(stream, 0):
        warnings.warn("tenant 't' is not verified", UserWarning, stacklevel=1)
        warnings.warn(f"a library said {SECRET}", UserWarning, stacklevel=1)
    with _logging_to(stream, -1):
        warnings.warn("not shown", UserWarning, stacklevel=1)
    assert stream.getvalue() == ("pcpi: warning: tenant 't' is not verified\n"
                                 "pcpi: warning: a library said <redacted>\n")


class FakeBar:
    made = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.total = kwargs["total"]
        self.n = kwargs["initial"]
        self.postfix = []
        self.refreshed = self.closed = 0
        FakeBar.made.append(self)

    def set_postfix_str(self, text, refresh=True):
        self.postfix.append(text)

    def update(self, n):
        self.n += n

    def refresh(self):
        self.refreshed += 1

    def close(self):
        self.closed += 1


def test_the_bar_counts_items_and_pages_and_learns_the_total():
    stream = io.StringIO()
    bar = progress.Bar(stream, show=True, desc="paginate", items=10, pages=1,
                       factory=FakeBar)
    made = FakeBar.made[-1]
    assert made.kwargs["file"] is stream and made.n == 10 and made.total is None
    bar.total(None)
    bar.total(50)
    bar.total(50)
    bar.update(5, 2)
    bar.close()
    bar.close()
    bar.update(5, 3)  # (closed: nothing)
    assert (made.total, made.refreshed, made.n, made.closed) == (50, 1, 15, 1)
    assert made.postfix == ["pages=1", "pages=2"]


def test_no_bar_without_a_terminal_and_a_note_without_tqdm(monkeypatch):
    notes = []
    before = len(FakeBar.made)
    bar = progress.Bar(io.StringIO(), show=False, desc="x", note=notes.append, factory=FakeBar)
    bar.total(3)
    bar.update(1, 1)
    bar.close()
    assert len(FakeBar.made) == before and notes == []
    monkeypatch.setattr(progress, "_tqdm", lambda: None)
    progress.Bar(io.StringIO(), show=True, desc="x", note=notes.append).update(1, 1)
    assert notes == [progress.MISSING_TQDM] and 'pip install "pcpi[cli]"' in notes[0]


def test_tqdm_missing_is_no_bar(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "tqdm", None)  # (import fails)
    assert tqdm_class() is None


def test_tqdm_is_found_when_installed():
    from tqdm import tqdm

    assert tqdm_class() is tqdm
