"""Searchset Bundles and their paging links (``self``, ``next``, ``previous``).

Paging is by offset: a link repeats the search's own parameters with ``_offset`` and
``_count`` set, so following ``next`` gives the following page of the same search."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode


def _link(
    relation: str, url: str, params: Sequence[tuple[str, str]], offset: int, count: int
) -> dict[str, str]:
    kept = [(name, value) for name, value in params if name not in ("_offset", "_count")]
    query = urlencode([*kept, ("_count", str(count)), ("_offset", str(offset))])
    return {"relation": relation, "url": f"{url}?{query}"}


def searchset(
    *,
    url: str,
    params: Sequence[tuple[str, str]],
    total: int,
    offset: int,
    count: int,
    matches: Sequence[tuple[str, dict[str, Any]]],
    included: Sequence[tuple[str, dict[str, Any]]] = (),
) -> dict[str, Any]:
    """A searchset of ``matches`` (``(fullUrl, resource)``) and ``included`` resources, the
    page at ``offset`` of ``total`` matches, ``count`` a page, searched at ``url`` with
    ``params``."""
    links = [_link("self", url, params, offset, count)]
    if offset + count < total:
        links.append(_link("next", url, params, offset + count, count))
    if offset > 0:
        links.append(_link("previous", url, params, max(offset - count, 0), count))
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
    }
    entries = [
        {"fullUrl": full_url, "resource": resource, "search": {"mode": "match"}}
        for full_url, resource in matches
    ] + [
        {"fullUrl": full_url, "resource": resource, "search": {"mode": "include"}}
        for full_url, resource in included
    ]
    if entries:
        bundle["entry"] = entries
    return bundle
