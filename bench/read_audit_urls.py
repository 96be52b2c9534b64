"""The real URL configuration plus the yardstick ``bench/read_audit.py`` measures a panel read
against: ``/bench/unaudited/panels/<pk>/``, the API's panel read (``PanelViewSet``: the same
selector, serializer, authentication and middleware) without its read-audit entry. It exists
only in the bench's URLs: the service has no switch that turns the audit off."""

from __future__ import annotations

from typing import Any

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response

from labpanel.urls import urlpatterns as real_urlpatterns
from panels.intake.api import PanelViewSet
from panels.outputs import PanelOutput


class UnauditedPanelViewSet(PanelViewSet):
    """``GET /api/v1/panels/<pk>/`` as it was before the read audit: no entry written."""

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(PanelOutput(self.get_object(), context={"request": request}).data)


urlpatterns = [
    path(
        "bench/unaudited/panels/<str:pk>/",
        UnauditedPanelViewSet.as_view({"get": "retrieve"}),
    ),
    *real_urlpatterns,
]
