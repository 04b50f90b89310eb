"""Credentials: reading, checking and (atomically, privately) writing them.

The file is a JSON list of ``{name, url, identity, secret, verify, proxies,
project_flag}`` objects (pcpi 1.0.1), or one such object (the format of the
``prismacloud-api`` SDK).  A file pcpi cannot use is reported with its path and
the problem, and never rewritten.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import tempfile
from typing import Any, Dict, List, Optional, Union
from urllib.parse import urlsplit

from ._options import parse_verify as _parse_verify
from .errors import ConfigurationError, CredentialsFileError

__all__ = ["TenantConfig", "default_path", "read_credentials", "write_credentials",
           "normalize_url", "is_saas_url", "parse_verify", "parse_flag"]

_SAAS_DOMAINS = ("prismacloud.io", "prismacloud.cn")

#: largest credentials file pcpi reads (a few hundred tenants fit in far less)
MAX_FILE_BYTES = 1 << 20


@dataclasses.dataclass
class TenantConfig:
    """One tenant's settings, checked and normalised."""

    name: str
    url: str
    identity: str
    secret: str = dataclasses.field(repr=False)
    verify: Union[bool, str] = True
    proxies: Optional[Dict[str, str]] = None
    project_flag: bool = False

    @property
    def saas(self) -> bool:
        return is_saas_url(self.url)

    def to_json(self) -> Dict[str, Any]:
        """The entry as 1.0.1 wrote it (strings for verify and project_flag)."""
        verify = self.verify if isinstance(self.verify, str) else str(self.verify).lower()
        return {"name": self.name, "url": self.url, "identity": self.identity,
                "secret": self.secret, "verify": verify, "proxies": self.proxies,
                "project_flag": "true" if self.project_flag else "false"}


def default_path() -> str:
    """``~/.prismacloud/credentials.json``."""
    return os.path.join(os.path.expanduser("~"), ".prismacloud", "credentials.json")


def is_saas_url(url: str) -> bool:
    """SaaS vs self-hosted, decided by the host name as in 1.0.1."""
    host = (urlsplit(url if "://" in url else "https://" + url).hostname or "").lower()
    return any(host == d or host.endswith("." + d) for d in _SAAS_DOMAINS)


def normalize_url(url: Any, what: str = "url") -> str:
    """Add ``https://``, and for SaaS use the API host (``app*`` -> ``api*``) with no
    path; keep a self-hosted console's path.  Raises :class:`ConfigurationError`."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError(f"{what} is empty: give the Prisma Cloud API URL, e.g. "
                                 f"https://api.prismacloud.io, or your Compute console URL")
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"{what} {url!r} is not a valid URL ({exc})") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigurationError(f"{what} {url!r} is not an http(s) URL: give e.g. "
                                 f"https://api.prismacloud.io or https://console.example.com")
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets
    netloc = host if port is None else f"{host}:{port}"
    if is_saas_url(text):
        first, _, rest = host.partition(".")
        if first.startswith("app"):
            first = "api" + first[3:]  # the console host -> its API host
        netloc = f"{first}.{rest}" if port is None else f"{first}.{rest}:{port}"
        return f"{parts.scheme}://{netloc}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def parse_verify(value: Any, what: str = "verify") -> Union[bool, str]:
    """``verify`` from a file, the environment or a prompt: true, false or an
    existing CA bundle path (:func:`pcpi._options.parse_verify`)."""
    return _parse_verify(value, what, config=True)


def parse_flag(value: Any) -> bool:
    """``project_flag`` from a file, the environment or a caller: True only for
    True (or 1, as 1.0.1's ``== True``) and the string "true" in any case."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True or (isinstance(value, int) and value == 1)


def _entry(raw: Any, index: int) -> TenantConfig:
    label = f"entry {index}"
    if not isinstance(raw, dict):
        raise ValueError(f"{label} is a {type(raw).__name__}, expected an object with url, "
                         f"identity and secret")
    if isinstance(raw.get("name"), str) and raw["name"]:
        label += f" ('{raw['name']}')"
    missing = [k for k in ("url", "identity", "secret") if not raw.get(k)]
    if missing:
        raise ValueError(f"{label} is missing {', '.join(repr(k) for k in missing)}")
    for key in ("name", "url", "identity", "secret"):
        if key in raw and raw[key] is not None and not isinstance(raw[key], str):
            raise ValueError(f"{label}: {key!r} must be a string, not "
                             f"{type(raw[key]).__name__}")
    proxies = raw.get("proxies") or None
    if proxies is not None and (not isinstance(proxies, dict) or not all(
            isinstance(k, str) and (v is None or isinstance(v, str))
            for k, v in proxies.items())):
        raise ValueError(f"{label}: 'proxies' must be null or an object like "
                         f'{{"https": "http://proxy:3128"}}')
    flag = raw.get("project_flag", False)
    if not isinstance(flag, (bool, str)) and flag is not None:
        raise ValueError(f"{label}: 'project_flag' must be \"true\" or \"false\"")
    try:
        url = normalize_url(raw["url"], f"{label}: 'url'")
        verify = parse_verify(raw.get("verify", True), f"{label}: 'verify'")
    except ConfigurationError as exc:
        raise ValueError(str(exc)) from None
    proxies = {k: v for k, v in (proxies or {}).items() if v} or None
    return TenantConfig(name=raw.get("name") or "Tenant", url=url, identity=raw["identity"],
                        secret=raw["secret"], verify=verify, proxies=proxies,
                        project_flag=parse_flag(flag))


_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _read_file(path: str) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_FILE_BYTES`.  Anything else
    is refused before it is opened (a FIFO would block, a device never end, and
    opening some devices does something)."""
    try:
        refuse_unless_regular(path, os.stat(path).st_mode)
        # O_NONBLOCK: should the path turn into a FIFO meanwhile, opening it must
        # not wait for a writer (it changes nothing for a regular file)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | \
            getattr(os, "O_BINARY", 0)
        fd = os.open(path, flags)
    except PermissionError:
        raise CredentialsFileError(path, "cannot be read (permission denied)") from None
    except OSError as exc:
        raise CredentialsFileError(path, f"cannot be read ({exc.strerror})") from None
    try:
        refuse_unless_regular(path, os.fstat(fd).st_mode)
        chunks: List[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                raise CredentialsFileError(path, f"is larger than {MAX_FILE_BYTES >> 20} MiB; "
                                                 f"is it really a credentials file?")
            chunks.append(chunk)
    except OSError as exc:
        raise CredentialsFileError(path, f"cannot be read ({exc.strerror})") from None
    finally:
        os.close(fd)


def refuse_unless_regular(path: str, mode: int) -> None:
    """Raise :class:`CredentialsFileError` unless ``mode`` is a regular file's."""
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise CredentialsFileError(path, "is a directory; give the path of the JSON "
                                         "credentials file")
    kind = next((what for test, what in _KINDS if test(mode)), "not a file")
    raise CredentialsFileError(path, f"is {kind}, not a regular file; give the path of the "
                                     f"JSON credentials file")


def read_credentials(path: str) -> List[TenantConfig]:
    """Parse and check a credentials file; raises :class:`CredentialsFileError`."""
    raw = _read_file(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CredentialsFileError(path, "is not UTF-8 text") from None
    if not text.strip():
        raise CredentialsFileError(path, "is empty; it should hold a JSON list of tenants")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CredentialsFileError(path, f"is not valid JSON ({exc.msg} at line "
                                         f"{exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise CredentialsFileError(path, "is nested too deeply to be a credentials "
                                         "file") from None
    except ValueError:  # e.g. an integer longer than Python reads
        raise CredentialsFileError(path, "holds a number too long to read; is it really "
                                         "a credentials file?") from None
    if isinstance(data, dict):
        data = [data]  # one tenant object: the prismacloud-api format
    if not isinstance(data, list):
        raise CredentialsFileError(path, f"holds a JSON {type(data).__name__}; expected a list "
                                         f"of tenant objects (or one object)")
    if not data:
        raise CredentialsFileError(path, "holds no tenants (an empty list)")
    try:
        return [_entry(item, i + 1) for i, item in enumerate(data)]
    except ValueError as exc:
        raise CredentialsFileError(path, str(exc)) from None


def write_credentials(path: str, tenants: List[TenantConfig]) -> None:
    """Write ``tenants`` to ``path``: a temp file (mode 0600) renamed into place,
    in a directory created with mode 0700 when missing."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".credentials-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump([t.to_json() for t in tenants], fh, indent=4)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
