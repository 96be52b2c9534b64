"""The real URL configuration plus the yardstick ``bench/read_audit.py`` measures a panel read
against: ``/bench/unaudited/panels/<pk>/``, the API's panel read (``PanelViewSet``: the same
selector, serializer, authentication and middleware) without its read-audit entry. It exists
only in the bench's URLs: the service has no switch that turns the audit off."""

from __future__ import annotations

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response

from labpanel.audit.services import ReadRecording
from labpanel.urls import urlpatterns as real_urlpatterns
from panels.intake.api import PanelViewSet
from panels.intake.selectors import PanelRead
from panels.models import Panel
from panels.outputs import PanelOutput


class UnauditedPanelViewSet(PanelViewSet):
    """``GET /api/v1/panels/<pk>/`` as the API answers it (the stored document, or the panel
    built from its records), with no read-audit entry written."""

    def _recording(self, request: Request) -> ReadRecording | None:
        return None

    def _answer(
        self,
        request: Request,
        panel: Panel,
        answer_status: int,
        recorded: PanelRead | None = None,
    ) -> Response:
        data = PanelOutput(panel, context={"request": request}).data
        return Response(data, status=answer_status)


urlpatterns = [
    path(
        "bench/unaudited/panels/<str:pk>/",
        UnauditedPanelViewSet.as_view({"get": "retrieve"}),
    ),
    *real_urlpatterns,
]
