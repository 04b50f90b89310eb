"""What the endpoint catalogue costs a call: ``pcpi._catalogue.lookup`` side by side
with ``urllib.parse.urlsplit`` of the same URL (a parse every call already pays), in
one run, as ratios; and what the loaded table holds in memory.

* HIT: the same path again (answered from the lookup cache);
* CSPM: a new id each time (``/cloud/group/<n>``: a cache miss, as in a fan-out);
* COMPUTE: a new id under a SaaS console prefix (``/us-east1/api/v34.04/images/<n>``);
* UNKNOWN: a path no spec has.

    python benchmarks/catalogue.py
"""

from __future__ import annotations

import os
import sys
import timeit
import tracemalloc
import urllib.parse
from typing import Callable, Iterator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from pcpi import _catalogue  # noqa: E402

CALLS = 100_000
REPEATS = 5


def best(make: Callable[[], Callable[[], object]]) -> float:
    """Seconds per call, the best of REPEATS runs of CALLS calls (each run fresh)."""
    times = []
    for _ in range(REPEATS):
        times.append(timeit.timeit(make(), number=CALLS) / CALLS)
    return min(times)


def fresh(template: str) -> Callable[[], Callable[[], object]]:
    def make() -> Callable[[], object]:
        _catalogue._lookup.cache_clear()
        ids: Iterator[int] = iter(range(CALLS))
        return lambda: _catalogue.lookup("GET", template.format(next(ids)))
    return make


def main() -> None:
    tracemalloc.start()
    _catalogue.catalogue()
    table_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    split = best(lambda: lambda: urllib.parse.urlsplit(
        "https://api.prismacloud.io/cloud/group/123456789012?x=1"))
    rows = [
        ("HIT", best(lambda: lambda: _catalogue.lookup("GET", "/cloud/group/123"))),
        ("CSPM", best(fresh("/cloud/group/{}"))),
        ("COMPUTE", best(fresh("/us-east1/api/v34.04/images/{}"))),
        ("UNKNOWN", best(fresh("/no/such/{}"))),
    ]
    print(f"{len(_catalogue.catalogue().endpoints)} operations, "
          f"{table_bytes / 2**20:.2f} MiB loaded; urlsplit {split * 1e6:.2f} us per call")
    print(f"{'lookup':<10}{'us per call':>12}{'x urlsplit':>12}")
    for name, seconds in rows:
        print(f"{name:<10}{seconds * 1e6:>12.2f}{seconds / split:>12.1f}")


if __name__ == "__main__":
    main()
