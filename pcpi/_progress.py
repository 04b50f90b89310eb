"""How a fan-out shows its progress: a callable of yours, or a tqdm bar on stderr.

``tqdm`` comes with the ``progress`` extra (``pip install "pcpi[progress]"``);
pcpi itself depends on nothing but requests and urllib3.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Optional, Union

__all__ = ["Progress", "ProgressArg", "reporter", "check", "require_tqdm"]

#: ``progress=`` of :func:`pcpi.fan_out`
ProgressArg = Union[bool, None, Callable[[int, int, int], Any]]

#: seconds between two redraws of the bar when stderr is not a terminal (a job
#: run overnight with its output in a file would otherwise write ten lines a second)
FILE_INTERVAL = 30.0


class Progress:
    """Told the counts as they change: ``done`` items of ``total`` have an
    outcome, ``failed`` of them a failure (items retried later still count)."""

    def update(self, done: int, failed: int) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def note(self, text: str) -> None:
        """A short remark shown beside the counts (a retry round)."""

    def close(self) -> None:
        """The job is over (done, interrupted or failed)."""


class _Callback(Progress):
    def __init__(self, fn: Callable[[int, int, int], Any], total: int) -> None:
        self._fn = fn
        self._total = total

    def update(self, done: int, failed: int) -> None:
        self._fn(done, self._total, failed)


class _Bar(Progress):
    def __init__(self, total: int, done: int, failed: int) -> None:
        tqdm = require_tqdm()
        stream = sys.stderr
        interactive = bool(getattr(stream, "isatty", lambda: False)())
        self._bar = tqdm(total=total, initial=done, file=stream, unit="item", desc="fan_out",
                         mininterval=0.1 if interactive else FILE_INTERVAL,
                         maxinterval=max(10.0, FILE_INTERVAL), dynamic_ncols=interactive)
        self._done = done
        self._failed = -1
        self._note = ""
        self.update(done, failed)

    def update(self, done: int, failed: int) -> None:
        if failed != self._failed:
            self._failed = failed
            self._postfix()
        if done > self._done:
            self._bar.update(done - self._done)
            self._done = done

    def note(self, text: str) -> None:
        self._note = text
        self._postfix()

    def _postfix(self) -> None:
        text = f"failed={self._failed}" + (f", {self._note}" if self._note else "")
        self._bar.set_postfix_str(text, refresh=False)

    def close(self) -> None:
        self._bar.close()  # (draws the final counts)


def require_tqdm() -> Any:
    """tqdm's bar class, or an ImportError that names the extra."""
    try:
        from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise ImportError('fan_out(progress=True) draws its bar with tqdm, which pcpi does '
                          'not install by itself: pip install "pcpi[progress]" (or pass '
                          'progress=a function of (done, total, failed))') from None
    return tqdm


def check(progress: ProgressArg) -> None:
    """Fail now, before any work, if ``progress`` cannot be shown."""
    if progress is True:
        require_tqdm()
    elif progress is not None and progress is not False and not callable(progress):
        raise TypeError(f"progress must be True (a tqdm bar on stderr), False, or a function "
                        f"of (done, total, failed), not {type(progress).__name__}")


def reporter(progress: ProgressArg, total: int, done: int, failed: int) -> Optional[Progress]:
    """The :class:`Progress` that ``progress=`` asks for (None for none)."""
    if progress is None or progress is False:
        return None
    if progress is True:
        return _Bar(total, done, failed)
    check(progress)
    report = _Callback(progress, total)
    report.update(done, failed)
    return report
