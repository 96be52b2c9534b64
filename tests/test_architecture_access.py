"""Nothing but ``labpanel.accounts.access`` reads a staff role.

Walks the source of the apps with ``ast`` and fails on any of these outside the accounts
modules allowed to know roles (access, the models, the admin, the membership services and the
migrations):

- a role member (``Role.DIRECTOR``), or a ``*_ROLES`` constant (a hand-written role tuple);
- a comparison of a staff member's ``.role`` (``staff.role == ...``, ``staff.role in ...``), or
  of any ``.role`` with a role member, a role value (``"director"``) or a ``*_ROLES`` constant;
- a ``role=`` / ``role__in=`` / ``staff__role=`` keyword in a query (``filter``, ``Q`` ...);
- a staff look-up (``StaffMember.objects``).

The analyte catalogue's inflammatory role (``Analyte.inflammatory_role``, the engine's
``role`` of an analyte summary) is not a staff role and is not flagged; the checker's own
tests below show both sides.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from labpanel.accounts.models import Role

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("labpanel", "panels", "reference_ranges", "reports")
ALLOWED = (
    "labpanel/accounts/access.py",
    "labpanel/accounts/models.py",
    "labpanel/accounts/admin.py",
    "labpanel/accounts/services.py",  # creates memberships with a role; decides nothing
    "labpanel/accounts/migrations/",
)
ROLE_MEMBERS = frozenset(Role.names)
ROLE_VALUES = frozenset(Role.values)
ROLE_TUPLE_NAME = re.compile(r"^[A-Z0-9_]+_ROLES$")
QUERY_METHODS = frozenset(
    {
        "filter",
        "exclude",
        "get",
        "get_or_create",
        "update_or_create",
        "update",
        "create",
        "count",
        "exists",
        "Q",
    }
)
MANAGERS = frozenset({"objects", "_default_manager", "_base_manager"})
STAFFISH = re.compile(r"staff|member", re.IGNORECASE)


def _is_role_member(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr in ROLE_MEMBERS
        and (
            (isinstance(node.value, ast.Name) and node.value.id == "Role")
            or (isinstance(node.value, ast.Attribute) and node.value.attr == "Role")
        )
    )


def _mentions_role(node: ast.AST) -> bool:
    """A role member, a role value string or a ``*_ROLES`` constant anywhere in ``node``."""
    for sub in ast.walk(node):
        if _is_role_member(sub):
            return True
        if isinstance(sub, ast.Constant) and sub.value in ROLE_VALUES:
            return True
        if isinstance(sub, ast.Name) and ROLE_TUPLE_NAME.match(sub.id):
            return True
    return False


def _is_role_kwarg(name: str | None) -> bool:
    if name is None:
        return False
    parts = name.split("__")
    return "role" in parts


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


def role_reads(source: str) -> list[tuple[int, str]]:
    """Each place in ``source`` that reads a staff role, as (line, what)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if _is_role_member(node):
            assert isinstance(node, ast.Attribute)
            found.append((node.lineno, f"Role.{node.attr}"))
        elif isinstance(node, ast.Name) and ROLE_TUPLE_NAME.match(node.id):
            found.append((node.lineno, f"role tuple {node.id}"))
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for index, operand in enumerate(operands):
                if not (isinstance(operand, ast.Attribute) and operand.attr == "role"):
                    continue
                others = operands[:index] + operands[index + 1 :]
                receiver = ast.unparse(operand.value)
                if STAFFISH.search(receiver) or any(_mentions_role(other) for other in others):
                    found.append((node.lineno, f"comparison of {receiver}.role"))
        elif isinstance(node, ast.Call) and _call_name(node) in QUERY_METHODS:
            for keyword in node.keywords:
                if _is_role_kwarg(keyword.arg):
                    found.append((node.lineno, f"query on {keyword.arg}="))
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in MANAGERS
            and isinstance(node.value, ast.Name)
            and node.value.id == "StaffMember"
        ):
            found.append((node.lineno, f"StaffMember.{node.attr}"))
    return found


def _modules() -> list[Path]:
    paths: list[Path] = []
    for package in PACKAGES:
        paths.extend(sorted((ROOT / package).rglob("*.py")))
    return paths


def test_only_access_reads_a_role() -> None:
    offences = []
    for path in _modules():
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(ALLOWED):
            continue
        for line, what in role_reads(path.read_text(encoding="utf-8")):
            offences.append(f"{relative}:{line}: {what}")
    assert offences == [], "decide through labpanel.accounts.access instead:\n" + "\n".join(
        offences
    )


def test_the_walk_covers_the_apps_and_access_itself_reads_roles() -> None:
    relative = {path.relative_to(ROOT).as_posix() for path in _modules()}
    assert {"panels/services.py", "reports/services.py", "reference_ranges/admin.py"} <= relative
    access = (ROOT / "labpanel/accounts/access.py").read_text(encoding="utf-8")
    assert role_reads(access), "the checker no longer recognises the role reads of access.py"


@pytest.mark.parametrize(
    "source",
    [
        "if staff.role == Role.DIRECTOR: pass",
        "SUBMITTING = (Role.TECHNICIAN, Role.DIRECTOR)",
        "ok = staff.role in SUBMITTING_ROLES",
        "ok = member.role != 'director'",
        "ok = request.user.staff.role in ('technician', 'director')",
        "ok = x.role == 'clinician'",
        "StaffMember.objects.filter(user=user).first()",
        "rows.filter(user_id=1, role__in=READING)",
        "rows.filter(role='director')",
        "Panel.objects.filter(ordering_clinician__staff__role='clinician')",
        "Q(role=wanted)",
        "from labpanel.accounts.models import Role\nwho = models.Role.INTEGRATOR",
    ],
)
def test_the_checker_flags_role_reads(source: str) -> None:
    assert role_reads(source)


@pytest.mark.parametrize(
    "source",
    [
        # The analyte catalogue's inflammatory role is not a staff role.
        "if self.role not in ROLES: raise ValueError(self.role)",
        "by_role.setdefault(known.role, []).append(known)",
        "Summary(code=analyte.code, role=analyte.inflammatory_role)",
        "Analyte.objects.filter(inflammatory_role='pro')",
        "same = analyte.role == other.role",
        # Asking access, showing a role, or naming one to the service that creates members.
        "lab = access.submitting_lab(user)",
        "print(f'{staff.role:<11}')",
        "staff_member_ensure(username='x', role=options['role'], lab=lab)",
        "parser.add_argument('--role', choices=Role.values)",
        "message = 'only a director may publish'",
    ],
)
def test_the_checker_leaves_other_roles_alone(source: str) -> None:
    assert role_reads(source) == []
