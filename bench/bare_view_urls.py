"""The real URL configuration plus ``/bench/bare/``: a view returning "ok" and nothing else,
the yardstick ``bench/review_pages.py`` measures the pages against (same middleware, same
logged-in session)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from labpanel.urls import urlpatterns as real_urlpatterns


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [path("bench/bare/", bare), *real_urlpatterns]
