"""API token scopes at the door: the DRF permission that refuses a token request a view's
declared scope does not allow (in ``DEFAULT_PERMISSION_CLASSES``), and how a view declares it.

A view declares the scope its requests need with a class attribute, ``required_scope = "..."``,
or per action (a viewset's action name; a plain view's lower-case method) with
``required_scopes = {"list": "results:read", "create": "results:submit"}`` (an action missing
from the map falls back to ``required_scope``). The decision is ``access.token_scope_refusal``'s;
this module only finds what the request carries and what the view asks.

``OPTIONS`` (DRF's ``metadata`` action on a viewset, ``options`` on a plain view) is never in
the map: it needs any one of the scopes the view declares (``access.token_options_refusal``),
and the methods it describes (DRF asks the permissions again for each, with the request's
method changed) each need their own action's scope."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from labpanel.accounts import access
from labpanel.accounts.models import TokenScope

RESULTS_READ = str(TokenScope.RESULTS_READ)
RESULTS_SUBMIT = str(TokenScope.RESULTS_SUBMIT)
RANGES_MANAGE = str(TokenScope.RANGES_MANAGE)
WEBHOOKS_RECEIVE = str(TokenScope.WEBHOOKS_RECEIVE)

# set on the knox token by the authentication (labpanel.accounts.token_auth)
TOKEN_ATTRIBUTE = "labpanel_scopes_granted"  # noqa: S105  (an attribute name)


def scopes_parse(text: str | None) -> frozenset[str]:
    """The scopes of a stored ``TokenScopes.scopes`` (space-separated; ``None``: no row)."""
    return frozenset((text or "").split())


def view_required_scope(view: Any, action: str | None) -> str | None:
    """The scope ``view`` declares for ``action`` (a viewset action or a lower-case HTTP
    method), or ``None`` when it declares none."""
    mapping = getattr(view, "required_scopes", None) or {}
    if action is not None and action in mapping:
        return str(mapping[action])
    declared = getattr(view, "required_scope", None)
    return str(declared) if declared else None


def view_declared_scopes(view: Any) -> frozenset[str]:
    """Every scope ``view`` declares, for any of its actions."""
    mapping = getattr(view, "required_scopes", None) or {}
    declared = getattr(view, "required_scope", None)
    return frozenset(str(scope) for scope in mapping.values()) | (
        frozenset({str(declared)}) if declared else frozenset()
    )


_DESCRIBING = frozenset({"metadata", "options"})


def _action(request: Request, view: Any) -> str:
    """The action whose scope ``request`` needs: the view's, or the request's method. DRF's
    ``OPTIONS`` answer asks again for each method it describes, with a copy of the request
    of that method but the view's action still ``metadata``: that method's own action."""
    action = getattr(view, "action", None) or (request.method or "").lower()
    method = (request.method or "").lower()
    if action in _DESCRIBING and method != "options":
        action_map = getattr(view, "action_map", None) or {}
        return str(action_map.get(method, method))
    return str(action)


def request_token_scopes(request: Request) -> frozenset[str] | None:
    """The scopes of the token ``request`` was made with, ``None`` when it was not made with a
    token (a session)."""
    if request.auth is None:
        return None
    return frozenset(getattr(request.auth, TOKEN_ATTRIBUTE, frozenset()))


class TokenScopeRequired(BasePermission):
    """A token request reaches the view only with the scope the view declares (403 naming
    the missing scope); sessions pass (their role decides, as before)."""

    code = "scope_missing"

    def has_permission(self, request: Request, view: Any) -> bool:
        action = _action(request, view)
        if action in _DESCRIBING:
            refusal = access.token_options_refusal(
                token_scopes=request_token_scopes(request), declared=view_declared_scopes(view)
            )
        else:
            refusal = access.token_scope_refusal(
                token_scopes=request_token_scopes(request),
                required=view_required_scope(view, action),
            )
        if refusal:
            self.message = refusal
            return False
        return True
