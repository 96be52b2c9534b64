"""The real settings with the bench's URL configuration (``bench/bare_view_urls.py``): the real
URLs plus one bare view, so that the pages and the bare view are measured on one server, through
one middleware stack, in the same run (``bench/review_pages.py``)."""

from labpanel.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bare_view_urls"
