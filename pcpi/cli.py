"""The ``pcpi`` command line: the exports a security team runs by hand.

::

    pcpi [--config PATH | --env] [--tenant NAME] [-q|-v] COMMAND ...
    pcpi request METHOD ENDPOINT [--json JSON|@FILE] [--param K=V]... [-o FILE]
    pcpi paginate METHOD ENDPOINT [--json JSON|@FILE] [--param K=V]... [--style S]
                  [--max-items N] [-o FILE] [--resume]
    pcpi rql QUERY [-o FILE] [--resume]

Also ``python -m pcpi``.  Exit codes: 0 complete, 1 error, 2 usage, 3 incomplete
(the file holds what was delivered; ``--resume`` finishes it), 130 interrupted.
Progress bars need the ``cli`` extra (``pip install "pcpi[cli]"``).  README,
"Command line".
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import warnings
from typing import IO, Any, Iterator, List, NoReturn, Optional

import requests

from . import __version__
from ._cli import commands
from ._cli.commands import Console, Failure, Incomplete, Interrupted, UsageError
from ._cli.export import StreamError
from ._cli.tenant import APIS
from ._paging import STYLES
from ._redact import redact
from ._session_base import VALID_METHODS
from .errors import PcpiError

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_ERROR", "EXIT_USAGE", "EXIT_INCOMPLETE",
           "EXIT_INTERRUPTED"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

_ALERTS_WINDOW = '{"timeRange": {"type": "relative", "value": {"amount": 7, "unit": "day"}}}'
_AWS = "\"config from cloud.resource where cloud.type = 'aws'\""

_EXAMPLES = {
    "request": [
        "pcpi request GET /cloud -o accounts.csv --columns accountId,name,cloudType",
        "pcpi request GET /cloud/123456789012",
        "pcpi request POST /alert/dismiss --json @dismiss.json",
    ],
    "paginate": [
        f"pcpi paginate POST /v2/alert --json '{_ALERTS_WINDOW}' -o alerts.csv",
        f"pcpi paginate POST /v2/alert --json '{_ALERTS_WINDOW}' -o alerts.csv --resume",
        "pcpi paginate GET /api/v1/images --param collections=prod -o images.jsonl",
        "pcpi paginate POST /audit/api/v1/log --json @window.json --max-items 1000",
    ],
    "rql": [
        f"pcpi rql {_AWS} -o aws.csv",
        f"pcpi rql {_AWS} -o aws.csv --resume",
        "pcpi rql \"event from cloud.audit_logs where operation = 'ConsoleLogin'\" "
        "-o logins.jsonl",
    ],
}
_OVERVIEW = [
    "pcpi request GET /cloud -o accounts.csv",
    "pcpi paginate POST /v2/alert --json @window.json -o alerts.csv",
    f"pcpi rql {_AWS} -o aws.jsonl",
    f"pcpi rql {_AWS} -o aws.jsonl --resume     (after exit 3 or Ctrl-C)",
]


def _examples(lines: List[str]) -> str:
    return "examples:\n" + "\n".join("  " + line for line in lines)


_EXIT_CODES = """\
exit codes:
  0    complete
  1    error (one line on stderr says what to fix; -v adds the traceback)
  2    usage (the command line is wrong; nothing was sent or written)
  3    incomplete: the file holds the rows delivered; --resume finishes it
  130  interrupted (Ctrl-C): as 3"""


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error on one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive(text: str) -> int:
    return _whole(text, 1)


def _count(text: str) -> int:
    return _whole(text, 0)


def _whole(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"{value} is less than {low}")
    return value


def _typed(fn: Any, name: str) -> Any:
    """``fn`` with argparse's error on ValueError, and a name for its messages."""
    def parse(text: str) -> Any:
        try:
            return fn(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    parse.__name__ = name
    return parse


def _method(text: str) -> str:
    method = text.upper()
    if method not in VALID_METHODS:
        raise argparse.ArgumentTypeError(f"{text!r} is not an HTTP method: use one of "
                                         f"{', '.join(VALID_METHODS)}")
    return method


def _add_globals(parser: argparse.ArgumentParser, *, here: bool) -> None:
    """The options every command takes, before the command or after it (only
    the main parser sets their defaults, so that a command's parser does not
    overwrite what came before it)."""
    default = None if here else argparse.SUPPRESS
    group = parser.add_argument_group("tenant and messages")
    group.add_argument("--config", metavar="PATH", default=default,
                       help="credentials file (default ~/.prismacloud/credentials.json)")
    group.add_argument("--env", action="store_true", default=False if here else default,
                       help="credentials from PRISMA_PCPI_URL, PRISMA_PCPI_ID, "
                            "PRISMA_PCPI_SECRET (and PRISMA_PCPI_VERIFY, ...)")
    group.add_argument("--tenant", metavar="NAME", default=default,
                       help="the tenant of that name in the credentials file (default: "
                            "the first)")
    group.add_argument("-q", "--quiet", action="store_true", default=False if here else default,
                       help="no progress bar, notes or warnings: errors only")
    group.add_argument("-v", "--verbose", action="count", default=0 if here else default,
                       help="log each call (-vv: more), and show a traceback with an error")


def _add_output(parser: argparse.ArgumentParser, *, resume: bool) -> None:
    group = parser.add_argument_group("output")
    group.add_argument("-o", "--output", metavar="FILE",
                       help="write to FILE, in the format its name ends with: .jsonl (one "
                            "item a line), .json (an array) or .csv (default: .jsonl on "
                            "stdout)")
    group.add_argument("--format", choices=("jsonl", "json", "csv"),
                       help="the format, whatever the file's name")
    group.add_argument("--columns", metavar="A,B.C", type=_typed(commands.parse_columns,
                                                                 "columns"),
                       help="CSV columns, in this order (nested keys as a.b; default: the "
                            "keys of the first page)")
    if resume:
        group.add_argument("--resume", action="store_true",
                           help="go on with an interrupted export of the same command into "
                                "the same -o FILE (starts it if there is none)")


def _add_call(parser: argparse.ArgumentParser, *, body_help: str) -> None:
    parser.add_argument("method", type=_method, metavar="METHOD",
                        help="GET, POST, PUT, PATCH, DELETE, ...")
    parser.add_argument("endpoint", metavar="ENDPOINT",
                        help="the path, e.g. /v2/alert (Compute paths go to Compute)")
    parser.add_argument("--json", metavar="JSON|@FILE", help=body_help)
    parser.add_argument("--param", metavar="K=V", action="append",
                        type=_typed(commands.parse_param, "param"),
                        help="a query parameter (repeat for more)")
    parser.add_argument("--api", choices=APIS,
                        help="the API to call (default: Compute for the endpoints Prisma "
                             "documents as Compute's, else CSPM)")


def _add_paging(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("paging")
    group.add_argument("--page-size", type=_positive, metavar="N",
                       help="items asked for per page (held to the endpoint's cap)")
    group.add_argument("--max-items", type=_count, metavar="N",
                       help="stop after N items (a complete export of the first N)")
    group.add_argument("--max-pages", type=_positive, metavar="N", default=10_000,
                       help="pages per run (default 10,000); more ends the run as "
                            "incomplete, and --resume reads on")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``pcpi`` and its commands."""
    formatter = argparse.RawDescriptionHelpFormatter
    main = _Parser(prog="pcpi", formatter_class=formatter,
                   description="Prisma Cloud from the command line: one call, or a whole "
                               "listing to a file, paced, paged completely and resumable.",
                   epilog=_examples(_OVERVIEW) + "\n\n" + _EXIT_CODES)
    main.add_argument("--version", action="version", version=f"pcpi {__version__}")
    _add_globals(main, here=True)
    sub = main.add_subparsers(dest="command", metavar="COMMAND", required=True,
                              parser_class=_Parser)

    request = sub.add_parser("request", formatter_class=formatter,
                             help="one call; its answer to stdout or -o FILE",
                             description="Send one call and write its answer (a JSON array "
                                         "as its items). An answer that is not JSON is "
                                         "written as it came.",
                             epilog=_examples(_EXAMPLES["request"]) + "\n\n" + _EXIT_CODES)
    _add_call(request, body_help="the JSON body, or @FILE (@- for stdin)")
    _add_output(request, resume=False)
    _add_globals(request, here=False)

    paginate = sub.add_parser("paginate", formatter_class=formatter,
                              help="every page of a listing, written as they arrive",
                              description="Read a whole listing, whichever paging style "
                                          "it uses, and write its items as pages arrive.",
                              epilog=_examples(_EXAMPLES["paginate"]) + "\n\n" + _EXIT_CODES)
    _add_call(paginate, body_help="the JSON body of the first page, or @FILE (@- for stdin)")
    paginate.add_argument("--style", choices=STYLES,
                          help="how the endpoint pages (default: as Prisma documents it)")
    paginate.add_argument("--items-key", metavar="PATH",
                          help="where the items are in an answer (dotted, '' for a bare "
                               "array; default: as documented)")
    _add_paging(paginate)
    _add_output(paginate, resume=True)
    _add_globals(paginate, here=False)

    rql = sub.add_parser("rql", formatter_class=formatter,
                         help="every result of an RQL search",
                         description="Run an RQL search (config, IAM or event) and write "
                                     "every result as pages arrive. Config searches ask for "
                                     "resource JSON; event searches cover the last 24 hours "
                                     "unless --json gives a timeRange.",
                         epilog=_examples(_EXAMPLES["rql"]) + "\n\n" + _EXIT_CODES)
    rql.add_argument("query", metavar="QUERY", help="the RQL query")
    rql.set_defaults(api=None)
    rql.add_argument("--json", metavar="JSON|@FILE",
                     help="fields added to the search's body, e.g. "
                          "'{\"timeRange\": ..., \"withResourceJson\": false}'")
    _add_paging(rql)
    _add_output(rql, resume=True)
    _add_globals(rql, here=False)
    return main


# ---------------------------------------------------------------------- logging
class _Format(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # (pcpi's records are redacted already; a library's warning may not be)
        return redact(f"pcpi: {record.levelname.lower()}: {record.getMessage()}")


#: modules whose log lines are about single calls (successes, failures, retries,
#: token renewals) or a loader's defaults: shown with -v only; the error line
#: says what failed, and the bar shows progress
_PER_CALL = frozenset({"_session_base", "_logins", "session_loader"})


class _Shown(logging.Filter):
    """Without -v: pcpi's warnings about a listing or a tenant (a listing that
    ended short, a tenant on plain http), not those about single calls."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno == logging.WARNING and record.module not in _PER_CALL


@contextlib.contextmanager
def _logging(stream: IO[str], verbosity: int) -> Iterator[None]:
    """pcpi's log lines on stderr for the command's length: warnings, or with
    ``-v`` every call, with ``-q`` none."""
    logger = logging.getLogger("pcpi")
    saved = (logger.level, logger.propagate)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_Format())
    if verbosity <= 0:
        handler.addFilter(_Shown())
    levels = {-1: logging.CRITICAL + 1, 0: logging.WARNING, 1: logging.INFO}
    logger.setLevel(levels.get(verbosity, logging.DEBUG))
    logger.propagate = False
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings():
            def show(message: Any, category: Any, filename: str, lineno: int,
                     file: Any = None, line: Any = None) -> None:
                if verbosity >= 0:
                    handler.handle(logging.makeLogRecord(
                        {"levelno": logging.WARNING, "levelname": "WARNING",
                         "msg": str(message), "funcName": "warning"}))
            warnings.showwarning = show
            yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


# ---------------------------------------------------------------------- main
def _isatty(stream: Optional[IO[Any]]) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):
        return False


def _run(args: argparse.Namespace, console: Console) -> int:
    stdin = sys.stdin
    # (1>&-: Python has no stdout; what would go there goes nowhere)
    stdout = sys.stdout.buffer if sys.stdout is not None else open(os.devnull, "wb")
    if args.command == "request":
        return commands.run_request(args, console, stdin, stdout)
    call = commands.paginate_call(args, stdin) if args.command == "paginate" else \
        commands.rql(args, stdin)
    return commands.run_export(args, call, console, stdin, stdout)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line (``argv`` without the program name; default
    ``sys.argv[1:]``) and return its exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, a usage error: argparse has spoken
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    stderr = sys.stderr if sys.stderr is not None else open(os.devnull, "w")  # (2>&-)
    prog = f"pcpi {args.command}"
    if args.quiet and args.verbose:
        return _usage(stderr, prog, "-q and -v say opposite things: give one")
    if args.env and (args.config is not None or args.tenant is not None):
        return _usage(stderr, prog, "--env reads one tenant from PRISMA_PCPI_*: leave out "
                                    "--config and --tenant (or --env)")
    verbosity = -1 if args.quiet else args.verbose
    # (the bar would be torn by -v's log lines)
    console = Console(stderr, verbosity, progress=verbosity == 0 and _isatty(stderr))
    with _logging(stderr, verbosity):
        try:
            return _run(args, console)
        except UsageError as exc:
            return _usage(stderr, prog, str(exc))
        except Incomplete as exc:
            console.error(str(exc), exc.__cause__)
            return EXIT_INCOMPLETE
        except Interrupted as exc:
            console.error(str(exc))
            return EXIT_INTERRUPTED
        except KeyboardInterrupt:
            console.error("interrupted")
            return EXIT_INTERRUPTED
        except StreamError as exc:
            # (what stdout still buffers must not fail again at exit)
            _silence_stdout()
            if not isinstance(exc.error, BrokenPipeError):
                console.error(str(exc), exc)
            # else its reader went away (| head): stop quietly, as other tools do
            return EXIT_ERROR
        except Failure as exc:
            console.error(str(exc), exc.__cause__ or exc)
            return EXIT_ERROR
        except (PcpiError, requests.RequestException) as exc:
            console.error(_explained(exc), exc)
            return EXIT_ERROR
        except OSError as exc:
            console.error(f"{exc.filename or ''}{': ' if exc.filename else ''}"
                          f"{exc.strerror or exc}", exc)
            return EXIT_ERROR
        except Exception as exc:  # a bug: still one line, the traceback with -v
            console.error(f"internal error, please report it (with the traceback -v shows): "
                          f"{type(exc).__name__}: {exc}", exc)
            return EXIT_ERROR


def _explained(exc: BaseException) -> str:
    """An error's message, with what to check when the network is what failed."""
    if isinstance(exc, requests.exceptions.SSLError):
        return f"{exc} (check 'verify' of the tenant: true, false, or a CA bundle's path)"
    if isinstance(exc, requests.exceptions.ConnectTimeout) or \
            not isinstance(exc, requests.exceptions.Timeout) and \
            isinstance(exc, requests.ConnectionError):
        return f"{exc} (check the tenant's URL, the network and any proxy)"
    return str(exc)


def _usage(stderr: IO[str], prog: str, message: str) -> int:
    stderr.write(f"{prog}: error: {message} (see {prog} --help)\n")
    return EXIT_USAGE


def _silence_stdout() -> None:
    """Point stdout at the null device, so that what it still buffers goes nowhere
    (instead of failing again, with a traceback, when Python exits)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
        sys.stdout.flush()
    except (OSError, ValueError):  # pragma: no cover - no stdout to point anywhere
        pass
