"""The authentication backend: Django's model backend, except that a session's user is read
together with their lab membership (one query, not two): every page asks ``access`` about the
user next, and ``access.staff_for`` then finds the membership already read."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ObjectDoesNotExist

from labpanel.accounts import access


class StaffModelBackend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        user = (
            get_user_model()
            ._default_manager.select_related("staff__lab")
            .filter(pk=user_id)
            .first()
        )
        if user is None or not self.user_can_authenticate(user):
            return None
        try:
            staff = user.staff
        except ObjectDoesNotExist:
            staff = None
        access.staff_remember(user, staff)
        return user
