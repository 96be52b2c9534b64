"""The authentication backend: Django's model backend, except that a session's user is read
together with their lab membership and its lab in one plain statement (every page asks
``access`` about the user next, and ``access.staff_for`` then finds the membership already
read). The statement is written once from the models' ``_meta`` (``labpanel.plain_rows``), not
compiled per request: the login is the part of every page's cost that no page can avoid
(``bench/review_pages.py``)."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import connections, router

from labpanel.accounts import access
from labpanel.accounts.models import Lab, StaffMember
from labpanel.plain_rows import PlainColumns


class StaffModelBackend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        try:
            user_pk = get_user_model()._meta.pk.to_python(user_id)
        except (TypeError, ValueError, ValidationError):  # a malformed id in a session: nobody
            return None
        user, staff = user_with_staff(user_pk)
        if user is None or not self.user_can_authenticate(user):
            return None
        access.staff_remember(user, staff)
        return user


@cache
def _columns() -> tuple[PlainColumns[Any], PlainColumns[StaffMember], PlainColumns[Lab]]:
    return (
        PlainColumns(get_user_model(), "u"),
        PlainColumns(StaffMember, "s"),
        PlainColumns(Lab, "l"),
    )


def user_with_staff(user_pk: Any) -> tuple[Any, StaffMember | None]:
    """User ``user_pk`` and their membership with its lab (``None`` without one), or
    ``(None, None)`` when there is no such user: one statement."""
    user_columns, staff_columns, lab_columns = _columns()
    model = user_columns.model
    using = router.db_for_read(model)
    connection = connections[using]
    quote = connection.ops.quote_name
    pk = quote(model._meta.pk.column)
    staff_user = quote(StaffMember._meta.get_field("user").column)
    staff_lab = quote(StaffMember._meta.get_field("lab").column)
    lab_pk = quote(str(Lab._meta.pk.column))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {user_columns.sql(using)}, {staff_columns.sql(using)}, "  # noqa: S608
            f"{lab_columns.sql(using)} FROM {quote(model._meta.db_table)} u "
            f"LEFT JOIN {quote(StaffMember._meta.db_table)} s ON s.{staff_user} = u.{pk} "
            f"LEFT JOIN {quote(Lab._meta.db_table)} l ON l.{lab_pk} = s.{staff_lab} "
            f"WHERE u.{pk} = %s",
            [user_pk],
        )
        row = cursor.fetchone()
    if row is None:
        return None, None
    user = user_columns.build(row[: user_columns.width], using)
    staff = staff_columns.build(
        row[user_columns.width : user_columns.width + staff_columns.width], using
    )
    if staff is not None:
        lab = lab_columns.build(row[user_columns.width + staff_columns.width :], using)
        staff.lab = lab  # type: ignore[assignment]
    # The reverse one-to-one (``user.staff``) answers from what was read, without a query.
    get_user_model().staff.related.set_cached_value(user, staff)  # type: ignore[arg-type]
    return user, staff
