"""Type aliases of pcpi's public signatures (for annotations; nothing at run time)."""

from __future__ import annotations

from typing import Mapping, Optional, Sequence, Union

__all__ = ["JSON", "Proxies", "Verify"]

#: what ``json=`` accepts: anything :func:`json.dumps` turns into JSON
JSON = Union[None, bool, int, float, str, Sequence["JSON"], Mapping[str, "JSON"]]

#: requests' ``proxies``: scheme (or ``"scheme://host"``, ``"no_proxy"``) to proxy URL;
#: a scheme mapped to ``None`` goes direct
Proxies = Mapping[str, Optional[str]]

#: ``True`` (verify with the default CA bundle), ``False`` (do not: warned once per
#: tenant), or the path of a CA bundle; credentials files' ``"true"``/``"false"`` work too
Verify = Union[bool, str]
