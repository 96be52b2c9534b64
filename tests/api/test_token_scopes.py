"""Token scopes (``labpanel.accounts.scopes``): every API route declares the scope a token
needs, a token without it is refused (403 naming it) before anything else is looked at, one
with it passes to the role's own decisions, and sessions are not scope-limited."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from labpanel import urls
from labpanel.accounts.migrations import __name__ as _migrations
from labpanel.accounts.models import StaffMember, TokenScope, TokenScopes
from labpanel.accounts.scopes import TokenScopeRequired, view_required_scope
from labpanel.accounts.services import api_token_issue, token_scopes_of
from labpanel.exceptions import InvalidInput
from labpanel.idempotency.views import IdempotentPosts

# API routes tokens reach without a declared scope, and why: the schema and its documentation
# pages are public; logging out needs only the token being revoked.
EXEMPT = {"schema", "docs", "redoc", "knox-logout", "knox-logoutall"}
ALL = frozenset(TokenScope.values)


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[URLPattern]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix)
        else:
            yield pattern


def _routes() -> list[tuple[str, str, str, Any]]:
    """Every (URL name, HTTP method, action, view class) of the API (``/api/v1/``)."""
    found = []
    for pattern in _walk(urls.api_patterns):
        if pattern.name in EXEMPT or pattern.name is None:
            continue
        callback: Any = pattern.callback
        view = callback.cls
        actions = getattr(callback, "actions", None)
        if actions is None:  # a plain APIView: its handlers
            actions = {
                method: method
                for method in view.http_method_names
                if method not in {"options", "head"} and hasattr(view, method)
            }
        for method, action in actions.items():
            if method == "head":
                continue
            found.append((pattern.name, method, action, view))
    return found


ROUTES = _routes()


def test_the_walk_finds_every_resource() -> None:
    names = {name for name, *_ in ROUTES}
    assert {"panel-list", "panel-detail", "import-list", "report-pdf", "ruleset-publish"} <= names
    assert {"hl7", "audit-read-list", "api-root"} <= names


@pytest.mark.parametrize(("name", "method", "action", "view"), ROUTES, ids=lambda v: str(v))
def test_every_api_route_declares_its_scope(name: str, method: str, action: str, view: Any) -> None:
    """No endpoint is left open to tokens by omission: each enforces the scope permission and
    declares a scope for each of its actions."""
    assert TokenScopeRequired in [*view().get_permissions().__class__.__mro__] or any(
        isinstance(permission, TokenScopeRequired) for permission in view().get_permissions()
    ), f"{name} does not check token scopes"
    scope = view_required_scope(view, action)
    assert scope in ALL, f"{name} {method.upper()} ({action}) declares no token scope"


@pytest.mark.parametrize(
    ("name", "method", "action", "view"),
    [route for route in ROUTES if route[1] == "post"],
    ids=lambda v: str(v),
)
def test_every_api_post_honours_an_idempotency_key(
    name: str, method: str, action: str, view: Any
) -> None:
    assert issubclass(view, IdempotentPosts), f"{name} POST ignores Idempotency-Key"


def test_the_exempt_routes_are_still_in_the_api() -> None:
    names = {pattern.name for pattern in _walk(urls.api_patterns)}
    assert names >= EXEMPT


def _url(name: str) -> str:
    """The route's URL, a made-up id (nobody's) in a detail route."""
    pattern = next(p for p in _walk(urls.api_patterns) if p.name == name)
    made_up = {"pk": 999999, "uuid": uuid.uuid4(), "format": "json"}
    kwargs = {key: made_up[key] for key in pattern.pattern.regex.groupindex}
    return reverse(f"api:{name}", kwargs=kwargs)


def _client(user: User, scopes: frozenset[str]) -> APIClient:
    client = APIClient()
    token = api_token_issue(user=user, expires_in=timedelta(hours=1), scopes=sorted(scopes))
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method", "action", "view"), ROUTES, ids=lambda v: str(v))
def test_a_token_without_the_scope_is_refused_naming_it_and_one_with_it_passes(
    name: str, method: str, action: str, view: Any, director: StaffMember
) -> None:
    """A director (whose role may do everything) with every scope but the one a route needs
    is refused 403 naming it; with only that scope the route is reached (whatever it then
    answers: 404 for the made-up id, 400 for the empty body, ...)."""
    scope = view_required_scope(view, action)
    assert scope is not None
    url = _url(name)

    refused = getattr(_client(director.user, ALL - {scope}), method)(url)

    assert refused.status_code == 403, (name, method, refused.status_code)
    assert refused.json()["code"] == "scope_missing"
    assert f"lacks the scope {scope}" in refused.json()["message"]

    reached = getattr(_client(director.user, frozenset({scope})), method)(url)
    assert reached.status_code not in {401, 429}
    if reached.status_code == 403:
        assert reached.json()["code"] != "scope_missing"


@pytest.mark.django_db
def test_a_read_token_reads_panels_but_submits_nothing(
    reference_data: None,
    technician: StaffMember,
    clinician: StaffMember,
    panel_payload: dict[str, Any],
) -> None:
    reader = _client(technician.user, frozenset({TokenScope.RESULTS_READ}))

    assert reader.get("/api/v1/panels/").status_code == 200
    refused = reader.post("/api/v1/panels/", panel_payload, format="json")

    assert refused.status_code == 403
    assert refused.json()["message"] == (
        "this token lacks the scope results:submit (it carries: results:read)"
    )
    submitter = _client(technician.user, frozenset({TokenScope.RESULTS_SUBMIT}))
    assert submitter.post("/api/v1/panels/", panel_payload, format="json").status_code == 201
    assert submitter.get("/api/v1/panels/").status_code == 403


@pytest.mark.django_db
def test_a_scope_never_widens_a_role(reference_data: None, clinician: StaffMember) -> None:
    """A clinician's token with every scope still may not manage reference ranges."""
    client = _client(clinician.user, ALL)

    answer = client.post("/api/v1/rulesets/1/publish/")

    assert answer.status_code in {403, 404}
    assert answer.json()["code"] != "scope_missing"


@pytest.mark.django_db
def test_sessions_are_not_scope_limited(director_browser: Client) -> None:
    assert director_browser.get("/api/v1/panels/").status_code == 200
    assert director_browser.get("/api/v1/rulesets/").status_code == 200


@pytest.mark.django_db
def test_a_token_named_without_scopes_gets_its_roles(
    clinician: StaffMember, integrator: StaffMember, director: StaffMember
) -> None:
    assert token_scopes_of(api_token_issue(user=clinician.user, expires_in=None)) == (
        "results:read",
    )
    assert token_scopes_of(api_token_issue(user=integrator.user, expires_in=None)) == (
        "results:read",
        "results:submit",
        "webhooks:receive",
    )
    assert set(token_scopes_of(api_token_issue(user=director.user, expires_in=None))) == ALL


@pytest.mark.django_db
def test_issuing_refuses_unknown_scopes_and_an_empty_list(clinician: StaffMember) -> None:
    with pytest.raises(InvalidInput, match="unknown scope"):
        api_token_issue(user=clinician.user, expires_in=None, scopes=["results:write"])
    with pytest.raises(InvalidInput, match="at least one scope"):
        api_token_issue(user=clinician.user, expires_in=None, scopes=[])
    assert not AuthToken.objects.filter(user=clinician.user).exists()


@pytest.mark.django_db
def test_the_command_issues_the_scopes_named(lab: Any, capsys: pytest.CaptureFixture[str]) -> None:
    call_command(
        "issue_api_token",
        "pipeline",
        "--role",
        "integrator",
        "--scope",
        "results:read",
        "--scope",
        "webhooks:receive",
    )
    out, err = capsys.readouterr()

    assert token_scopes_of(out.strip()) == ("results:read", "webhooks:receive")
    assert err.strip() == "scopes: results:read webhooks:receive"


@pytest.mark.django_db
def test_a_token_without_a_scope_row_can_do_nothing(technician: StaffMember) -> None:
    """A token made by knox itself (no ``TokenScopes`` row) carries no scope."""
    _, token = AuthToken.objects.create(user=technician.user, expiry=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    answer = client.get("/api/v1/panels/")

    assert answer.status_code == 403
    assert answer.json()["message"] == "this token lacks the scope results:read (it carries: none)"


@pytest.mark.django_db
def test_the_migration_gives_existing_tokens_their_roles_scopes(
    technician: StaffMember, clinician: StaffMember
) -> None:
    """Tokens issued before scopes existed keep working with their role's scopes."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module(f"{_migrations}.0005_token_scopes")
    old_technician, _ = AuthToken.objects.create(user=technician.user, expiry=None)
    old_clinician, _ = AuthToken.objects.create(user=clinician.user, expiry=None)
    stranger = User.objects.create(username="stranger")
    AuthToken.objects.create(user=stranger, expiry=None)

    migration.existing_tokens_scoped(apps, None)

    scopes = dict(TokenScopes.objects.values_list("token_id", "scopes"))
    assert scopes == {
        old_technician.digest: "results:read results:submit",
        old_clinician.digest: "results:read",
    }


@pytest.mark.django_db
def test_the_schema_names_each_operations_scope_and_the_scheme_lists_them() -> None:
    schema = Client().get("/api/v1/schema/?format=json").json()

    assert schema["paths"]["/api/v1/panels/"]["post"]["x-token-scope"] == "results:submit"
    assert schema["paths"]["/api/v1/panels/"]["get"]["x-token-scope"] == "results:read"
    assert (
        "Token scope: `results:submit`."
        in schema["paths"]["/api/v1/panels/"]["post"]["description"]
    )
    post = schema["paths"]["/api/v1/panels/"]["post"]
    assert {"in": "header", "name": "Idempotency-Key"}.items() <= next(
        parameter for parameter in post["parameters"] if parameter["name"] == "Idempotency-Key"
    ).items()
    assert {"409", "422"} <= set(post["responses"])
    scheme = schema["components"]["securitySchemes"]["knoxApiToken"]
    assert all(f"`{scope}`" in scheme["description"] for scope in TokenScope.values)
