"""Services for staff accounts: users with a lab role, and their hashed, expiring, scoped API
tokens.

Tokens are django-rest-knox tokens: only a digest is stored, each can expire and be revoked.
Each carries scopes (``TokenScopes``): what it may be used for (``labpanel.accounts.scopes``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import transaction
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS

from labpanel.accounts import access
from labpanel.accounts.models import Lab, Role, StaffMember, TokenScope, TokenScopes
from labpanel.exceptions import Conflict, InvalidInput

logger = logging.getLogger(__name__)

DEMO_LAB_NAME = "Labpanel Demo Laboratory"
DEMO_LAB_ADDRESS = "1 Example Way, Springfield, ST 00000"
DEMO_STAFF = (
    ("lab.tech", Role.TECHNICIAN, "Tina Tech"),
    ("dr.house", Role.CLINICIAN, "Dr Gregory House"),
    ("interface.engine", Role.INTEGRATOR, "Hospital interface engine"),
    ("lab.director", Role.DIRECTOR, "Dr Dana Director"),
)


def lab_get_default() -> Lab:
    """The lab new accounts join when none is named: the only lab, else an error."""
    labs = list(Lab.objects.order_by("pk")[:2])
    if len(labs) != 1:
        raise InvalidInput(
            "name the lab (--lab): "
            + (
                "no lab exists yet; run `manage.py seed_demo` or create one"
                if not labs
                else "several labs exist"
            )
        )
    return labs[0]


def lab_for_username(username: str) -> Lab:
    """The lab a token for ``username`` is issued in when no lab is named: an existing
    member's own lab, else the only lab (``lab_get_default``)."""
    staff = StaffMember.objects.select_related("lab").filter(user__username=username).first()
    return staff.lab if staff is not None else lab_get_default()


@transaction.atomic
def lab_create(*, name: str, address: str) -> Lab:
    """A new lab named ``name`` at ``address``. Raises ``InvalidInput`` for an empty name or
    address and ``Conflict`` when a lab of that name (ignoring case) exists: lab names are how
    the operator's commands (``issue_api_token --lab``) find a lab, so two of one name would
    make them refuse."""
    name, address = name.strip(), address.strip()
    if not name:
        raise InvalidInput("a lab needs a name")
    if not address:
        raise InvalidInput("a lab needs an address (it is printed on every report)")
    existing = Lab.objects.filter(name__iexact=name).first()
    if existing is not None:
        raise Conflict(f"a lab named {existing.name!r} exists already (id {existing.pk})")
    lab = Lab(name=name, address=address)
    lab.full_clean()
    lab.save()
    logger.info("lab.created lab_id=%s", lab.pk)
    return lab


@transaction.atomic
def staff_member_ensure(
    *, username: str, role: str, lab: Lab, display_name: str = ""
) -> StaffMember:
    """Create the user (unusable password) and membership if missing; check an existing one."""
    if role not in Role.values:
        raise InvalidInput(f"unknown role {role!r}; choose one of {', '.join(Role.values)}")
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    staff = StaffMember.objects.filter(user=user).first()
    if staff is None:
        staff = StaffMember(user=user, lab=lab, role=role, display_name=display_name)
        staff.full_clean()
        staff.save()
        logger.info("staff.created user_id=%s role=%s lab_id=%s", user.pk, role, lab.pk)
        return staff
    if staff.role != role or staff.lab_id != lab.pk:
        raise Conflict(
            f"user {username!r} already has role {staff.role} in lab {staff.lab_id}; "
            "roles are not changed implicitly"
        )
    return staff


def token_scopes_clean(scopes: Iterable[str]) -> tuple[str, ...]:
    """``scopes`` in ``TokenScope``'s order, each once. Raises ``InvalidInput`` for an unknown
    scope."""
    named = {str(scope).strip() for scope in scopes}
    unknown = sorted(named - set(TokenScope.values))
    if unknown:
        raise InvalidInput(
            f"unknown scope(s) {', '.join(unknown)}; choose from {', '.join(TokenScope.values)}"
        )
    return tuple(scope for scope in TokenScope.values if scope in named)


@transaction.atomic
def api_token_issue(
    *, user: AbstractUser, expires_in: timedelta | None, scopes: Iterable[str] | None = None
) -> str:
    """Create a new token for ``user`` carrying ``scopes`` (``None``: the scopes the user's
    role allows, ``access.token_scopes_default``: none without a role) and return it; only its
    digest is stored. Raises ``InvalidInput`` for an unknown scope, or when ``scopes`` names
    none (a token that could do nothing)."""
    if scopes is not None:
        chosen = token_scopes_clean(scopes)
        if not chosen:
            raise InvalidInput(f"name at least one scope: {', '.join(TokenScope.values)}")
    else:
        chosen = token_scopes_clean(access.token_scopes_default(user))
    instance, token = AuthToken.objects.create(user=user, expiry=expires_in)
    TokenScopes.objects.create(token=instance, scopes=" ".join(chosen))
    logger.info(
        "api_token.issued user_id=%s expires_in=%s scopes=%s",
        user.pk,
        expires_in,
        " ".join(chosen),
    )
    return str(token)


def api_tokens_revoke(*, user: AbstractUser) -> int:
    deleted, _ = AuthToken.objects.filter(user=user).delete()
    logger.info("api_token.revoked user_id=%s count=%s", user.pk, deleted)
    return int(deleted)


@transaction.atomic
def demo_lab_ensure(*, password: str) -> tuple[Lab, list[StaffMember]]:
    """The demo lab with one user per role, each with ``password`` for the admin login, and an
    on-call contact for critical results (so an escalation can be tried to its last level; made
    with the lab, a director's later change is kept)."""
    lab, _ = Lab.objects.get_or_create(
        name=DEMO_LAB_NAME,
        defaults={
            "address": DEMO_LAB_ADDRESS,
            "critical_on_call_name": "Demo on-call pathologist",
            "critical_on_call_phone": "+1 555 0100",
            "critical_on_call_email": "on-call@demo-lab.example",
        },
    )
    members = []
    for username, role, display_name in DEMO_STAFF:
        staff = staff_member_ensure(
            username=username, role=role, lab=lab, display_name=display_name
        )
        user = staff.user
        user.set_password(password)
        user.is_staff = access.admin_site_allowed(role)
        user.save(update_fields=["password", "is_staff"])
        members.append(staff)
    return lab, members


def token_scopes_of(token: str) -> tuple[str, ...]:
    """The scopes of the token whose key is ``token`` (as ``api_token_issue`` returned it)."""
    row = (
        TokenScopes.objects.filter(
            token__digest=hash_token(token), token__token_key=token[: CONSTANTS.TOKEN_KEY_LENGTH]
        )
        .values_list("scopes", flat=True)
        .first()
    )
    return tuple((row or "").split())
