"""``OPTIONS`` with a token (``labpanel.accounts.scopes``, ``access.token_options_refusal``):
the description of an API view needs any one of the scopes the view declares, on a viewset
declaring a scope per action as on one declaring a single scope; what it describes of a
method (DRF's ``actions``: a POST's input fields) is shown only to a token with that
method's own scope; sessions are not scope-limited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember, TokenScope
from labpanel.accounts.services import api_token_issue

pytestmark = pytest.mark.django_db

READ = str(TokenScope.RESULTS_READ)
SUBMIT = str(TokenScope.RESULTS_SUBMIT)
WEBHOOKS = str(TokenScope.WEBHOOKS_RECEIVE)


def _client(user: User, *scopes: str) -> APIClient:
    client = APIClient()
    token = api_token_issue(user=user, expires_in=timedelta(hours=1), scopes=sorted(scopes))
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_options_on_a_per_action_viewset_needs_one_of_its_scopes(director: StaffMember) -> None:
    for scopes in ((READ,), (SUBMIT,), (READ, SUBMIT)):
        answer = _client(director.user, *scopes).options("/api/v1/panels/")
        assert answer.status_code == 200, (scopes, answer.json())
        assert answer.json()["name"] == "Panel List"

    refused = _client(director.user, WEBHOOKS).options("/api/v1/panels/")

    assert refused.status_code == 403
    assert refused.json()["code"] == "scope_missing"
    assert refused.json()["message"] == (
        "this token lacks any of the scopes results:read results:submit of this endpoint "
        "(it carries: webhooks:receive)"
    )


def test_options_describes_a_post_only_to_a_token_that_may_post(director: StaffMember) -> None:
    reader = _client(director.user, READ).options("/api/v1/panels/").json()
    submitter = _client(director.user, SUBMIT).options("/api/v1/panels/").json()

    assert "actions" not in reader
    assert "accession" in submitter["actions"]["POST"]


def test_options_on_a_single_scope_viewset_needs_its_scope(director: StaffMember) -> None:
    assert _client(director.user, READ).options("/api/v1/audit/reads/").status_code == 200

    refused = _client(director.user, SUBMIT, WEBHOOKS).options("/api/v1/audit/reads/")

    assert refused.status_code == 403
    assert "lacks any of the scopes results:read" in refused.json()["message"]


def test_options_on_a_plain_view_needs_its_scope(director: StaffMember) -> None:
    assert _client(director.user, SUBMIT).options("/api/v1/hl7/").status_code == 200
    assert _client(director.user, READ).options("/api/v1/hl7/").status_code == 403


def test_the_other_methods_still_need_their_own_scope(director: StaffMember) -> None:
    reader = _client(director.user, READ)

    assert reader.post("/api/v1/panels/", {}, format="json").status_code == 403


def test_options_in_a_session_is_not_scope_limited(director_browser: Client) -> None:
    answer = director_browser.options("/api/v1/panels/")

    assert answer.status_code == 200
    assert "POST" in answer.json()["actions"]
