"""Where a warning points: the first caller outside pcpi."""

from __future__ import annotations

import sys
from types import FrameType
from typing import Optional

__all__ = ["outside_pcpi"]


def outside_pcpi() -> int:
    """The ``stacklevel`` of the first caller outside pcpi, for ``warnings.warn``
    called in the function that calls this one, so that the warning names the
    user's line."""
    frame: Optional[FrameType] = sys._getframe(1)  # the caller: stacklevel 1
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == "pcpi":
        frame = frame.f_back
        level += 1
    return level
