"""Named errors for the conditions that ended a pcpi 1.0.1 script.

1.0.1 called ``exit()`` on bad credentials, a repeated 401 or exhausted login
retries.  These exceptions subclass :class:`SystemExit`, so an uncaught one still
ends the script (printing its message), while a caller can now catch
:class:`PcpiError` and carry on.  Messages say what to fix and never carry a
token, secret key or password.
"""

from __future__ import annotations

__all__ = [
    "PcpiError",
    "ConfigurationError",
    "CredentialsFileError",
    "MissingEnvironmentError",
    "LoginError",
    "CredentialsRejectedError",
    "AuthorizationError",
]


class PcpiError(SystemExit):
    """Base class of pcpi's fatal errors (a :class:`SystemExit`)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


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

    def __init__(self, names):
        self.names = list(names)
        super().__init__("missing environment variable(s): " + ", ".join(self.names)
                         + " (set them, or pass other names to load_config_env())")


class LoginError(PcpiError):
    """A login (or token refresh) could not complete."""


class CredentialsRejectedError(LoginError):
    """The API rejected the access key / secret key or user name / password."""


class AuthorizationError(PcpiError):
    """A call was refused (401) again right after a fresh login."""
