"""URL routing: API v1, its OpenAPI schema and docs, the admin, the technicians' import page, the
clinicians' inbox and report pages, the lab's worklist, panel, correction and reference-range
pages, each user's home,
the health check, the FHIR R4 server."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.utils import extend_schema, extend_schema_view
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)
from knox import views as knox_views

from labpanel.accounts.token_auth import StaffTokenAuthentication
from labpanel.api_auth import TokenLogoutAllView, TokenLogoutView
from labpanel.api_router import router
from labpanel.views import healthz, home, not_found
from panels.intake.hl7.views import Hl7View

# knox's logout views, described for the schema: no body in, 204 out.
_logout_schema = extend_schema(request=None, responses={204: None})
LogoutView = extend_schema_view(post=_logout_schema)(knox_views.LogoutView)
LogoutAllView = extend_schema_view(post=_logout_schema)(knox_views.LogoutAllView)

api_patterns = [
    *router.urls,
    path("hl7/", Hl7View.as_view(), name="hl7"),
    # knox's own token authentication is theirs; the API's (knox's, in one statement) instead
    path(
        "auth/logout/",
        TokenLogoutView.as_view(authentication_classes=[StaffTokenAuthentication]),
        name="knox-logout",
    ),
    path(
        "auth/logoutall/",
        TokenLogoutAllView.as_view(authentication_classes=[StaffTokenAuthentication]),
        name="knox-logoutall",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path(
        "redoc/",
        # without the stock page's Google Fonts: the docs work without internet
        SpectacularRedocView.as_view(url_name="api:schema", template_name="api_docs/redoc.html"),
        name="redoc",
    ),
]

urlpatterns = [
    path("api/v1/", include((api_patterns, "api"))),
    # FHIR R4, read-only (reports/fhir/)
    path("fhir/", include("reports.fhir.urls")),
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("imports/", include("panels.intake.imports.pages")),
    path("", include("reports.pages")),
    path("critical/", include("panels.critical_pages")),
    path("", include("panels.worklist_pages")),
    path("", include("reports.lab_pages")),
    path("", include("panels.intake.correction_pages")),
    path("reference-ranges/", include("reference_ranges.pages")),
    path("reference-ranges/", include("panels.ruleset_pages")),
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
]

handler404 = not_found
