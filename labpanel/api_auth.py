"""The API's token logout endpoints: django-rest-knox's views, described for the OpenAPI schema
(they take no body and answer 204), so the schema and ``check --deploy`` raise no warning
(``labpanel.urls`` has them authenticate as the rest of the API: ``labpanel.accounts.token_auth``);
and that authentication described as drf-spectacular describes knox's, under the same security
scheme name."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import extend_schema, extend_schema_view
from knox import views as knox_views

from labpanel.accounts.models import TokenScope

_NO_CONTENT = extend_schema(request=None, responses={204: None})
TOKEN_SCHEME_DESCRIPTION = (
    "An API token (`manage.py issue_api_token USERNAME --role ROLE --scope SCOPE ...`), sent "
    "as `Authorization: Token <key>`. Each token carries scopes, and each operation names the "
    "one it needs (`x-token-scope`, and its description); a token without it is answered 403 "
    "naming the missing scope. Scopes: "
    + "; ".join(f"`{scope.value}`: {scope.label}" for scope in TokenScope)
    + ". A scope never widens what the token's user may do: their role still decides. "
    "Requests are limited per token (429 with Retry-After); a POST may carry an "
    "`Idempotency-Key` header, and a retry with the same key gets the first answer."
)


@extend_schema_view(post=_NO_CONTENT)
class TokenLogoutView(knox_views.LogoutView):  # type: ignore[misc]  # knox is untyped
    """``POST /api/v1/auth/logout/``: revokes the token the request carries."""


@extend_schema_view(post=_NO_CONTENT)
class TokenLogoutAllView(knox_views.LogoutAllView):  # type: ignore[misc]  # knox is untyped
    """``POST /api/v1/auth/logoutall/``: revokes every token of the request's user."""


class StaffTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """``knoxApiToken``, as drf-spectacular describes knox's ``TokenAuthentication``
    (``drf_spectacular.contrib.knox_auth_token``)."""

    target_class = "labpanel.accounts.token_auth.StaffTokenAuthentication"
    name = "knoxApiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        scheme = dict(
            build_bearer_security_scheme_object(
                header_name="Authorization", token_prefix=self.target.authenticate_header("")
            )
        )
        scheme["description"] = TOKEN_SCHEME_DESCRIPTION
        return scheme
