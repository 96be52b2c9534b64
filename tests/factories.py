"""factory_boy factories for the models tests build directly."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth.models import User
from factory.declarations import Sequence, SubFactory

from labpanel.accounts.models import Lab, Role, StaffMember
from reference_ranges.services import lab_specimen_setting_change


class LabFactory(factory.django.DjangoModelFactory[Lab]):
    class Meta:
        model = Lab

    name = Sequence(lambda n: f"Test Laboratory {n}")
    address = "10 Bench Street, Labtown"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw")


class StaffMemberFactory(factory.django.DjangoModelFactory[StaffMember]):
    class Meta:
        model = StaffMember

    user = SubFactory(UserFactory)
    lab = SubFactory(LabFactory)
    role = Role.TECHNICIAN


def make_lab(*, plasma_anticoagulant: str | None = "plasma_heparin", **fields: Any) -> Lab:
    """A lab. It says its generic "plasma" is heparin plasma (the tube of the seeded ARUP
    intervals), as a lab judging generic plasma by them must; ``plasma_anticoagulant=None``
    makes a lab that has not said (generic plasma then gets no anticoagulant-specific interval).
    """
    lab = LabFactory.create(**fields)
    if plasma_anticoagulant is not None:
        lab_specimen_setting_change(
            lab=lab, plasma_anticoagulant=plasma_anticoagulant, changed_by=None
        )
    return lab


def make_user(username: str) -> User:
    return UserFactory.create(username=username)


def make_staff(*, username: str, lab: Lab, role: str, display_name: str = "") -> StaffMember:
    return StaffMemberFactory.create(
        user=make_user(username), lab=lab, role=role, display_name=display_name
    )
