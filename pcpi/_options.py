"""The managers' keyword-only options, their defaults written once, and the one
reader of ``verify``.

:class:`Options` is built once per manager from the keyword arguments of
:class:`~pcpi.saas_session_manager.SaaSSessionManager`,
:class:`~pcpi.onprem_session_manager.CWPSessionManager` and the loaders; the
transport and every session of the manager are made from it, and a pickled
manager is rebuilt from it.  The signatures name :data:`DEFAULTS`' fields, so a
default is written only here.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, Optional, Union

from ._pacing import Pacer
from ._policy import DEFAULT_RETRIES, RetryPolicy
from ._transport import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_POOL,
    DEFAULT_TIMEOUT,
    Timeout,
    Transport,
)
from .errors import ConfigurationError

__all__ = ["Options", "DEFAULTS", "parse_verify"]


@dataclasses.dataclass(frozen=True)
class Options:
    """The keyword-only options of the session managers and loaders.

    ``pool_connections``, ``pool_maxsize``: the connection pool (keep
    ``pool_maxsize`` at least your thread count); ``timeout``: connect and read
    seconds of every call; ``retries``: resends of a 429/5xx answer;
    ``retry_policy``: backoff and connection retries (:class:`pcpi.RetryPolicy`);
    ``transport``: share one pool (and its pacer) between managers;
    ``pacing``: pace calls to the tenant's rate limit (False: off; a
    :class:`pcpi.Pacer` to tune or share one); ``max_response_bytes``: the
    largest answer read (None: no bound).  ``pacing`` and ``max_response_bytes``
    are ignored when ``transport`` is given: it has its own.
    """

    pool_connections: int = DEFAULT_POOL
    pool_maxsize: int = DEFAULT_POOL
    timeout: Timeout = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    retry_policy: Optional[RetryPolicy] = None
    transport: Optional[Transport] = None
    pacing: Union[bool, Pacer] = True
    max_response_bytes: Optional[int] = DEFAULT_MAX_RESPONSE_BYTES

    def new_transport(self) -> Transport:
        """The transport these options make (when none was given)."""
        return Transport(pool_connections=self.pool_connections,
                         pool_maxsize=self.pool_maxsize, timeout=self.timeout,
                         pacing=self.pacing, max_response_bytes=self.max_response_bytes)

    def for_copy(self) -> Dict[str, Any]:
        """What a pickled copy is rebuilt with: a shared transport or pacer stays
        here (the copy gets its own, pacing on or off as here)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                  if f.name != "transport"}  # (not asdict: it would deep-copy a pacer)
        fields["pacing"] = self.pacing is not False
        return fields


#: the defaults, for the managers' signatures
DEFAULTS = Options()


def parse_verify(value: Any, what: str = "verify", *, config: bool = False) -> Union[bool, str]:
    """``verify`` as pcpi reads it everywhere: ``True``/``False``, the strings
    ``"true"``/``"false"`` (also ``yes``/``no``, ``1``/``0``, any case; empty is
    true, as 1.0.1's files had it), None (true), or the path of a CA bundle.

    ``config``: the value comes from a credentials file, the environment or a
    prompt: a path must exist, and a bad value is a
    :class:`~pcpi.errors.ConfigurationError` naming ``what``; otherwise (a
    constructor's argument) a bad type is a ``TypeError``."""
    if isinstance(value, bool):
        return value
    if value is None:
        return True
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("", "true", "yes", "1"):
            return True
        if text.lower() in ("false", "no", "0"):
            return False
        if not config:
            return text
        path = os.path.expanduser(text)
        if os.path.exists(path):
            return path
        raise ConfigurationError(f"{what} is {value!r}: expected true, false or the path of "
                                 f"an existing CA bundle file")
    message = f"{what} must be true, false or a CA bundle path, not {type(value).__name__}"
    if config:
        raise ConfigurationError(message)
    raise TypeError(message)
