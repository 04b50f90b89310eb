"""The command line's progress bar: items, pages, rate, and an ETA when the tenant
announced a total.  On stderr, and only when stderr is a terminal (stdout carries
nothing but data).  tqdm comes with the ``cli`` extra; without it the export
runs with no bar, after one line saying how to get one."""

from __future__ import annotations

from typing import IO, Any, Callable, Optional

__all__ = ["Bar", "MISSING_TQDM"]

MISSING_TQDM = 'no progress bar: tqdm is not installed (pip install "pcpi[cli]")'


def _tqdm() -> Any:
    try:
        from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return None
    return tqdm


class Bar:
    """Counts of an export, drawn by tqdm when ``show`` (else nothing is drawn)."""

    def __init__(self, stream: IO[str], *, show: bool, desc: str, items: int = 0,
                 pages: int = 0, note: Callable[[str], Any] = print,
                 factory: Optional[Callable[..., Any]] = None) -> None:
        self._bar: Any = None
        self._pages = pages
        if not show:
            return
        tqdm = factory or _tqdm()
        if tqdm is None:
            note(MISSING_TQDM)
            return
        self._bar = tqdm(total=None, initial=items, file=stream, unit=" items", desc=desc,
                         mininterval=0.1, dynamic_ncols=True, disable=False)
        self._bar.set_postfix_str(f"pages={pages:,}", refresh=False)

    def total(self, total: Optional[int]) -> None:
        """The number of items expected (for the ETA), once known."""
        if self._bar is not None and total is not None and self._bar.total != total:
            self._bar.total = total
            self._bar.refresh()

    def update(self, items: int, pages: int) -> None:
        """``items`` more items, ``pages`` pages in all."""
        if self._bar is None:
            return
        self._pages = pages
        self._bar.set_postfix_str(f"pages={pages:,}", refresh=False)
        self._bar.update(items)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
