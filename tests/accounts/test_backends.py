"""The authentication backend reads a session's user with their lab membership in one query,
and keeps Django's model backend's rules (an inactive user is nobody)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.http import HttpRequest
from django.utils import timezone

from labpanel.accounts import access
from labpanel.accounts.backends import StaffModelBackend, user_with_staff
from labpanel.accounts.models import StaffMember
from labpanel.sessions import SessionStore

pytestmark = pytest.mark.django_db


def test_the_user_comes_with_their_membership_in_one_query(
    clinician: StaffMember, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        user = StaffModelBackend().get_user(clinician.user.pk)
        staff = access.staff_for(user)
        assert staff is not None
        assert (staff.pk, staff.role, staff.lab.name) == (
            clinician.pk,
            "clinician",
            "Test Laboratory",
        )


def test_a_user_without_a_membership_has_none_and_is_not_read_again(
    django_assert_num_queries: Any,
) -> None:
    nobody = User.objects.create_user("nobody", password="x")
    with django_assert_num_queries(1):
        user = StaffModelBackend().get_user(nobody.pk)
        assert access.staff_for(user) is None


def test_an_inactive_user_is_not_returned(clinician: StaffMember) -> None:
    clinician.user.is_active = False
    clinician.user.save()

    assert StaffModelBackend().get_user(clinician.user.pk) is None
    assert StaffModelBackend().get_user(987654) is None


def _columns(instance: Any) -> dict[str, Any]:
    return {
        field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields
    }


def test_the_plain_read_equals_the_orms_read_column_for_column(clinician: StaffMember) -> None:
    """``user_with_staff`` builds the instances from one hand-written statement; every column of
    the user, the membership and the lab equals what the ORM reads (types included)."""
    user, staff = user_with_staff(clinician.user.pk)
    orm_user = User.objects.get(pk=clinician.user.pk)
    orm_staff = StaffMember.objects.select_related("lab").get(pk=clinician.pk)

    assert staff is not None
    for built, read in ((user, orm_user), (staff, orm_staff), (staff.lab, orm_staff.lab)):
        assert _columns(built) == _columns(read)
        assert {k: type(v) for k, v in _columns(built).items()} == {
            k: type(v) for k, v in _columns(read).items()
        }
        assert built._state.adding is False
        assert built._state.db == "default"
    assert user.staff is staff  # the reverse accessor answers from what was read


def test_a_user_read_plainly_saves_like_one_read_by_the_orm(clinician: StaffMember) -> None:
    user, _staff = user_with_staff(clinician.user.pk)
    user.first_name = "Gregory"
    user.save(update_fields=["first_name"])

    assert User.objects.get(pk=clinician.user.pk).first_name == "Gregory"
    assert user_with_staff(987654) == (None, None)


def _request_with_session(key: str) -> HttpRequest:
    request = HttpRequest()
    request.session = SessionStore(key)
    return request


def test_a_logged_in_request_pays_two_statements_for_the_login(
    client: Any, clinician: StaffMember, django_assert_num_queries: Any
) -> None:
    """The session (``labpanel.sessions``) and the user with their membership
    (``StaffModelBackend``): one plain statement each."""
    client.force_login(clinician.user)
    request = _request_with_session(client.cookies["sessionid"].value)

    with django_assert_num_queries(2) as captured:
        user = get_user(request)
        staff = access.staff_for(user)
    assert user.pk == clinician.user.pk
    assert staff is not None
    assert staff.pk == clinician.pk
    assert "django_session" in captured.captured_queries[0]["sql"]


def test_an_expired_or_unknown_session_is_nobody(client: Any, clinician: StaffMember) -> None:
    client.force_login(clinician.user)
    key = client.cookies["sessionid"].value
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )

    assert get_user(_request_with_session(key)).is_authenticated is False
    assert get_user(_request_with_session("no-such-session-key-xyz")).is_authenticated is False
    store = SessionStore(key)
    assert store.load() == {}
    assert store.session_key is None
