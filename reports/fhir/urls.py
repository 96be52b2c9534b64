"""The FHIR server's routes, mounted at ``/fhir/`` (``labpanel.urls``): ``metadata``, then
``{type}`` (search) and ``{type}/{id}`` (read) for each resource (``capability.KINDS``); any
other path answers a 404 OperationOutcome."""

from __future__ import annotations

from django.urls import path, re_path

from reports.fhir.views import MetadataView, ReadView, SearchView, UnknownView

app_name = "fhir"

urlpatterns = [
    path("metadata", MetadataView.as_view(), name="metadata"),
    re_path(r"^(?P<kind>[A-Za-z]+)/?$", SearchView.as_view(), name="search"),
    re_path(r"^(?P<kind>[A-Za-z]+)/(?P<pk>[^/]+)/?$", ReadView.as_view(), name="read"),
    re_path(r"^.*$", UnknownView.as_view(), name="unknown"),
]
