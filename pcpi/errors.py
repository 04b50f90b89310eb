"""Named errors: fatal conditions, and calls that could not be completed safely.

Two families:

* :class:`PcpiError` (a :class:`SystemExit`): the conditions that ended a 1.0.1
  script (bad credentials, a repeated 401, exhausted login retries, unusable
  configuration).  An uncaught one still ends the script with its message,
  while a caller can catch :class:`PcpiError` and carry on.
* :class:`PcpiRequestError` (a ``requests.RequestException``): one call that
  pcpi refused to complete as the server asked, because doing so would move a
  secret to another origin, lose data or exceed a bound.  Other calls go on;
  ``except requests.RequestException`` catches these along with requests' own.

Messages say what to fix and never carry a token, secret key or password.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional

import requests
import urllib3

__all__ = [
    "PcpiError",
    "ConfigurationError",
    "CredentialsFileError",
    "MissingEnvironmentError",
    "LoginError",
    "CredentialsRejectedError",
    "AuthorizationError",
    "PcpiRequestError",
    "OriginError",
    "IncompleteResultError",
    "ResponseTooLargeError",
    "TruncatedBodyError",
    "DeadlineExceeded",
    "InsecureTenantWarning",
    "DeprecatedEndpointWarning",
]


class PcpiError(SystemExit):
    """Base class of pcpi's fatal errors (a :class:`SystemExit`)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt without calling __init__, whose arguments differ by subclass, so
        # that every error crosses a process boundary (multiprocessing, Dask, Ray).
        return _rebuild, (type(self), self.args, dict(self.__dict__))


def _rebuild(cls: type[BaseException], args: tuple[Any, ...],
             state: dict[str, Any]) -> BaseException:
    error = cls.__new__(cls, *args)
    SystemExit.__init__(error, *args)  # args and SystemExit's code, as first raised
    error.__dict__.update(state)
    return error


class ConfigurationError(PcpiError):
    """Options, credentials or environment that pcpi cannot use."""


class CredentialsFileError(ConfigurationError):
    """A credentials file that is unreadable or malformed; it is left untouched."""

    def __init__(self, path: str, problem: str):
        super().__init__(f"credentials file {path}: {problem}")
        self.path = path
        self.problem = problem


class MissingEnvironmentError(ConfigurationError):
    """Required environment variables are not set."""

    def __init__(self, names: Iterable[str]):
        self.names: List[str] = list(names)
        super().__init__("missing environment variable(s): " + ", ".join(self.names)
                         + " (set them, or pass other names to load_config_env())")


class LoginError(PcpiError):
    """A login (or token refresh) could not complete."""


class CredentialsRejectedError(LoginError):
    """The API rejected the access key / secret key or user name / password."""


class AuthorizationError(PcpiError):
    """A call was refused (401) again right after a fresh login."""


class PcpiRequestError(requests.exceptions.RequestException):
    """A call pcpi would not complete as the server asked (see the subclasses)."""


class OriginError(PcpiRequestError):
    """A server tried to move a call to another origin (scheme, host, port): a
    redirect elsewhere or onto plain http, or a URL learned from the tenant that
    is plain http while the tenant is https.  Nothing was sent there."""


class IncompleteResultError(PcpiRequestError, ValueError):
    """A paginated result could not be completed: a page failed, or the pages did
    not end.  ``pages`` and ``rows`` say what was delivered (to the callback or
    the loop) before it; nothing partial is returned as complete.  ``resume`` (a
    JSON-serialisable dict, or None when the listing cannot be continued) goes to
    ``session.paginate(..., resume=exc.resume)`` to read the rest later."""

    def __init__(self, message: str, *, pages: int, rows: int,
                 response: Optional[requests.Response] = None,
                 resume: Optional[Dict[str, Any]] = None):
        super().__init__(message, response=response)
        self.pages = pages
        self.rows = rows
        self.resume = resume

    def __reduce__(self) -> tuple[Any, ...]:
        return _incomplete, (str(self), self.pages, self.rows, self.resume)


class ResponseTooLargeError(PcpiRequestError):
    """An answer exceeded ``max_response_bytes`` (decompressed bytes counted);
    reading stopped there."""


class TruncatedBodyError(PcpiRequestError, requests.exceptions.ChunkedEncodingError):
    """A compressed answer whose stream stopped before its end, although its HTTP
    framing was whole: the body was cut short.  Retried like a broken read when
    the call is safe to repeat; never returned as a short answer."""


class DeadlineExceeded(PcpiRequestError, requests.exceptions.ReadTimeout):
    """One attempt took longer than its whole timeout (connect + read seconds),
    e.g. against a server that trickles bytes; retried like any read timeout
    when the call is safe to repeat."""


def _incomplete(message: str, pages: int, rows: int,
                resume: Optional[Dict[str, Any]] = None) -> IncompleteResultError:
    return IncompleteResultError(message, pages=pages, rows=rows, resume=resume)


class DeprecatedEndpointWarning(FutureWarning):
    """Issued once per endpoint and process for an endpoint that Prisma Cloud's
    published API specs deprecate, naming its replacement where they give one.
    (A ``FutureWarning``, shown by default: it is meant for the script's author.)"""


class InsecureTenantWarning(urllib3.exceptions.InsecureRequestWarning):
    """Issued once per tenant and origin (and transport) whose calls go without
    TLS certificate verification (``verify=False``), instead of urllib3's
    warning on every request.  A subclass of urllib3's
    ``InsecureRequestWarning``, so ``urllib3.disable_warnings()`` silences it too."""
