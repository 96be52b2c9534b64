"""The real URL configuration plus two yardsticks ``bench/review_pages.py`` measures the pages
against (same middleware, same logged-in session): ``/bench/bare/``, a view returning "ok" and
nothing else, and ``/bench/bare-user/``, a view that also reads the logged-in user (the session
and the user: the least any page behind a login costs)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import path

from labpanel.urls import urlpatterns as real_urlpatterns


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


@login_required
def bare_user(request: HttpRequest) -> HttpResponse:
    return HttpResponse(request.user.get_username())


urlpatterns = [
    path("bench/bare/", bare),
    path("bench/bare-user/", bare_user),
    *real_urlpatterns,
]
