"""What the fan_out tests over sockets share: one fake-tenant route per item (so
the tenant counts the calls each item got) and a task that calls it.

Importable by worker processes (spawned, or Dask's), so the task pickles by
reference."""

from __future__ import annotations

from typing import Any, Dict

PREFIX = "GET /items/"


def add_items(tenant: Any, count: int) -> None:
    """Routes ``GET /items/<i>`` answering ``{"item": i}`` for ``i < count``."""
    for i in range(count):
        tenant.add_route("GET", f"/items/{i}", json={"item": i})


def calls_per_item(tenant: Any) -> Dict[int, int]:
    """How many requests each item's route received (items never called left out)."""
    by_endpoint = tenant.stats()["requests_by_endpoint"]
    return {int(name[len(PREFIX):]): n for name, n in by_endpoint.items()
            if name.startswith(PREFIX)}


def fetch(session: Any, item: int) -> Dict[str, Any]:
    """One call for ``item``; an error status raises (``HTTPError``)."""
    res = session.request("GET", f"/items/{item}")
    res.raise_for_status()
    return res.json()


def fetch_via_manager(manager: Any, item: int) -> Dict[str, Any]:
    return fetch(manager.cspm_session, item)
