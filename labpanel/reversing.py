"""``reverse`` once per process: the pages' fixed URLs (the navigation, a row's links around an
id) are the same on every request, and reversing one costs a page about 0.2 ms
(``bench/review_pages.py``, ``bench/worklist_pages.py``): the base template alone reversed
six per page.

The answer is what ``django.urls.reverse`` gives, kept per URL name and arguments, script
prefix and URL configuration (the request's, else ``ROOT_URLCONF``), so that a deployment under
a prefix, or a test with its own URLs, never reads another's."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse


@lru_cache(maxsize=256)
def _reversed(
    name: str, kwargs: tuple[tuple[str, int | str], ...], prefix: str, urlconf: str
) -> str:
    # ``reverse`` reads the script prefix itself: ``prefix`` is in the key, not passed on.
    return reverse(name, urlconf=urlconf, kwargs=dict(kwargs) or None)


def url_for(name: str, **kwargs: int | str) -> str:
    """``reverse(name, kwargs=kwargs)``, reversed once per process (per prefix and URLs)."""
    urlconf = get_urlconf() or settings.ROOT_URLCONF
    return _reversed(name, tuple(sorted(kwargs.items())), get_script_prefix(), str(urlconf))


# An id no record has, reversed in its place: what is around it is the same for every id.
_ID_SLOT = 987654321987654321


def id_url_parts(name: str, kwarg: str = "pk") -> tuple[str, str]:
    """``url_for(name, **{kwarg: id})`` around an integer ``id``: ``(head, tail)``, so that
    ``head + str(id) + tail`` is ``reverse``'s URL of any such id (its digits are never
    quoted), reversed once per process (per prefix and URLs) for every id: a list answers a
    URL per row."""
    slot = str(_ID_SLOT)
    head, found, tail = url_for(name, **{kwarg: _ID_SLOT}).rpartition(slot)
    if not found:  # pragma: no cover - a route that does not echo its id
        raise ValueError(f"{name} does not put its {kwarg} in its URL")
    return head, tail
