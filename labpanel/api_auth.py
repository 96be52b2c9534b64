"""The API's token logout endpoints: django-rest-knox's views, described for the OpenAPI schema
(they take no body and answer 204), so the schema and ``check --deploy`` raise no warning."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from knox import views as knox_views

_NO_CONTENT = extend_schema(request=None, responses={204: None})


@extend_schema_view(post=_NO_CONTENT)
class TokenLogoutView(knox_views.LogoutView):  # type: ignore[misc]  # knox is untyped
    """``POST /api/v1/auth/logout/``: revokes the token the request carries."""


@extend_schema_view(post=_NO_CONTENT)
class TokenLogoutAllView(knox_views.LogoutAllView):  # type: ignore[misc]  # knox is untyped
    """``POST /api/v1/auth/logoutall/``: revokes every token of the request's user."""
