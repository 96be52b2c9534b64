"""The API's token authentication (``labpanel.accounts.token_auth``) answers as knox's
``TokenAuthentication`` does, case by case, on the real database, reading the token, its user
and the user's membership in one statement."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.test import RequestFactory, override_settings
from django.utils import timezone
from knox.auth import TokenAuthentication
from knox.models import AuthToken
from knox.signals import token_expired
from rest_framework import exceptions
from rest_framework.test import APIClient

from labpanel.accounts import access
from labpanel.accounts.models import StaffMember
from labpanel.accounts.services import api_token_issue
from labpanel.accounts.token_auth import StaffTokenAuthentication
from tests.factories import make_user

pytestmark = pytest.mark.django_db

CLASSES = (TokenAuthentication, StaffTokenAuthentication)


def _request(authorization: str | None) -> HttpRequest:
    request = RequestFactory().get("/api/v1/panels/")
    if authorization is not None:
        request.META["HTTP_AUTHORIZATION"] = authorization
    return request


def _outcome(cls: type[TokenAuthentication], authorization: str | None) -> tuple[Any, ...]:
    """What ``cls`` answers: ``None``, the user's and token's ids, or the refusal."""
    try:
        answer = cls().authenticate(_request(authorization))
    except exceptions.AuthenticationFailed as refusal:
        return ("refused", refusal.status_code, str(refusal.detail), refusal.get_codes())
    if answer is None:
        return ("none",)
    user, token = answer
    return ("authenticated", user.pk, token.digest, token.user_id)


def _both(authorization: str | None) -> tuple[Any, ...]:
    knox, ours = (_outcome(cls, authorization) for cls in CLASSES)
    assert ours == knox
    return ours


@pytest.fixture
def expirations() -> Iterator[list[tuple[str, str]]]:
    sent: list[tuple[str, str]] = []

    def receive(sender: Any, username: str, source: str, **kwargs: Any) -> None:
        sent.append((username, source))

    token_expired.connect(receive)
    yield sent
    token_expired.disconnect(receive)


def test_a_valid_token_gives_its_user_and_token_as_knox_does(clinician: StaffMember) -> None:
    token = api_token_issue(user=clinician.user, expires_in=timedelta(days=1))

    outcome = _both(f"Token {token}")

    assert outcome == (
        "authenticated",
        clinician.user.pk,
        AuthToken.objects.get(user=clinician.user).digest,
        clinician.user.pk,
    )


def test_the_token_user_and_membership_are_one_statement(
    clinician: StaffMember, django_assert_num_queries: Any
) -> None:
    token = api_token_issue(user=clinician.user, expires_in=timedelta(days=1))
    request = _request(f"Token {token}")

    with django_assert_num_queries(1):
        answer = StaffTokenAuthentication().authenticate(request)
        assert answer is not None
        staff = access.staff_for(answer[0])
        assert staff is not None
        assert (staff.pk, staff.role, staff.lab.name, staff.user is answer[0]) == (
            clinician.pk,
            "clinician",
            "Test Laboratory",
            True,
        )
        assert answer[0].staff is staff


def test_knox_itself_takes_more_statements(
    clinician: StaffMember, django_assert_num_queries: Any
) -> None:
    """The yardstick: knox's token and user, the user's other tokens, then the membership."""
    token = api_token_issue(user=clinician.user, expires_in=timedelta(days=1))

    with django_assert_num_queries(3):
        answer = TokenAuthentication().authenticate(_request(f"Token {token}"))
        assert answer is not None
        assert access.staff_for(answer[0]) == clinician


def test_a_user_without_a_membership_is_authenticated_with_none_in_one_statement(
    django_assert_num_queries: Any,
) -> None:
    user = make_user("outsider")
    token = api_token_issue(user=user, expires_in=None)
    _both(f"Token {token}")

    with django_assert_num_queries(1):
        answer = StaffTokenAuthentication().authenticate(_request(f"Token {token}"))
        assert answer is not None
        assert answer[0].pk == user.pk
        assert access.staff_for(answer[0]) is None


def test_a_wrong_key_with_a_known_prefix_is_refused_as_knox_refuses(
    clinician: StaffMember,
) -> None:
    token = api_token_issue(user=clinician.user, expires_in=None)
    wrong = token[:15] + ("0" if token[15] != "0" else "1") + token[16:]

    assert _both(f"Token {wrong}") == ("refused", 401, "Invalid token.", "authentication_failed")
    assert AuthToken.objects.filter(user=clinician.user).count() == 1


def test_an_unknown_prefix_is_refused_as_knox_refuses(clinician: StaffMember) -> None:
    api_token_issue(user=clinician.user, expires_in=None)

    assert _both("Token " + "a" * 64) == ("refused", 401, "Invalid token.", "authentication_failed")


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        (None, ("none",)),
        ("", ("none",)),
        ("Bearer abc", ("none",)),
        ("Token", ("refused", 401, "Invalid token header. No credentials provided.")),
        (
            "Token abc def",
            ("refused", 401, "Invalid token header. Token string should not contain spaces."),
        ),
        ("token " + "a" * 64, ("refused", 401, "Invalid token.")),
    ],
)
def test_a_missing_or_malformed_header_is_answered_as_knox_answers(
    clinician: StaffMember, authorization: str | None, expected: tuple[Any, ...]
) -> None:
    assert _both(authorization)[:3] == expected


def test_an_inactive_user_is_refused_as_knox_refuses(clinician: StaffMember) -> None:
    token = api_token_issue(user=clinician.user, expires_in=None)
    User.objects.filter(pk=clinician.user.pk).update(is_active=False)

    assert _both(f"Token {token}") == (
        "refused",
        401,
        "User inactive or deleted.",
        "authentication_failed",
    )


@pytest.mark.parametrize("cls", CLASSES, ids=["knox", "ours"])
def test_an_expired_token_is_refused_and_deleted(
    clinician: StaffMember, cls: type[TokenAuthentication], expirations: list[tuple[str, str]]
) -> None:
    token = api_token_issue(user=clinician.user, expires_in=timedelta(days=1))
    AuthToken.objects.filter(user=clinician.user).update(
        expiry=timezone.now() - timedelta(seconds=1)
    )

    assert _outcome(cls, f"Token {token}") == (
        "refused",
        401,
        "Invalid token.",
        "authentication_failed",
    )
    assert not AuthToken.objects.filter(user=clinician.user).exists()
    assert expirations == [("dr.house", "auth_token")]


@pytest.mark.parametrize("cls", CLASSES, ids=["knox", "ours"])
def test_the_users_other_expired_tokens_are_deleted_on_a_valid_one(
    clinician: StaffMember,
    director: StaffMember,
    cls: type[TokenAuthentication],
    expirations: list[tuple[str, str]],
) -> None:
    old = api_token_issue(user=clinician.user, expires_in=timedelta(days=1))
    lasting = api_token_issue(user=clinician.user, expires_in=None)
    someone_elses = api_token_issue(user=director.user, expires_in=timedelta(days=1))
    AuthToken.objects.filter(token_key__in=[old[:15], someone_elses[:15]]).update(
        expiry=timezone.now() - timedelta(seconds=1)
    )
    token = api_token_issue(user=clinician.user, expires_in=timedelta(days=1))

    assert _outcome(cls, f"Token {token}")[:2] == ("authenticated", clinician.user.pk)
    assert sorted(AuthToken.objects.values_list("token_key", flat=True)) == sorted(
        [lasting[:15], token[:15], someone_elses[:15]]
    )
    assert expirations == [("dr.house", "other_token")]


@pytest.mark.parametrize("cls", CLASSES, ids=["knox", "ours"])
def test_auto_refresh_renews_the_expiry_where_settings_ask(
    clinician: StaffMember, cls: type[TokenAuthentication]
) -> None:
    token = api_token_issue(user=clinician.user, expires_in=timedelta(hours=1))
    knox = {"TOKEN_TTL": timedelta(days=3), "AUTH_HEADER_PREFIX": "Token", "AUTO_REFRESH": True}

    with override_settings(REST_KNOX=knox):
        before = timezone.now()
        assert _outcome(cls, f"Token {token}")[0] == "authenticated"

    expiry = AuthToken.objects.get(user=clinician.user).expiry
    assert expiry is not None
    assert before + timedelta(days=3) <= expiry <= timezone.now() + timedelta(days=3)


def test_the_api_answers_a_bad_token_401_with_knoxs_message(
    reference_data: None, clinician: StaffMember
) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "a" * 64)

    response = client.get("/api/v1/panels/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["message"] == "Invalid token."


def test_logout_authenticates_with_it_and_revokes_the_token(clinician: StaffMember) -> None:
    client = APIClient()
    token = api_token_issue(user=clinician.user, expires_in=None)
    lasting = api_token_issue(user=clinician.user, expires_in=None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert list(AuthToken.objects.values_list("token_key", flat=True)) == [lasting[:15]]
    assert client.post("/api/v1/auth/logout/").status_code == 401
