"""The authentication backend: Django's model backend, except that a session's user is read
together with their lab membership and its lab in one plain statement (every page asks
``access`` about the user next, and ``access.staff_for`` then finds the membership already
read). The statement is written once from the models' ``_meta`` (``labpanel.plain_rows``), not
compiled per request: the login is the part of every page's cost that no page can avoid
(``bench/review_pages.py``). An API token is read the same way, with its user and their
membership (:func:`tokens_with_staff`, for ``labpanel.accounts.token_auth``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import connections, router

from labpanel.accounts import access
from labpanel.accounts.models import Lab, StaffMember, TokenScopes
from labpanel.accounts.scopes import TOKEN_ATTRIBUTE, scopes_parse
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
    using = router.db_for_read(get_user_model())
    with connections[using].cursor() as cursor:
        cursor.execute(_user_statement(using), [user_pk])
        row = cursor.fetchone()
    if row is None:
        return None, None
    return _user_with_staff_build(row, using)


@cache
def _user_statement(using: str) -> str:
    """``user_with_staff``'s statement on database ``using`` (written once: naming the columns
    from ``_meta`` costs more than PostgreSQL takes to answer it)."""
    user_columns, staff_columns, lab_columns = _columns()
    model = user_columns.model
    quote = connections[using].ops.quote_name
    return (
        f"SELECT {user_columns.sql(using)}, {staff_columns.sql(using)}, "  # noqa: S608
        f"{lab_columns.sql(using)} FROM {quote(model._meta.db_table)} u "
        f"{_staff_joins(quote)}WHERE u.{quote(model._meta.pk.column)} = %s"
    )


def _staff_joins(quote: Any) -> str:
    """The SQL joining user ``u``'s membership ``s`` and its lab ``l`` (``_columns()``'s
    aliases), both left joins; ``quote`` is the connection's ``quote_name``."""
    user_pk = quote(get_user_model()._meta.pk.column)
    staff_user = quote(StaffMember._meta.get_field("user").column)
    staff_lab = quote(StaffMember._meta.get_field("lab").column)
    lab_pk = quote(str(Lab._meta.pk.column))
    return (
        f"LEFT JOIN {quote(StaffMember._meta.db_table)} s ON s.{staff_user} = u.{user_pk} "
        f"LEFT JOIN {quote(Lab._meta.db_table)} l ON l.{lab_pk} = s.{staff_lab} "
    )


def _user_with_staff_build(row: Sequence[Any], using: str) -> tuple[Any, StaffMember | None]:
    """The user and their membership with its lab (``None`` without one) of ``row``, whose
    columns are ``_columns()``'s in their order; ``user.staff`` (the reverse one-to-one)
    answers from what was read, without a query."""
    user_columns, staff_columns, lab_columns = _columns()
    user_end = user_columns.width
    staff_end = user_end + staff_columns.width
    user = user_columns.build(row[:user_end], using)
    staff = staff_columns.build(row[user_end:staff_end], using)
    if staff is not None:
        lab = lab_columns.build(row[staff_end : staff_end + lab_columns.width], using)
        staff.lab = lab  # type: ignore[assignment]
    get_user_model().staff.related.set_cached_value(user, staff)  # type: ignore[arg-type]
    return user, staff


@cache
def _token_columns() -> PlainColumns[Any]:
    from knox.models import get_token_model

    return PlainColumns(get_token_model(), "t")


@cache
def _tokens_statement(using: str) -> str:
    """``tokens_with_staff``'s statement on database ``using``, written once."""
    token_columns = _token_columns()
    user_columns, staff_columns, lab_columns = _columns()
    token_model = token_columns.model
    user_model = user_columns.model
    quote = connections[using].ops.quote_name
    token_table = quote(token_model._meta.db_table)
    token_user = quote(token_model._meta.get_field("user").column)
    token_pk = quote(str(token_model._meta.pk.column))
    token_key_column = quote(token_model._meta.get_field("token_key").column)
    expiry = quote(token_model._meta.get_field("expiry").column)
    user_pk = quote(user_model._meta.pk.column)
    scopes_table = quote(TokenScopes._meta.db_table)
    scopes_token = quote(TokenScopes._meta.get_field("token").column)
    scopes_column = quote(str(TokenScopes._meta.get_field("scopes").column))
    return (
        f"SELECT {token_columns.sql(using)}, {user_columns.sql(using)}, "  # noqa: S608
        f"{staff_columns.sql(using)}, {lab_columns.sql(using)}, k.{scopes_column}, "
        f"EXISTS (SELECT 1 FROM {token_table} o WHERE o.{token_user} = t.{token_user} "
        f"AND o.{token_pk} <> t.{token_pk} AND o.{expiry} < %s) "
        f"FROM {token_table} t "
        f"INNER JOIN {quote(user_model._meta.db_table)} u ON u.{user_pk} = t.{token_user} "
        f"{_staff_joins(quote)}"
        f"LEFT JOIN {scopes_table} k ON k.{scopes_token} = t.{token_pk} "
        f"WHERE t.{token_key_column} = %s"
    )


def tokens_with_staff(token_key: str, now: datetime) -> list[tuple[Any, Any, bool]]:
    """The API tokens whose key (knox's ``token_key``, the token's first characters) is
    ``token_key``, each with its user and the user's membership with its lab (``None`` without
    one) and its scopes (``TokenScopes``, kept on the token as ``scopes.TOKEN_ATTRIBUTE``), and
    whether the user holds another token that expired before ``now`` (which knox's
    authentication deletes): one statement. Each token's ``user`` is the user read with it;
    ``user.staff`` answers from what was read."""
    token_columns = _token_columns()
    using = router.db_for_read(token_columns.model)
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(
            _tokens_statement(using), [connection.ops.adapt_datetimefield_value(now), token_key]
        )
        rows = cursor.fetchall()
    found = []
    for row in rows:
        token = token_columns.build(row[: token_columns.width], using)
        user, staff = _user_with_staff_build(row[token_columns.width : -2], using)
        token.user = user  # type: ignore[union-attr]
        setattr(token, TOKEN_ATTRIBUTE, scopes_parse(row[-2]))
        found.append((token, staff, bool(row[-1])))
    return found
