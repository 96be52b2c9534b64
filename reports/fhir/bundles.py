"""Searchset Bundles and their paging links (``self``, ``next``, ``previous``).

Paging is by offset: a link repeats the search's own parameters with ``_offset`` and
``_count`` set, so following ``next`` gives the following page of the same search."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from reports.fhir.encoding import fhir_dumps


def _link(
    relation: str, url: str, params: Sequence[tuple[str, str]], offset: int, count: int
) -> dict[str, str]:
    kept = [(name, value) for name, value in params if name not in ("_offset", "_count")]
    query = urlencode([*kept, ("_count", str(count)), ("_offset", str(offset))])
    return {"relation": relation, "url": f"{url}?{query}"}


def entry(full_url: str, resource: Any, mode: str) -> dict[str, Any]:
    """A searchset's entry: ``mode`` ``match`` or ``include``."""
    return {"fullUrl": full_url, "resource": resource, "search": {"mode": mode}}


def entry_written(full_url: bytes, resource: bytes, mode: bytes) -> bytes:
    """:func:`entry` as ``encoding.fhir_dumps`` writes it, from parts already written:
    ``full_url`` the URL as JSON string content (escaped, without its quotes), ``resource`` the
    resource's JSON text."""
    return b'{"fullUrl":"%b","resource":%b,"search":{"mode":"%b"}}' % (full_url, resource, mode)


@dataclass(frozen=True, slots=True)
class Envelope:
    """What a searchset says besides its entries: the page at ``offset`` of ``total`` matches
    (``None``: not counted, ``_total=none``, and then not said), ``count`` a page, whether more
    follow (``more``), searched at ``url`` with ``params`` (for its paging links)."""

    url: str
    params: Sequence[tuple[str, str]]
    total: int | None
    offset: int
    count: int
    more: bool

    def bundle(self) -> dict[str, Any]:
        url, params, offset, count = self.url, self.params, self.offset, self.count
        links = [_link("self", url, params, offset, count)]
        if self.more:
            links.append(_link("next", url, params, offset + count, count))
        if offset > 0:
            links.append(_link("previous", url, params, max(offset - count, 0), count))
        bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
        if self.total is not None:
            bundle["total"] = self.total
        bundle["link"] = links
        return bundle


def searchset(
    envelope: Envelope,
    matches: Sequence[tuple[str, dict[str, Any]]],
    included: Sequence[tuple[str, dict[str, Any]]] = (),
) -> dict[str, Any]:
    """A searchset of ``matches`` (``(fullUrl, resource)``) and ``included`` resources."""
    bundle = envelope.bundle()
    entries = [entry(full_url, resource, "match") for full_url, resource in matches] + [
        entry(full_url, resource, "include") for full_url, resource in included
    ]
    if entries:
        bundle["entry"] = entries
    return bundle


def searchset_written(envelope: Envelope, entries: Sequence[bytes]) -> bytes:
    """:func:`searchset` as ``encoding.fhir_dumps`` writes it, from its entries written
    already (each :func:`entry_written`, or several comma-separated; matches first), in one
    pass: a search's answer can be a megabyte."""
    head = fhir_dumps(envelope.bundle())
    if not entries:
        return head
    parts = [b","] * (2 * len(entries) + 1)
    parts[0] = b'%b,"entry":[' % head[:-1]  # the envelope's closing brace comes last
    parts[-1] = b"]}"
    parts[1::2] = entries
    return b"".join(parts)
