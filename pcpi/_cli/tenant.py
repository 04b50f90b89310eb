"""Which tenant and which of its APIs a command talks to.

Credentials are read as the loaders read them: the credentials file (the first
tenant in it, or the one ``--tenant`` names) or, with ``--env``, the
``PRISMA_PCPI_*`` variables.  A missing credentials file is asked for on the
terminal only when stdin is one (the questions go to stderr, never into the
data on stdout); otherwise it is an error that says what to do.
"""

from __future__ import annotations

import contextlib
import os
from typing import IO, Any, List, Optional, TextIO
from urllib.parse import urlsplit

from .. import session_loader
from .._catalogue import lookup
from .._credentials import default_path
from .._session_manager import SessionManager
from ..saas_session_manager import SaaSSessionManager

__all__ = ["APIS", "TenantError", "load_manager", "api_for", "session_for"]

#: the APIs a command can talk to (``--api``)
APIS = ("cspm", "compute", "cna")


class TenantError(Exception):
    """No usable tenant as asked; the message says what to do."""


def load_manager(config: Optional[str], use_env: bool, name: Optional[str], *,
                 stdin: Optional[TextIO], stderr: IO[str]) -> SessionManager:
    """The session manager of the tenant the command line names."""
    with contextlib.redirect_stdout(stderr):  # (the prompts print their questions)
        if use_env:
            return session_loader.load_config_env()
        path = os.path.expanduser(config) if config else default_path()
        if not os.path.lexists(path) and not (stdin is not None and stdin.isatty()):
            raise TenantError(
                f"there is no credentials file at {path}: create it (README, \"Quick "
                f"start\"), name another with --config, use --env with PRISMA_PCPI_URL, "
                f"PRISMA_PCPI_ID and PRISMA_PCPI_SECRET set, or run pcpi in a terminal to be "
                f"asked")
        managers: List[SessionManager] = session_loader.load_config(file_path=path)
    chosen = managers[0] if name is None else \
        next((m for m in managers if m.tenant == name), None)
    for manager in managers:
        if manager is not chosen:
            manager.close()
    if chosen is None:
        names = ", ".join(repr(m.tenant) for m in managers)
        raise TenantError(f"no tenant named {name!r} in {path} (it has {names}): pick one "
                          f"of those with --tenant")
    return chosen


def api_for(requested: Optional[str], manager: Any, method: str, endpoint: str) -> str:
    """The API a call goes to: ``requested`` (``--api``), else Compute for an
    endpoint the catalogue knows as Compute's, else CSPM; a self-hosted console
    has only Compute."""
    saas = isinstance(manager, SaaSSessionManager)
    if not saas:
        if requested is not None and requested != "compute":
            raise TenantError(f"tenant {manager.tenant!r} is a self-hosted Compute console: it "
                              f"has no {requested.upper()} API (leave --api out)")
        return "compute"
    if requested is not None:
        return requested
    entry = lookup(method, urlsplit(endpoint).path or "/")
    return "compute" if entry is not None and entry.product == "compute" else "cspm"


def session_for(manager: SessionManager, api: str) -> Any:
    """The logged-in session of ``api``."""
    if api == "compute":
        return manager.create_cwp_session()
    if api == "cna":
        return manager.create_cna_session()
    return manager.create_cspm_session()

