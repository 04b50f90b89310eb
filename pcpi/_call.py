"""One call, described once.  No I/O here.

A :class:`Call` holds everything that stays the same across the attempts of
one call: what is sent (method, URL, body, query, headers) and where (verify,
proxies, timeout), the rules its outcomes are judged by
(:class:`~pcpi._retry.CallRules`: safe to repeat or not, retries, statuses),
and how they are reported (:class:`Report`).  API calls and login exchanges are
both calls; they differ in their values, not in the code that sends them.

:class:`Attempt` is what one attempt left: the answer or the exception, and the
facts the next steps judge by (which token was sent, when).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional, Tuple, Union

import requests

from ._auth import CallAuth, Credential
from ._body import Payload
from ._pacing import Key
from ._redact import without_query
from ._retry import CallRules, Progress
from ._types import Proxies

__all__ = ["Call", "Report", "Attempt", "CallState"]


@dataclasses.dataclass(frozen=True)
class Report:
    """How a call's outcome is written to the log (1.0.1's ``custom_log``,
    ``custom_error_message`` and ``redlock_ignore``); ``quiet`` calls (login
    exchanges) leave it to their caller."""

    note: str = ""
    error: str = ""
    redlock_ignore: Tuple[str, ...] = ()
    quiet: bool = False

    @property
    def suffix(self) -> str:
        """`` - custom_log`` as 1.0.1 appended it, or ""."""
        return f" - {self.note}" if self.note else ""

    @property
    def error_suffix(self) -> str:
        return f" - {self.error}" if self.error else ""


@dataclasses.dataclass(frozen=True)
class Call:
    """What stays the same across the attempts of one call."""

    method: str
    url: str
    body: Payload
    params: Any
    verify: Union[bool, str]
    proxies: Optional[Proxies]
    timeout: Any
    #: the call's own headers, copied once when it started; an authenticated call
    #: adds the session's token to them at each attempt
    headers: Mapping[str, Any]
    rules: CallRules
    report: Report = Report()
    #: the pacer's key for this call (None: not paced)
    pace_key: Optional[Key] = None

    @property
    def where(self) -> str:
        """``METHOD url`` without its query, for messages."""
        return f"{self.method} {without_query(self.url)}"


@dataclasses.dataclass
class Attempt:
    """What one attempt left, for the steps that judge it."""

    headers: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # as sent
    response: Optional[requests.Response] = None
    error: Optional[requests.RequestException] = None
    sent: Optional[str] = None              # the auth header value sent
    credential: Optional[Credential] = None  # the session's credential when it was sent
    sent_at: float = 0.0                    # (the authenticator's clock)
    answered_at: float = 0.0
    paced_at: Optional[float] = None        # when the pacer let it go (its clock)
    elapsed: float = 0.0                    # seconds, for the log


@dataclasses.dataclass
class CallState:
    """How far one call has come (lives in the call's frame)."""

    progress: Progress = dataclasses.field(default_factory=Progress)
    auth: CallAuth = dataclasses.field(default_factory=CallAuth)
