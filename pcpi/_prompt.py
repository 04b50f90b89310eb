"""Asking a person for credentials on the terminal (``load_config_user`` and a
missing credentials file), checking each by logging in."""

from __future__ import annotations

import getpass
import sys
from typing import Callable, List

import requests

from ._credentials import TenantConfig, is_saas_url, normalize_url, parse_flag, parse_verify
from .errors import ConfigurationError, LoginError, PcpiError

__all__ = ["ask_tenants"]

_MAX_TRIES = 3


def _ask(question: str, secret: bool = False) -> str:
    print(question, flush=True)
    try:
        if secret and sys.stdin.isatty():
            return getpass.getpass(prompt="")  # no echo on a terminal
        return input()
    except EOFError:
        raise ConfigurationError(f"no answer on standard input for: {question}") from None


def _ask_one() -> TenantConfig:
    while True:
        raw_url = _ask("Enter Prisma URL. (SaaS EX: https://app.ca.prismacloud.io, "
                       "On-Prem EX: https://yourdomain.com):")
        try:
            url = normalize_url(raw_url)
            break
        except ConfigurationError as exc:
            print(f"{exc}. Please try again.")
    if url != raw_url.strip():
        print(f"Adjusted URL: {url}")
    identity = _ask("Enter identity (Access Key or Username):").strip()
    secret = _ask("Enter secret (Secret Key or Password):", secret=True)
    while True:
        answer = _ask("Certificate verification: (True/False/<path_to_.pem> file). "
                      "Leave blank to use default value (True).")
        try:
            verify = parse_verify(answer)
            break
        except ConfigurationError as exc:
            print(f"{exc}. Please try again.")
    http_proxy = _ask("Enter HTTP proxy address. If you are not using a proxy, leave blank.")
    https_proxy = _ask("Enter HTTPS proxy address. If you are not using a proxy, leave blank.")
    proxies = {k: v.strip() for k, v in (("http", http_proxy), ("https", https_proxy))
               if v and v.strip()} or None
    project_flag = False
    if not is_saas_url(url):
        project_flag = parse_flag(_ask("CWP Project (True/False). Leave blank to use default "
                                       "value (False)."))
    if project_flag:
        name = _ask("Enter project ID:").strip()
    else:
        name = _ask("Enter tenant/console name (Optional):").strip()
    return TenantConfig(name=name or "Tenant", url=url, identity=identity, secret=secret,
                        verify=verify, proxies=proxies, project_flag=project_flag)


def _ask_checked(check: Callable[[TenantConfig], None]) -> TenantConfig:
    for attempt in range(1, _MAX_TRIES + 1):
        print("Enter Prisma Cloud Credentials")
        tenant = _ask_one()
        try:
            check(tenant)
            print("SUCCESS")
            return tenant
        except (LoginError, PcpiError, requests.RequestException) as exc:
            print(f"FAILED: {exc}")
            if attempt < _MAX_TRIES:
                print("Invalid credentials. Please re-enter your credentials.")
    raise ConfigurationError(f"the credentials were rejected {_MAX_TRIES} times; giving up")


def _yes(question: str) -> bool:
    return _ask(question).strip().lower() in ("y", "yes")


def ask_tenants(num_tenants: int, min_tenants: int,
                check: Callable[[TenantConfig], None]) -> List[TenantConfig]:
    """Ask for ``num_tenants`` tenants, or at least ``min_tenants`` then as many more
    as wanted, or (both -1) one and then as many more as wanted."""
    tenants: List[TenantConfig] = []
    if num_tenants != -1:
        for _ in range(num_tenants):
            tenants.append(_ask_checked(check))
        return tenants
    minimum: int = min_tenants if min_tenants != -1 else 1
    while True:
        tenants.append(_ask_checked(check))
        if len(tenants) >= minimum and not _yes(
                "Would you like to add another Prisma Cloud credential? Y/N"):
            return tenants
