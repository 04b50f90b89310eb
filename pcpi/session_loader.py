"""Build session managers from a credentials file, the environment or a person.

* :func:`load_config` reads ``~/.prismacloud/credentials.json`` (or ``file_path``);
  if the file does not exist it asks for credentials on the terminal and saves
  them (mode 0600).  A file that exists but cannot be used is reported, never
  rewritten.
* :func:`load_config_env` reads ``PRISMA_PCPI_*`` environment variables.
* :func:`load_config_user` asks on the terminal and saves nothing.

SaaS (``*.prismacloud.io`` / ``*.prismacloud.cn``) gives a
:class:`~pcpi.saas_session_manager.SaaSSessionManager`, any other URL a
:class:`~pcpi.onprem_session_manager.CWPSessionManager`.  Keyword-only
``**options`` (``pool_maxsize=``, ``timeout=``, ``retries=``...) go to each manager.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Union

from . import _prompt
from ._credentials import (
    TenantConfig,
    default_path,
    is_saas_url,
    normalize_url,
    parse_flag,
    parse_verify,
    read_credentials,
    write_credentials,
)
from ._log import Log, argument, boundary, py_logger
from ._manager_options import not_a_logger
from ._session_manager import SessionManager
from .errors import ConfigurationError, CredentialsFileError, MissingEnvironmentError
from .onprem_session_manager import CWPSessionManager
from .saas_session_manager import SaaSSessionManager

__all__ = ["load_config", "load_config_user", "load_config_env", "py_logger",
           "SaaSSessionManager", "CWPSessionManager", "SessionManager"]

Manager = Union[SaaSSessionManager, CWPSessionManager]


def _manager(tenant: TenantConfig, logger: Any, options: Dict[str, Any]) -> Manager:
    if tenant.saas:
        return SaaSSessionManager(tenant.name, tenant.identity, tenant.secret, tenant.url,
                                  tenant.verify, tenant.proxies, logger=logger, **options)
    return CWPSessionManager(tenant.name, tenant.url, tenant.identity, tenant.secret,
                             tenant.verify, tenant.proxies, tenant.project_flag,
                             logger=logger, **options)


def _check_by_login(logger: Any,
                    options: Dict[str, Any]) -> Callable[[TenantConfig], None]:
    """For the prompts: a tenant is good when a login with it succeeds."""
    def check(tenant: TenantConfig) -> None:
        with _manager(tenant, logger, options) as manager:
            if isinstance(manager, SaaSSessionManager):
                manager.create_cspm_session()
            else:
                manager.create_cwp_session()
    return check


def _check_counts(num_tenants: int, min_tenants: int, signature: str) -> None:
    for name, value in (("num_tenants", num_tenants), ("min_tenants", min_tenants)):
        not_a_logger(value, name, signature)  # a 0.x-style positional logger
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be a whole number (-1 for no limit), not "
                            f"{type(value).__name__}")
    if num_tenants != -1 and min_tenants != -1:
        raise ConfigurationError("give num_tenants or min_tenants, not both")


@boundary(argument("logger", 3))
def load_config(file_path: str = "", num_tenants: int = -1, min_tenants: int = -1,
                logger: Any = py_logger, **options: Any) -> List[SessionManager]:
    """One session manager per tenant in the credentials file (created by asking,
    when it does not exist yet)."""
    _check_counts(num_tenants, min_tenants,
                  "(file_path='', num_tenants=-1, min_tenants=-1, logger=...)")
    path = os.path.expanduser(file_path) if file_path else default_path()
    if not os.path.lexists(path):
        tenants = _prompt.ask_tenants(num_tenants, min_tenants, _check_by_login(logger, options))
        write_credentials(path, tenants)
        Log(logger).info(f"Saved credentials to {path} (readable by you only).")
    elif os.path.islink(path) and not os.path.exists(path):
        raise CredentialsFileError(path, "is a broken symbolic link")
    return [_manager(t, logger, options) for t in read_credentials(path)]


@boundary(argument("logger", 2))
def load_config_user(num_tenants: int = -1, min_tenants: int = -1, logger: Any = py_logger,
                     **options: Any) -> List[SessionManager]:
    """Ask for credentials on the terminal (checked by logging in); saves nothing."""
    _check_counts(num_tenants, min_tenants, "(num_tenants=-1, min_tenants=-1, logger=...)")
    tenants = _prompt.ask_tenants(num_tenants, min_tenants, _check_by_login(logger, options))
    return [_manager(t, logger, options) for t in tenants]


@boundary(argument("logger", 8))
def load_config_env(prisma_name: str = "PRISMA_PCPI_NAME",
                    identifier_name: str = "PRISMA_PCPI_ID",
                    secret_name: str = "PRISMA_PCPI_SECRET",
                    api_url_name: str = "PRISMA_PCPI_URL",
                    verify_name: str = "PRISMA_PCPI_VERIFY",
                    http_name: str = "PC_HTTP_PROXY", https_name: str = "PC_HTTPS_PROXY",
                    project_flag_name: str = "PRISMA_PCPI_PROJECT_FLAG",
                    logger: Any = py_logger, **options: Any) -> SessionManager:
    """One session manager from environment variables (names overridable)."""
    log = Log(logger)
    env = os.environ
    missing = [n for n in (api_url_name, identifier_name, secret_name) if not env.get(n)]
    if missing:
        raise MissingEnvironmentError(missing)
    name = env.get(prisma_name)
    if not name:
        log.warning(f"'{prisma_name}' not set. Using default name 'Tenant'.")
        name = "Tenant"
    url = normalize_url(env[api_url_name], f"{api_url_name}")
    verify = parse_verify(env.get(verify_name, "true"), f"{verify_name}")
    proxies = {k: env[n] for k, n in (("http", http_name), ("https", https_name))
               if env.get(n)} or None
    tenant = TenantConfig(name=name, url=url, identity=env[identifier_name],
                          secret=env[secret_name], verify=verify, proxies=proxies,
                          project_flag=parse_flag(env.get(project_flag_name, "false")))
    if not is_saas_url(url):
        log.debug(f"{api_url_name} is not a prismacloud.io URL: using a self-hosted console.")
    return _manager(tenant, logger, options)
