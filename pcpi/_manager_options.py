"""Keyword-only options the session managers share, with their defaults."""

from __future__ import annotations

from typing import Optional, Union
from urllib.parse import urlsplit

from ._log import Log
from ._origin import describe
from ._pacing import Pacer
from ._policy import RetryPolicy
from ._transport import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, Timeout, Transport

__all__ = ["ManagerOptions"]


class ManagerOptions:
    """Owns the tenant's transport and hands the same options to every session."""

    def _init_options(self, *, pool_connections: int = 200, pool_maxsize: int = 200,
                      timeout: Timeout = DEFAULT_TIMEOUT, retries: int = 20,
                      retry_policy: Optional[RetryPolicy] = None,
                      transport: Optional[Transport] = None,
                      pacing: Union[bool, Pacer] = True,
                      max_response_bytes: Optional[int] = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        if transport is None:
            transport = Transport(pool_connections=pool_connections, pool_maxsize=pool_maxsize,
                                  timeout=timeout, pacing=pacing,
                                  max_response_bytes=max_response_bytes)
        self.transport = transport
        if urlsplit(self.api_url).scheme.lower() == "http":
            # the user wrote http: allowed, said once per manager
            Log(self.logger).warning(
                f"tenant '{self.tenant}' is reached over plain http ({describe(self.api_url)}): "
                f"its token and credentials cross the network unencrypted; use https unless "
                f"this network is trusted")
        self.retries = retries
        self.retry_policy = retry_policy or RetryPolicy()

    def _session_options(self) -> dict:
        return {"transport": self.transport, "retries": self.retries,
                "retry_policy": self.retry_policy}

    def close(self) -> None:
        """Close the pooled connections (they reopen on the next call)."""
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
