"""The authentication backend reads a session's user with their lab membership in one query,
and keeps Django's model backend's rules (an inactive user is nobody)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from labpanel.accounts import access
from labpanel.accounts.backends import StaffModelBackend
from labpanel.accounts.models import StaffMember

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
