"""Logging: the default ``pcpi`` logger and one adapter for stdlib and loguru.

pcpi logs the way a library should: it adds no handler to any logger and sets
no level, so once the application configures logging, its handlers and levels
decide.  Until then (no handler anywhere in the chain of the logger pcpi was
given), its records go to stderr in the ``LEVEL:name:message`` form that 1.0.1's
import-time ``logging.basicConfig()`` printed, without touching the
application's loggers: at INFO and above, or at the level set on that logger or
a parent (the root logger's counts when it is the one given); ``logging.disable()``
and the logger's filters apply as usual.

Records carry the location of the pcpi code that logged (``stacklevel`` for
logging, ``opt(depth=...)`` for loguru), not this module's.
"""

from __future__ import annotations

import functools
import logging
import sys
from typing import Any, Callable, Dict, Optional, Tuple, TypeVar

from ._redact import redact, scrub

__all__ = ["py_logger", "Log", "boundary", "self_log", "self_logger", "argument"]

_FORMAT = "%(levelname)s:%(name)s:%(message)s"  # what basicConfig() printed in 1.0.1

#: pcpi's default logger: no handler and no level of its own (the application's
#: configuration decides; see the module docstring for what happens before)
py_logger: logging.Logger = logging.getLogger("pcpi")


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]  # (generic in typeshed only)
    """The stand-in for an application that has not configured logging."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter(_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr  # follow redirections of sys.stderr
        super().emit(record)


_stderr = _Stderr()  # attached to no logger


class Log:
    """Calls ``success`` where the logger has it (loguru), ``info`` otherwise, and
    skips building messages a stdlib logger would drop."""

    __slots__ = ("logger", "_stdlib", "_loguru")

    def __init__(self, logger: Any = None):
        self.logger: Any = logger if logger is not None else py_logger
        self._stdlib = isinstance(self.logger, logging.Logger)
        self._loguru = type(self.logger).__module__.split(".")[0] == "loguru"

    def _configured(self) -> bool:
        stdlib: logging.Logger = self.logger
        return stdlib.hasHandlers()

    def enabled(self, level: int) -> bool:
        """Whether a record at ``level`` would be written anywhere."""
        if not self._stdlib:
            return True
        stdlib: logging.Logger = self.logger
        if self._configured():
            return stdlib.isEnabledFor(level)
        if stdlib.disabled or logging.root.manager.disable >= level:
            return False
        return level >= self._unconfigured_level()

    def _unconfigured_level(self) -> int:
        logger: Optional[logging.Logger] = self.logger
        while logger is not None:  # as getEffectiveLevel, but the root's default
            if logger.level and (logger.parent is not None or logger is self.logger):
                return logger.level
            logger = logger.parent
        return logging.INFO

    def _emit(self, level: int, name: str, msg: str, where: Any = None) -> None:
        # ``where``: a frame and line to report; else two frames up, the pcpi
        # code that called debug()/info()/...
        if self._stdlib and not self.enabled(level):
            return
        msg = redact(msg)  # (the one boundary: every line pcpi writes)
        if self._stdlib:
            frame, line = where or (sys._getframe(2), None)
            code = frame.f_code
            record = self.logger.makeRecord(self.logger.name, level, code.co_filename,
                                            line or frame.f_lineno, msg, (), None, code.co_name)
            if self._configured():
                self.logger.handle(record)  # (filters, then the handlers up the chain)
            elif self.logger.filter(record):
                _stderr.handle(record)
        elif self._loguru:
            logger = self.logger.opt(depth=2)
            if where is not None:  # the place it names, not this one
                frame, line = where
                logger = self.logger.patch(lambda r: r.update(
                    function=frame.f_code.co_name, line=line,
                    name=frame.f_globals.get("__name__", r["name"])))
            getattr(logger, name)(msg)
        else:  # another logger-like object: its own methods
            getattr(self.logger, name)(msg)

    def success_enabled(self) -> bool:
        """Whether :meth:`success` may write anything (a logger with its own
        ``success`` decides for itself)."""
        return self._loguru or callable(getattr(self.logger, "success", None)) or \
            self.enabled(logging.INFO)

    def success(self, msg: str) -> None:
        """1.0.1's per-call SUCCESS line: loguru's SUCCESS level, else INFO."""
        if self._loguru or callable(getattr(self.logger, "success", None)):
            msg = redact(msg)  # (_emit redacts the others)
        if self._loguru:
            self.logger.opt(depth=1).success(msg)
        elif callable(getattr(self.logger, "success", None)):
            self.logger.success(msg)  # its own SUCCESS level (verboselogs and the like)
        else:
            self._emit(logging.INFO, "info", msg)

    def debug(self, msg: str) -> None:
        self._emit(logging.DEBUG, "debug", msg)

    def info(self, msg: str) -> None:
        self._emit(logging.INFO, "info", msg)

    def warning(self, msg: str) -> None:
        self._emit(logging.WARNING, "warning", msg)

    def error(self, msg: str) -> None:
        self._emit(logging.ERROR, "error", msg)


F = TypeVar("F", bound=Callable[..., Any])


def boundary(find: Callable[..., Any]) -> Callable[[F], F]:
    """Decorate a public entry point: every exception leaving it is redacted
    (:func:`pcpi._redact.scrub`), and a :class:`~pcpi.errors.PcpiError` is logged
    at ERROR first (once, however deep the calls it crossed), so that log files
    and sinks record why a job stopped, as 1.0.1 logged before ``exit()``.
    ``find(args, kwargs)`` returns the logger to use."""
    from .errors import PcpiError

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def entry(*args: Any, **kwargs: Any) -> Any:
            callers = sys.exc_info()[1]  # what the caller is handling: theirs, not ours
            try:
                return fn(*args, **kwargs)
            except BaseException as exc:
                scrub(exc, stop=callers)
                if isinstance(exc, PcpiError) and not getattr(exc, "_pcpi_logged", False):
                    exc._pcpi_logged = True  # type: ignore[attr-defined]
                    logger: Optional[Any] = find(args, kwargs)
                    log = logger if isinstance(logger, Log) else Log(logger)
                    tb = exc.__traceback__
                    while tb is not None and tb.tb_next is not None:
                        tb = tb.tb_next  # where it was raised
                    where = (tb.tb_frame, tb.tb_lineno) if tb is not None else None
                    log._emit(logging.ERROR, "error", f"{type(exc).__name__}: {exc}", where)
                raise
        return entry  # type: ignore[return-value]
    return decorate


def self_log(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
    """For :func:`boundary` on a session method: the session's log."""
    return args[0]._log


def self_logger(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
    """For :func:`boundary` on a manager method: the manager's logger."""
    return getattr(args[0], "logger", None)


def argument(name: str, index: int) -> Callable[[Tuple[Any, ...], Dict[str, Any]], Any]:
    """For :func:`boundary` on a function taking the logger as ``name`` (or
    positionally at ``index``)."""
    def find(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        if name in kwargs:
            return kwargs[name]
        return args[index] if len(args) > index else None
    return find
