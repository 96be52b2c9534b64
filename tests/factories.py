"""factory_boy factories for the models tests build directly."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth.models import User
from factory.declarations import Sequence, SubFactory

from labpanel.accounts.models import Lab, Role, StaffMember


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


def make_lab(**fields: Any) -> Lab:
    return LabFactory.create(**fields)


def make_user(username: str) -> User:
    return UserFactory.create(username=username)


def make_staff(*, username: str, lab: Lab, role: str, display_name: str = "") -> StaffMember:
    return StaffMemberFactory.create(
        user=make_user(username), lab=lab, role=role, display_name=display_name
    )
