"""``manage.py create_lab NAME --address ...`` creates a lab that ``issue_api_token --lab``
then fills; a name in use (ignoring case) is refused clearly, exit status non-zero, and
nothing is created."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from labpanel.accounts.models import Lab, Role, StaffMember

pytestmark = pytest.mark.django_db


def test_create_lab_creates_a_lab_that_issue_api_token_places_users_in() -> None:
    out = io.StringIO()

    call_command("create_lab", "North Lab", "--address", "1 North Road, Northtown", stdout=out)
    call_command(
        "issue_api_token",
        "north.tech",
        "--role",
        "technician",
        "--lab",
        "North Lab",
        stdout=io.StringIO(),
    )

    lab = Lab.objects.get(name="North Lab")
    assert lab.address == "1 North Road, Northtown"
    assert out.getvalue() == f"created lab {lab.pk}: North Lab\n"
    staff = StaffMember.objects.get(user__username="north.tech")
    assert (staff.lab, staff.role) == (lab, Role.TECHNICIAN)


@pytest.mark.parametrize("name", ["North Lab", "north lab", "  North Lab  "])
def test_a_name_in_use_is_refused_and_nothing_is_created(name: str) -> None:
    call_command("create_lab", "North Lab", "--address", "1 North Road", stdout=io.StringIO())

    with pytest.raises(CommandError, match="a lab named 'North Lab' exists already") as refused:
        call_command("create_lab", name, "--address", "2 Other Road", stdout=io.StringIO())

    assert refused.value.returncode == 1  # manage.py exits non-zero
    assert Lab.objects.count() == 1


@pytest.mark.parametrize(
    ("name", "address", "says"),
    [("", "1 Road", "a lab needs a name"), ("Lab", " ", "a lab needs an address")],
)
def test_an_empty_name_or_address_is_refused(name: str, address: str, says: str) -> None:
    with pytest.raises(CommandError, match=says):
        call_command("create_lab", name, "--address", address, stdout=io.StringIO())

    assert not Lab.objects.exists()


def test_with_two_labs_a_token_is_issued_in_an_existing_user_lab_and_a_new_user_names_it() -> None:
    call_command("create_lab", "North Lab", "--address", "1 North Road", stdout=io.StringIO())
    call_command(
        "issue_api_token", "north.tech", "--role", "technician", stdout=io.StringIO()
    )  # the only lab
    call_command("create_lab", "South Lab", "--address", "2 South Road", stdout=io.StringIO())

    call_command("issue_api_token", "north.tech", "--role", "technician", stdout=io.StringIO())
    with pytest.raises(CommandError, match="name the lab"):
        call_command("issue_api_token", "new.tech", "--role", "technician", stdout=io.StringIO())

    assert StaffMember.objects.get(user__username="north.tech").lab.name == "North Lab"
    assert not StaffMember.objects.filter(user__username="new.tech").exists()
