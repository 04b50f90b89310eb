#!/usr/bin/env python3
"""Build pcpi's endpoint catalogue from Prisma Cloud's published OpenAPI specs.

    python tools/build_catalogue.py PANDEV_DIR [-o pcpi/catalogue.json]
        [--source-commit SHA] [--source-date YYYY-MM-DD] [--compute-version 34.04]

PANDEV_DIR is a clone (or an extract) of github.com/PaloAltoNetworks/pan.dev.  The
specs read are ``openapi-specs/cspm/*.json`` and the newest Compute spec under
``openapi-specs/compute`` (``<NN-NN>/openapi-NN-NN-*.json`` or ``openapi-NN-NN-*.json``,
with ``-`` or ``_``; the ``desc/*.md`` descriptions sit beside it), or the version
``--compute-version`` names.  When PANDEV_DIR is a git clone, the commit and its date
are read from it.

One record per operation: method, path template, product, whether it only reads, its
paging, its documented rate limit and burst, and whether it is deprecated (with the
replacement the spec names).  Each fact comes from one rule, a function below whose
docstring states it; where a rule cannot decide from the spec, a short override
table says what holds and why.  Only facts are written, never description text.
The output is sorted and stable: the same specs give the same bytes.

Standard library only (it runs before pcpi is installed).
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os
import re
import subprocess
import sys
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

FORMAT = 1

#: columns of an endpoint record, and of its paging (the header rows of the table)
FIELDS = ("method", "template", "product", "read_only", "paging", "rate", "burst",
          "deprecated", "replacement")
PAGING_FIELDS = ("style", "token_in", "token_out", "items", "size_field", "size_in", "cap",
                 "total", "next_path")

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

#: a field that carries a page token, in a request or an answer
TOKEN_FIELD = re.compile(r"(?i)^(next_?)?page_?token$")
#: request fields that set the page size, in order of preference
SIZE_FIELDS = ("limit", "size", "pageSize", "page_size")
#: when an answer has several arrays beside its token, the one holding the items
ITEM_KEYS = ("items", "value", "resources", "data")
#: when an answer has several totals beside its items, the one counting them
TOTAL_KEYS = ("totalRows", "totalMatchedCount", "totalCount", "totalItems", "total")

#: Compute serves every version under /api/v<version>/; the catalogue says /api/v1/
COMPUTE_VERSION_PREFIX = re.compile(r"^/api/v\d+(?:\.\d+)?/")
COMPUTE_SPEC_NAME = re.compile(r"^openapi[-_](\d+)[-_](\d+)[-_](\d+)[^/]*\.json$")

# ------------------------------------------------------------------ override tables
# Facts a rule cannot read from the specs.  Each entry says where it comes from.

#: POSTs that only read although neither their summary nor their description says so
#: with a reading verb: (product, template) -> reason.
READ_ONLY_POSTS: Mapping[Tuple[str, str], str] = {
    ("cspm", "/policy/rule/validate"):
        "its description: checks a rule without creating a policy",
}

#: where Compute's offset-paged lists announce their total.  Not in the public spec;
#: relied on by prismacloud-api (cwpp.py reads the Total-Count response header) and by
#: PCS-LAB-ORG/pc-scripts (profiles/*.py).
COMPUTE_OFFSET_TOTAL = "header:Total-Count"

# ------------------------------------------------------------------ reading words
#: a summary word that means the operation changes something (then it is not read-only)
WRITE_WORDS = frozenset(
    "add apply assign asynchronous cancel clone create delete disable dismiss email enable "
    "generate import insert learn manage notify onboard refresh regenerate register remove "
    "reopen reset restart rotate save scan send set snooze start stop submit test trigger "
    "unsnooze update upgrade upload".split())
#: a summary's first word that means the operation reads
READ_WORDS = frozenset(
    "autocomplete check count download fetch filter get list retrieve return search".split())
#: a description's first word that means the operation reads
READ_DESCRIPTION_WORDS = frozenset("get gets list lists return returns retrieve retrieves "
                                   "fetch fetches".split())


@dataclasses.dataclass
class Operation:
    """One operation of a spec, with what the rules need to read it."""

    product: str            # "cspm" | "compute"
    method: str             # "GET", "POST", ...
    template: str           # the catalogue's path template
    op: Dict[str, Any]      # the spec's operation object
    params: List[Dict[str, Any]]  # its parameters, path-level ones included, $refs followed
    spec: Dict[str, Any]    # the whole spec, for $refs
    text: str               # its description (a Compute desc .md read in)

    @property
    def key(self) -> Tuple[str, str, str]:
        return (self.product, self.method, self.template)


# ------------------------------------------------------------------ spec helpers
def deref(spec: Mapping[str, Any], node: Any) -> Any:
    """``node`` with local ``$ref`` pointers (``#/components/...``) followed (32 at most)."""
    for _ in range(32):
        if not isinstance(node, dict) or not str(node.get("$ref", "")).startswith("#/"):
            return node
        target: Any = spec
        for part in node["$ref"][2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        node = target
    return None


def properties(spec: Mapping[str, Any], schema: Any, depth: int = 0) -> Dict[str, Any]:
    """An object schema's properties (``allOf`` parts merged), each with $refs followed."""
    schema = deref(spec, schema)
    if not isinstance(schema, dict) or depth > 8:
        return {}
    out: Dict[str, Any] = {}
    for part in schema.get("allOf", ()):
        out.update(properties(spec, part, depth + 1))
    for name, sub in (schema.get("properties") or {}).items():
        out[name] = deref(spec, sub)
    return out


def json_schema(spec: Mapping[str, Any], holder: Any) -> Any:
    """The schema of a request body or response's JSON content (``*/*`` counts), or None."""
    content = (deref(spec, holder) or {}).get("content") or {}
    for mime in sorted(content):
        if "json" in mime or mime == "*/*":
            return deref(spec, (content[mime] or {}).get("schema"))
    return None


def request_fields(o: Operation) -> Dict[str, Any]:
    """The properties of the operation's JSON request body."""
    return properties(o.spec, json_schema(o.spec, o.op.get("requestBody")))


def query_params(o: Operation) -> Dict[str, Dict[str, Any]]:
    """The operation's query parameters by name."""
    return {p["name"]: p for p in o.params if p.get("in") == "query" and p.get("name")}


def answer_schema(o: Operation) -> Any:
    """The JSON schema of the operation's success answer (200, else the first 2xx)."""
    responses = o.op.get("responses") or {}
    codes = ["200"] + sorted(c for c in responses if str(c).startswith("2") and c != "200")
    for code in codes:
        if code in responses:
            return json_schema(o.spec, responses[code])
    return None


def kind(spec: Mapping[str, Any], schema: Any) -> str:
    """A schema's type ("array", "object", "string", ...; "" when it says none)."""
    schema = deref(spec, schema)
    if not isinstance(schema, dict):
        return ""
    if "type" in schema:
        return str(schema["type"])
    return "object" if "properties" in schema or "allOf" in schema else ""


def words(text: str) -> List[str]:
    return re.findall(r"[a-z]+", text.lower())


def slug(text: str) -> str:
    """An operationId or a doc link's last part, reduced so both compare equal
    (pan.dev writes ``post-resource-scan-info-v2`` as ``post-resource-scan-info-v-2``)."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


# ------------------------------------------------------------------ rules
def rate_limit(text: str) -> Tuple[Optional[float], Optional[float]]:
    """Documented rate (requests per second) and burst of an operation.

    CSPM writes them in a "Rate Limits" block of the description: "Request rate limit:
    2/sec" and "Burst limit: 10/sec" (or "Burst Rate: 32/sec"); a rate per minute is
    divided by 60.  Compute writes a sentence: "30 requests per 30 seconds", which is a
    rate of 1/s with a burst of 30.  (None, None) when neither is there.
    """
    period = {"s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0,
              "min": 60.0, "minute": 60.0, "minutes": 60.0}
    block = re.search(r"(?is)rate limits\W*(.*)", text)
    if block:
        body = block.group(1)
        rate = re.search(r"(?i)request rate limit\s*:\s*([\d,.]+)\s*/\s*([a-z]+)", body)
        burst = re.search(r"(?i)burst (?:limit|rate)\s*:\s*([\d,.]+)", body)
        if rate and rate.group(2).lower() in period:
            per_second = _number(rate.group(1)) / period[rate.group(2).lower()]
            return per_second, (_number(burst.group(1)) if burst else None)
    sentence = re.search(r"(?i)([\d,]+) requests per ([\d,]+ )?(second|seconds|minute|minutes)\b",
                         text)
    if sentence:
        count = _number(sentence.group(1))
        seconds = (_number(sentence.group(2)) if sentence.group(2) else 1.0) * \
            period[sentence.group(3).lower()]
        return count / seconds, count
    return None, None


def _number(text: str) -> float:
    return float(text.replace(",", "").strip().rstrip("."))


_CAP_PATTERNS = (
    re.compile(r"(?i)maximum (?:cannot|can ?not|can't) exceed ([\d,]+)"),
    re.compile(r"(?i)valid range(?: is)?\s*:?\s*\[?\s*[\d,]+\s*(?:-|,|to)\s*([\d,]+)"),
    re.compile(r"(?i)values greater than ([\d,]+) are set to"),
    re.compile(r"(?i)\bmax(?:imum)? (?:is|of) ([\d,]+)"),
    re.compile(r"(?i)capped to a max(?:imum)? of ([\d,]+)"),
)


def page_cap(field: Any, text: str = "") -> Optional[int]:
    """The largest page size documented for a size field: its schema's ``maximum``, else
    the first of these in its description (or ``text``): "maximum cannot exceed N",
    "Valid Range: [a, N]", "values greater than N are set to N", "max is N",
    "maximum of N", "capped to a max of N"."""
    if isinstance(field, dict):
        maximum = field.get("maximum")
        if isinstance(maximum, (int, float)) and not isinstance(maximum, bool):
            return int(maximum)
        text = f"{field.get('description') or ''}\n{text}"
    for pattern in _CAP_PATTERNS:
        found = pattern.search(text)
        if found:
            return int(_number(found.group(1)))
    return None


def token_paths(spec: Mapping[str, Any], schema: Any) -> List[str]:
    """Where an answer carries a page token: a top-level field named like
    ``nextPageToken``, or one in an object one level down (``data.nextPageToken``)."""
    found = []
    for name, sub in sorted(properties(spec, schema).items()):
        if TOKEN_FIELD.match(name):
            found.append(name)
        elif kind(spec, sub) == "object":
            found += [f"{name}.{inner}" for inner in sorted(properties(spec, sub))
                      if TOKEN_FIELD.match(inner)]
    return found


def beside(spec: Mapping[str, Any], schema: Any, dotted: str) -> Tuple[str, Dict[str, Any]]:
    """The dotted prefix of a field and the properties of the object that holds it."""
    prefix, _, _ = dotted.rpartition(".")
    holder = schema
    if prefix:
        holder = properties(spec, schema)[prefix]
    return (prefix + "." if prefix else ""), properties(spec, holder)


def items_key(spec: Mapping[str, Any], schema: Any, token_out: str) -> Optional[str]:
    """The items of a token-paged answer: the array beside its token; of several, the
    first of ``ITEM_KEYS``.  None when that does not decide."""
    prefix, fields = beside(spec, schema, token_out)
    arrays = sorted(n for n, sub in fields.items() if kind(spec, sub) == "array")
    if len(arrays) > 1:
        arrays = [k for k in ITEM_KEYS if k in arrays][:1]
    return prefix + arrays[0] if len(arrays) == 1 else None


def total_key(spec: Mapping[str, Any], schema: Any, items: str) -> str:
    """The total count beside the items: the integer named ``total...``; of several, the
    first of ``TOTAL_KEYS``.  "" when there is none."""
    prefix, fields = beside(spec, schema, items)
    totals = sorted(n for n, sub in fields.items()
                    if n.lower().startswith("total") and kind(spec, sub) in ("integer", "number"))
    if len(totals) > 1:
        totals = [k for k in TOTAL_KEYS if k in totals][:1]
    return prefix + totals[0] if len(totals) == 1 else ""


def size_field(o: Operation) -> Tuple[str, str, Any]:
    """The request's page-size field: (name, "body" or "query", its schema or parameter).
    The body's is taken first."""
    body, query = request_fields(o), query_params(o)
    for name in SIZE_FIELDS:
        if name in body:
            return name, "body", body[name]
    for name in SIZE_FIELDS:
        if name in query:
            param = dict(query[name])
            param.update(deref(o.spec, param.get("schema")) or {})
            param["description"] = query[name].get("description") or param.get("description")
            return name, "query", param
    return "", "", None


def request_token(o: Operation) -> Tuple[str, str]:
    """The request field that carries a page token: (name, "body" or "query").  A token
    the body takes wins over one the query takes: a token can be tens of kilobytes, too
    long for a URL (Prisma answered 413 and 414 to it)."""
    for name in sorted(request_fields(o)):
        if TOKEN_FIELD.match(name):
            return name, "body"
    for name in sorted(query_params(o)):
        if TOKEN_FIELD.match(name):
            return name, "query"
    return "", ""


def linked_page_operation(o: Operation, by_slug: Mapping[str, Operation]) -> Optional[Operation]:
    """The operation an RQL search's description sends its token to: "... `nextPageToken`
    ... as the request parameter `pageToken` in the [next page](link) endpoint"."""
    found = re.search(r"(?is)`?pageToken`?\s+in\s+the\s+\[[^\]]*\]\(([^)\s]+)\)", o.text)
    if not found:
        return None
    return by_slug.get(slug(found.group(1).rstrip("/").rsplit("/", 1)[-1]))


def paging(o: Operation, ops: Mapping[Tuple[str, str, str], Operation],
           by_slug: Mapping[str, Operation], compute_cap: Optional[int]) -> Optional[List[Any]]:
    """How the operation pages, as a row of ``PAGING_FIELDS``, or None.

    - *offset*: a GET with query parameters ``offset`` and ``limit`` and an answer that
      is a bare JSON array (Compute's lists; the one POST that takes them changes
      something).  A body ``offset`` is not evidence: CSPM's shared filter model puts
      one in dozens of operations that do not page.  Compute's cap is
      its API restrictions note ("capped to a max of 50"), its total the
      ``Total-Count`` header (``COMPUTE_OFFSET_TOTAL``).
    - the answer carries exactly one page token (``token_paths``); then:
      - *rql*: the description sends the token, as ``pageToken``, to another operation
        (``linked_page_operation``); or the request takes no token and the same path
        with ``/page`` appended takes one (``/search/config`` -> ``/search/config/page``).
        ``next_path`` is that operation, ``token_in`` its token field;
      - *body-token* / *query-token*: the request takes the token (``request_token``);
    - items: the array beside the token (``items_key``); total: ``total_key``; size:
      ``size_field`` and its ``page_cap``.
    Anything else (no token in the answer, several, no array beside it) is not paged.
    """
    answer = answer_schema(o)
    size_name, size_in, size_schema = size_field(o)
    query = query_params(o)
    if o.method == "GET" and "offset" in query and "limit" in query \
            and kind(o.spec, answer) == "array":
        cap = page_cap(size_schema)
        if o.product == "compute":
            cap = cap if cap is not None else compute_cap
        total = COMPUTE_OFFSET_TOTAL if o.product == "compute" else ""
        return ["offset", "", "", "", "limit", "query", cap, total, ""]
    tokens = token_paths(o.spec, answer)
    if len(tokens) != 1:
        return None
    token_out = tokens[0]
    items = items_key(o.spec, answer, token_out)
    if items is None:
        return None
    total = total_key(o.spec, answer, items)
    cap = page_cap(size_schema)
    token_in, token_where = request_token(o)
    target = linked_page_operation(o, by_slug)
    if target is None and not token_in:
        target = ops.get((o.product, o.method, o.template.rstrip("/") + "/page"))
    if target is not None and target is not o:
        target_token, target_where = request_token(target)
        if target_where == "body":
            return ["rql", target_token, token_out, items, size_name, size_in, cap, total,
                    target.template]
    if not token_in:
        return None
    style = "body-token" if token_where == "body" else "query-token"
    return [style, token_in, token_out, items, size_name, size_in, cap, total, ""]


def read_only(o: Operation, paged: bool) -> bool:
    """Whether the operation only reads.

    GET, HEAD and OPTIONS do; PUT, PATCH and DELETE do not.  A POST does when it pages
    (it lists), or is in ``READ_ONLY_POSTS``, or when its summary has no changing word
    (``WRITE_WORDS``: add, create, submit, test, scan, ...) and either its summary starts
    with a reading word (``READ_WORDS``: get, list, download, ...) or says "search", or
    its description starts with one (``READ_DESCRIPTION_WORDS``: returns, gets, ...).
    Otherwise it is taken to change something: a wrong "read-only" could have a change
    resent, a wrong "changes" only costs a resend that is not made.
    """
    if o.method in ("GET", "HEAD", "OPTIONS"):
        return True
    if o.method != "POST":
        return False
    if paged or (o.product, o.template) in READ_ONLY_POSTS:
        return True
    summary = words(str(o.op.get("summary") or o.op.get("operationId") or ""))
    if WRITE_WORDS.intersection(summary):
        return False
    if summary and (summary[0] in READ_WORDS or "search" in summary):
        return True
    described = words(o.text[:80])
    return bool(described) and described[0] in READ_DESCRIPTION_WORDS


def deprecation(o: Operation, by_slug: Mapping[str, Operation],
                by_summary: Mapping[str, Operation]) -> Tuple[bool, Optional[str]]:
    """Whether the spec marks the operation ``deprecated``, and its replacement.

    The replacement is the operation a "Replacement Endpoint: [Summary](link)" note of the
    description links to, found by the link's last part (its operationId as pan.dev
    writes it) or else by the linked summary; as "METHOD /path", or None.
    """
    if not o.op.get("deprecated"):
        return False, None
    found = re.search(r"(?is)replacement\s+endpoint\s*:?\s*\[([^\]]+)\]\(([^)\s]+)\)", o.text)
    if not found:
        return True, None
    target = by_slug.get(slug(found.group(2).rstrip("/").rsplit("/", 1)[-1])) or \
        by_summary.get(slug(found.group(1)))
    return True, (f"{target.method} {target.template}" if target is not None else None)


# ------------------------------------------------------------------ loading
def read_spec(path: str) -> Dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        spec = json.load(fh)
    if not isinstance(spec, dict) or not isinstance(spec.get("paths"), dict):
        raise SystemExit(f"{path}: not an OpenAPI spec (no 'paths' object)")
    return spec


def description(op: Mapping[str, Any], base: str) -> str:
    """An operation's description; Compute's point to a ``desc/*.md`` file beside the spec."""
    text = op.get("description") or ""
    if isinstance(text, dict) and isinstance(text.get("$ref"), str):
        path = os.path.normpath(os.path.join(base, text["$ref"]))
        if not path.startswith(os.path.normpath(base) + os.sep) or not os.path.isfile(path):
            return ""
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    return text if isinstance(text, str) else ""


def operations(spec: Dict[str, Any], product: str, base: str) -> Iterable[Operation]:
    for path, item in sorted(spec["paths"].items()):
        item = deref(spec, item) or {}
        template = COMPUTE_VERSION_PREFIX.sub("/api/v1/", path) if product == "compute" else path
        shared = [deref(spec, p) for p in item.get("parameters") or ()]
        for method in HTTP_METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            own = [deref(spec, p) for p in op.get("parameters") or ()]
            names = {(p.get("name"), p.get("in")) for p in own if isinstance(p, dict)}
            params = [p for p in shared if isinstance(p, dict)
                      and (p.get("name"), p.get("in")) not in names]
            params += [p for p in own if isinstance(p, dict)]
            yield Operation(product, method.upper(), template, op, params, spec,
                            description(op, base))


def compute_specs(root: str) -> Dict[str, str]:
    """The Compute specs of a pan.dev tree by version ("34.04" -> path)."""
    found = {}
    base = os.path.join(root, "openapi-specs", "compute")
    for path in glob.glob(os.path.join(base, "*.json")) + \
            glob.glob(os.path.join(base, "*", "*.json")):
        name = COMPUTE_SPEC_NAME.match(os.path.basename(path))
        if name:
            found[f"{int(name.group(1))}.{int(name.group(2)):02d}"] = path
    return found


def _version_key(version: str) -> Tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def restrictions_cap(base: str) -> Optional[int]:
    """Compute's page cap from its API restrictions note (``desc/api_restrictions.md``)."""
    path = os.path.join(base, "desc", "api_restrictions.md")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as fh:
        found = _CAP_PATTERNS[-1].search(fh.read())
    return int(_number(found.group(1))) if found else None


def git_fact(root: str, *args: str) -> Optional[str]:
    """A fact about the clone at ``root`` from git (None when it is not one)."""
    if not os.path.exists(os.path.join(root, ".git")):
        return None
    try:
        out = subprocess.run(["git", "-C", root, *args], capture_output=True, text=True,
                             timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


# ------------------------------------------------------------------ the table
def build(root: str, commit: Optional[str] = None, date: Optional[str] = None,
          compute_version: Optional[str] = None) -> Dict[str, Any]:
    """The catalogue of the pan.dev tree at ``root`` (see the module docstring)."""
    cspm_paths = sorted(glob.glob(os.path.join(root, "openapi-specs", "cspm", "*.json")))
    if not cspm_paths:
        raise SystemExit(f"{root}: no openapi-specs/cspm/*.json (is it a pan.dev checkout?)")
    specs = compute_specs(root)
    if not specs:
        raise SystemExit(f"{root}: no Compute spec (openapi-specs/compute/**/openapi-*.json)")
    if compute_version is None:
        compute_version = max(specs, key=_version_key)
    if compute_version not in specs:
        raise SystemExit(f"no Compute spec {compute_version}; found: "
                         + ", ".join(sorted(specs, key=_version_key)))
    compute_path = specs[compute_version]
    compute_base = os.path.dirname(compute_path)
    compute_spec = read_spec(compute_path)

    ops: Dict[Tuple[str, str, str], Operation] = {}
    for path in cspm_paths:
        for o in operations(read_spec(path), "cspm", os.path.dirname(path)):
            if o.key in ops:
                raise SystemExit(f"{o.method} {o.template} is in two CSPM specs")
            ops[o.key] = o
    for o in operations(compute_spec, "compute", compute_base):
        ops[o.key] = o
    by_slug, by_summary = _indexes(ops.values())
    cap = restrictions_cap(compute_base)

    rows = []
    for key in sorted(ops):
        o = ops[key]
        paged = paging(o, ops, by_slug.get(o.product, {}), cap)
        rate, burst = rate_limit(o.text)
        deprecated, replacement = deprecation(o, by_slug.get(o.product, {}),
                                              by_summary.get(o.product, {}))
        rows.append([o.method, o.template, o.product, read_only(o, paged is not None), paged,
                     rate, burst, deprecated, replacement])
    rows.sort(key=lambda r: (r[2], r[1], r[0]))
    return {"format": FORMAT, "source": _source(root, commit, date, compute_version,
                                                 compute_spec, len(cspm_paths), rows),
            "fields": list(FIELDS), "paging_fields": list(PAGING_FIELDS), "endpoints": rows}


def _indexes(ops: Iterable[Operation]) -> Tuple[Dict[str, Dict[str, Operation]],
                                                Dict[str, Dict[str, Operation]]]:
    """Operations by product, then by slugged operationId and by slugged summary (a key
    two operations share is left out: it names neither)."""
    by_slug: Dict[str, Dict[str, Operation]] = {}
    by_summary: Dict[str, Dict[str, Operation]] = {}
    seen: Dict[Tuple[str, str, str], int] = {}
    for o in ops:
        for index, name, field in ((by_slug, "id", o.op.get("operationId")),
                                   (by_summary, "summary", o.op.get("summary"))):
            if not isinstance(field, str) or not slug(field):
                continue
            key = (o.product, name, slug(field))
            seen[key] = seen.get(key, 0) + 1
            index.setdefault(o.product, {})[slug(field)] = o
    for (product, name, shared), count in seen.items():
        if count > 1:
            (by_slug if name == "id" else by_summary)[product].pop(shared, None)
    return by_slug, by_summary


def _source(root: str, commit: Optional[str], date: Optional[str], compute_version: str,
            compute_spec: Mapping[str, Any], cspm_files: int,
            rows: Sequence[Sequence[Any]]) -> Dict[str, Any]:
    commit = commit or git_fact(root, "rev-parse", "HEAD")
    date = date or (git_fact(root, "log", "-1", "--format=%cs") if commit else None)
    products = sorted({r[2] for r in rows})
    styles = sorted({r[4][0] for r in rows if r[4]})
    return {
        "repository": "https://github.com/PaloAltoNetworks/pan.dev",
        "commit": commit,
        "date": date,
        "cspm_specs": cspm_files,
        "compute_version": compute_version,
        "compute_spec": str((compute_spec.get("info") or {}).get("version") or ""),
        "operations": {p: sum(1 for r in rows if r[2] == p) for p in products},
        "paged": {s: sum(1 for r in rows if r[4] and r[4][0] == s) for s in styles},
        "read_only_posts": sum(1 for r in rows if r[0] == "POST" and r[3]),
        "rate_limited": sum(1 for r in rows if r[5] is not None),
        "deprecated": sum(1 for r in rows if r[7]),
        "replacements": sum(1 for r in rows if r[8]),
    }


def dumps(table: Mapping[str, Any]) -> str:
    """The table as JSON text: a header, then one compact record per line."""
    head = {k: v for k, v in table.items() if k != "endpoints"}
    lines = [json.dumps(head, sort_keys=True, separators=(",", ":"))[:-1]
             + ',"endpoints":[']
    records = [json.dumps(r, separators=(",", ":")) for r in table["endpoints"]]
    lines.append(",\n".join(records))
    lines.append("]}")
    return "\n".join(lines) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description="Build pcpi's endpoint catalogue from a pan.dev checkout's OpenAPI specs.")
    parser.add_argument("pandev", metavar="PANDEV_DIR", help="a clone or extract of pan.dev")
    parser.add_argument("-o", "--output", default=os.path.join("pcpi", "catalogue.json"),
                        help="where to write the table (default: %(default)s)")
    parser.add_argument("--source-commit", help="the pan.dev commit (read from a clone)")
    parser.add_argument("--source-date", help="that commit's date, YYYY-MM-DD")
    parser.add_argument("--compute-version", help="the Compute spec to read, e.g. 34.03 "
                        "(default: the newest)")
    args = parser.parse_args(argv)
    if args.source_date and not re.match(r"^\d{4}-\d{2}-\d{2}$", args.source_date):
        parser.error("--source-date takes YYYY-MM-DD")
    table = build(args.pandev, args.source_commit, args.source_date, args.compute_version)
    text = dumps(table)
    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.replace(tmp, args.output)
    print(json.dumps(table["source"], indent=1, sort_keys=True), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
