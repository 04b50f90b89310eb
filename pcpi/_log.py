"""Logging: the default ``pcpi`` logger and one adapter for stdlib and loguru.

1.0.1 called ``logging.basicConfig()`` at import, so users saw its SUCCESS /
FAILED lines out of the box.  Rather than configure the root logger, pcpi gives
its own logger a stderr handler that speaks only while the application has not
configured logging itself; once it has, records propagate as usual.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

__all__ = ["py_logger", "Log"]

_FORMAT = "%(levelname)s:%(name)s:%(message)s"  # what basicConfig() printed in 1.0.1


class _UntilConfiguredHandler(logging.StreamHandler):
    """Writes to stderr only while the root logger has no handlers."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter(_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        if not logging.getLogger().handlers:
            self.stream = sys.stderr  # follow redirections of sys.stderr
            super().emit(record)


py_logger = logging.getLogger("pcpi")
if not any(isinstance(h, _UntilConfiguredHandler) for h in py_logger.handlers):
    py_logger.addHandler(_UntilConfiguredHandler())
if py_logger.level == logging.NOTSET:
    py_logger.setLevel(logging.INFO)


class Log:
    """Calls ``success`` where the logger has it (loguru), ``info`` otherwise, and
    skips building messages a stdlib logger would drop."""

    __slots__ = ("logger", "_stdlib", "_success")

    def __init__(self, logger: Any):
        self.logger = logger if logger is not None else py_logger
        self._stdlib = isinstance(self.logger, logging.Logger)
        self._success = getattr(self.logger, "success", None)

    def enabled(self, level: int) -> bool:
        return not self._stdlib or self.logger.isEnabledFor(level)

    def success(self, msg: str) -> None:
        if self._success is not None:
            self._success(msg)
        elif self.enabled(logging.INFO):
            self.logger.info(msg)

    def debug(self, msg: str) -> None:
        self.logger.debug(msg)

    def info(self, msg: str) -> None:
        self.logger.info(msg)

    def warning(self, msg: str) -> None:
        self.logger.warning(msg)

    def error(self, msg: str) -> None:
        self.logger.error(msg)
