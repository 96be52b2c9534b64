"""Who may see or do what: the one module that reads a staff role.

Every "may this user see or do X" decision and every filter that scopes a list lives here, and
nothing else checks a role (``tests/test_architecture_access.py`` enforces it). This is the
bottom layer: it knows users, labs and memberships, never the records of ``panels``,
``reference_ranges`` or ``reports``. Decisions take the user and plain values (a lab id, the
submitter's id); list scopes are ``Q`` objects over field paths the caller names with
``prefix`` (``Panel.objects.filter(panels_scope(user))``,
``Report.objects.filter(panels_scope(user, prefix="panel__"))``).

The policy:

- Panels (and so their reports): technicians and directors see their lab's panels; a clinician
  sees the panels of the patients in their care (see below); an integrator sees the panels
  submitted with its credentials. Anyone else sees nothing. Views answer 404 outside these sets,
  so existence never leaks.
- A clinician's care: a patient is in a clinician's care when the clinician ordered a panel of
  the patient, in their own lab, that they may open (released, or any where the lab sends
  preliminary reports to clinicians). A clinician opens every panel of their lab of a patient
  in their care that is released (any, where the lab sends preliminary reports), whoever
  ordered or submitted it, and its reports (FINAL, CORRECTED; PRELIMINARY where the lab sends
  them). The inbox and critical alerts are not widened: they stay the ordering clinician's (the
  reports addressed to them, the acknowledgements that are theirs).
- Submitting panels: technicians, directors and integrators, for their own lab.
- Patient identifiers (MRN, accession) are the lab's own: every look-up by MRN or accession is
  scoped to the caller's lab, so another lab's identifiers are never seen, refused or taken.
- A known MRN sent with other demographics is refused (409). Only the lab's staff
  (technicians, directors) are told which fields differ; anyone else (integrators) gets a
  refusal naming no field and no value. Every such refusal is audited, and a user refused more
  than a few times in a while is answered 429 on known MRNs until the while has passed.
- HL7 messages: integrators and directors, for their own lab.
- File imports (and their jobs): technicians and directors of the lab.
- Amending results: the lab's technicians, directors and integrators; an integrator only the
  panels it submitted.
- Retrying a failed report: a director of the report's lab, or a superuser.
- Rule sets: technicians, directors and integrators read their lab's sets and the
  installation-wide ones. A director manages their own lab's sets; installation-wide sets are
  managed by a director only through the operator's commands.
- Lab configuration (pattern-rule switches, assay measuring ranges): a director of the lab; the
  installation defaults and every lab's rows, a superuser (or the operator's command line,
  which acts as no user).
- Ordering clinicians: a lab's active clinicians are the people a panel may name.
- Review and release (a panel's results go received → verified → released; the lab's
  settings on ``Lab``): a director verifies; a technician too where the lab lets technicians
  verify (the default). Nobody verifies a panel they submitted unless the lab allows
  self-verification. A director releases; a technician too where the lab lets technicians
  release (not by default), but a panel whose interpretive findings (HLH-2004, HScore, the ASTCT
  grade: computed from clinical data supplied with it) were evaluated only a director releases.
  Integrators and clinicians never verify or release.
- The admin site: entered by staff users (``is_staff``: given to directors only,
  :func:`admin_site_allowed`); what each admin page may show or change is still Django's model
  permissions. Every row of lab data there (patients, panels, results, reports, imports, HL7
  messages, bead regions, rule sets, staff and their users) is a superuser's to see in every
  lab, a director's only in their own lab (:func:`admin_rows_scope`); installation-wide rows
  (rule sets without a lab) a director reads but only a superuser changes
  (:func:`admin_row_changeable`). Anyone else sees none.
- Home (where a user lands after login): a clinician their inbox of reports; the lab's
  technicians and directors their worklist; everyone else the import page, as before.
- Acknowledging a report (the clinician's receipt): clinicians, of the reports they see.
- Before release a clinician sees neither the panel nor its (PRELIMINARY) reports, unless the
  lab sends preliminary reports to clinicians; after release the FINAL and CORRECTED ones.
- A patient's history (the earlier panels shown beside a panel, and what is computed from
  them): a caller is shown only panels they may open, and on a panel they may open every
  earlier one they may open. So the lab's technicians and directors see all of it; a clinician
  the same lab's released earlier panels (unreleased ones too where the lab sends preliminary
  reports): the patient is in their care, so they open those too; told how many are left out;
  an integrator only the panels it submitted, not told of the others. A report's document is
  drawn for the ordering clinician. The block "A patient's history" below decides it
  (:func:`history_visible`).
- Webhooks (``labpanel.webhooks``): integrators and directors manage their own lab's
  subscriptions and see and replay their own lab's deliveries; a subscription is only ever sent
  its own lab's events. Nobody else, superusers included over the API.
- The read audit (``labpanel.audit``: who read which patient's data): a director searches
  their own lab's entries, over the API and in the admin; a superuser every lab's in the
  admin. Nobody edits or deletes an entry.
- API token scopes (``TokenScope``): a scope limits what a token may be used for, never what
  its user's role may do. A request with a token reaches an API view only when the view declares
  the scope the request needs (``required_scope`` / ``required_scopes``) and the token carries
  it; a view that declares none is refused to tokens. Session requests are not scope-limited
  (:func:`token_scope_refusal`). A token issued without naming scopes gets its role's
  (:data:`TOKEN_SCOPES_BY_ROLE`).

One membership look-up per user object: :func:`staff_for` keeps the answer on the user
(``user._labpanel_staff``), so a request that checks twice queries once. A long-lived user
object (the MLLP listener's) calls :func:`staff_forget` before each message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import Q, QuerySet

from labpanel.accounts.models import Lab, Role, StaffMember, TokenScope
from labpanel.exceptions import NotAllowed

_CACHE = "_labpanel_staff"

SUBMITTING = frozenset({Role.TECHNICIAN, Role.DIRECTOR, Role.INTEGRATOR})
HL7_SENDING = frozenset({Role.INTEGRATOR, Role.DIRECTOR})
IMPORTING = frozenset({Role.TECHNICIAN, Role.DIRECTOR})
AMENDING = frozenset({Role.TECHNICIAN, Role.DIRECTOR, Role.INTEGRATOR})
RULESET_READING = frozenset({Role.TECHNICIAN, Role.DIRECTOR, Role.INTEGRATOR})
LAB_WIDE_READING = frozenset({Role.TECHNICIAN, Role.DIRECTOR})
REVIEWING = frozenset({Role.TECHNICIAN, Role.DIRECTOR})
WEBHOOK_MANAGING = frozenset({Role.INTEGRATOR, Role.DIRECTOR})

_NOTHING = Q(pk__in=[])

# The review vocabulary of the records this module scopes (``panels.models.ReviewState``,
# ``reports.models.ReportStage``; tests/accounts/test_review_access.py checks they agree).
PANEL_RELEASED = "released"
REPORT_PRELIMINARY = "preliminary"


# --- The membership ------------------------------------------------------------------------------


def staff_for(user: Any) -> StaffMember | None:
    """``user``'s membership (with its lab), or ``None``; looked up once per user object."""
    if user is None or not user.is_authenticated:
        return None
    try:
        cached: StaffMember | None = getattr(user, _CACHE)
    except AttributeError:
        cached = StaffMember.objects.select_related("lab").filter(user_id=user.pk).first()
        if cached is not None:
            cached.user = user
        setattr(user, _CACHE, cached)
    return cached


def staff_remember(user: Any, staff: StaffMember | None) -> None:
    """Keep ``staff`` (read with ``user``: ``labpanel.accounts.backends``) as ``user``'s
    membership, so that :func:`staff_for` does not read it again."""
    if staff is not None:
        staff.user = user
    setattr(user, _CACHE, staff)


def staff_forget(user: Any) -> None:
    """Drop the membership kept on ``user`` so the next decision reads it afresh."""
    if user is not None and hasattr(user, _CACHE):
        delattr(user, _CACHE)


def _role_in(user: Any, roles: frozenset[Role]) -> StaffMember | None:
    staff = staff_for(user)
    return staff if staff is not None and staff.role in roles else None


def _directs(user: Any, lab_id: int | None) -> bool:
    staff = staff_for(user)
    return staff is not None and staff.role == Role.DIRECTOR and staff.lab_id == lab_id


# --- List scopes ---------------------------------------------------------------------------------


def panels_scope(user: Any, prefix: str = "") -> Q:
    """The panels ``user`` may see, as a filter on ``{prefix}lab_id`` and the people fields;
    for a clinician, on ``{prefix}review_state`` and ``{prefix}patient_id`` (the patients in
    their care: :func:`_care_patients`)."""
    staff = staff_for(user)
    if staff is None:
        return _NOTHING
    lab = Q(**{f"{prefix}lab_id": staff.lab_id})
    if staff.role in LAB_WIDE_READING:
        return lab
    if staff.role == Role.CLINICIAN:
        released = Q(**{f"{prefix}review_state": PANEL_RELEASED}) | Q(
            **{f"{prefix}lab__preliminary_reports_to_clinicians": True}
        )
        # "they ordered it" needs no term of its own: a panel they ordered and may open puts
        # its patient in their care.
        return lab & released & Q(**{f"{prefix}patient_id__in": _care_patients(staff)})
    if staff.role == Role.INTEGRATOR:
        return lab & Q(**{f"{prefix}submitted_by_id": staff.user_id})
    return _NOTHING


def scope_key(user: Any) -> tuple[str, int, int] | None:
    """What every scope of ``user`` (``panels_scope``, ``reports_scope`` ...) is decided by:
    their membership's role, lab and user id; ``None`` without a membership. Two users with the
    same key get the same scopes, so a read may keep a scope's compiled SQL under it."""
    staff = staff_for(user)
    return None if staff is None else (str(staff.role), staff.lab_id, staff.user_id)


def _care_patients(staff: StaffMember) -> QuerySet[Lab, int]:
    """The patients in the clinician ``staff``'s care, as a subquery of patient ids: those of
    the panels of their lab they ordered and may open (released, or any where the lab sends
    preliminary reports to clinicians).

    It is rooted at ``Lab`` (this module's own model) and reaches the panels through the
    reverse relation ``Lab.panels`` by field path, as the scopes do, so that this module
    imports no record of ``panels`` (tests/test_architecture_layers.py) and names field paths
    only. A subquery (``patient_id IN (...)``), not a join over ``patient__panels``, so a list
    holds each panel once however many panels of the patient the clinician ordered; the
    conditions on the ordered panel sit in one ``filter`` so that they hold for the same panel
    (one join), whose ``patient_id`` is the value read."""
    return Lab.objects.filter(
        Q(pk=staff.lab_id, panels__ordering_clinician_id=staff.user_id)
        & (Q(panels__review_state=PANEL_RELEASED) | Q(preliminary_reports_to_clinicians=True))
    ).values_list("panels__patient_id", flat=True)


def reports_scope(user: Any, prefix: str = "") -> Q:
    """The reports ``user`` may see, as a filter on ``{prefix}lab_id``, ``{prefix}stage`` and
    the panel's fields (``{prefix}panel__...``): those of the panels they see, and for a
    clinician only released ones (FINAL, CORRECTED) unless their lab sends preliminary reports.

    A report's lab is its panel's (``reports.Report.lab``), so the lab's staff, who see every
    panel of their lab, are given the reports of the lab without the panels: PostgreSQL finds
    and counts them from an index of the reports alone."""
    staff = staff_for(user)
    if staff is None:
        return _NOTHING
    lab = Q(**{f"{prefix}lab_id": staff.lab_id})
    if staff.role in LAB_WIDE_READING:
        return lab
    panels = lab & panels_scope(user, prefix=f"{prefix}panel__")
    if staff.role != Role.CLINICIAN:
        return panels
    return panels & (
        ~Q(**{f"{prefix}stage": REPORT_PRELIMINARY})
        | Q(**{f"{prefix}panel__lab__preliminary_reports_to_clinicians": True})
    )


def import_jobs_scope(user: Any, prefix: str = "") -> Q:
    """The import jobs ``user`` may see: their lab's, for technicians and directors."""
    staff = _role_in(user, IMPORTING)
    if staff is None:
        return _NOTHING
    return Q(**{f"{prefix}lab_id": staff.lab_id})


def rulesets_scope(user: Any, prefix: str = "") -> Q:
    """The rule sets ``user`` may read: their lab's and the installation-wide ones."""
    staff = _role_in(user, RULESET_READING)
    if staff is None:
        return _NOTHING
    return Q(**{f"{prefix}lab_id": staff.lab_id}) | Q(**{f"{prefix}lab__isnull": True})


def lab_configuration_scope(user: Any, prefix: str = "") -> Q:
    """The lab-configuration rows (pattern switches, measuring ranges) ``user`` may administer:
    every row for a superuser, their own lab's for a director, none otherwise."""
    if user is not None and user.is_superuser:
        return Q()
    return Q(**{f"{prefix}lab_id": directed_lab_id(user)})


def ordering_clinicians(*, lab_id: int) -> QuerySet[StaffMember]:
    """The lab's active clinicians: the people a panel of ``lab_id`` may name as orderer."""
    return StaffMember.objects.select_related("user").filter(
        lab_id=lab_id, role=Role.CLINICIAN, user__is_active=True
    )


def directed_lab_id(user: Any) -> int | None:
    """The lab an active ``user`` directs, or ``None``."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    staff = staff_for(user)
    return staff.lab_id if staff is not None and staff.role == Role.DIRECTOR else None


# --- Decisions -----------------------------------------------------------------------------------


def home_url_name(user: Any) -> str:
    """The URL name of ``user``'s home page: the first screen their navigation offers (a
    clinician's report inbox, the lab staff's worklist, an integrator's reference ranges);
    with none, the import page, which says why it refuses them."""
    screens = navigation_for(user)
    return screens[0] if screens else "imports:list"


def report_acknowledge_check(user: Any) -> None:
    """Whether ``user`` may acknowledge the reports they see: clinicians only (the lab's
    staff read reports but do not receive them). Raises ``NotAllowed``."""
    staff = staff_for(user)
    if staff is None or staff.role != Role.CLINICIAN or not user.is_active:
        raise NotAllowed("only the ordering clinician acknowledges a report")


def admin_site_allowed(role: str) -> bool:
    """Whether a member with ``role`` is given the admin site (``is_staff``): directors only."""
    return role == Role.DIRECTOR


def admin_rows_scope(user: Any, lab_path: str, *, installation_wide: bool = False) -> Q:
    """The rows of lab data ``user`` sees in the admin, as a filter on ``{lab_path}`` (the
    path to the row's lab id: ``lab_id``, ``panel__lab_id``): every row for an active
    superuser, their own lab's for a director (and, with ``installation_wide``, the rows
    without a lab: installation-wide rule sets), none otherwise."""
    if user is not None and user.is_active and user.is_superuser:
        return Q()
    lab_id = directed_lab_id(user)
    if lab_id is None:
        return _NOTHING
    rows = Q(**{lab_path: lab_id})
    return rows | Q(**{f"{lab_path}__isnull": True}) if installation_wide else rows


def admin_row_changeable(user: Any, *, lab_id: int | None) -> bool:
    """Whether ``user`` may change or delete, in the admin, a row of ``lab_id`` it sees
    (``None``: an installation-wide row, a superuser's alone); Django's model permissions
    still apply on top."""
    if user is not None and user.is_active and user.is_superuser:
        return True
    return lab_id is not None and lab_id == directed_lab_id(user)


def _lab_of_member_in(user: Any, roles: frozenset[str], refusal: str) -> Lab:
    """The lab of ``user`` when their role is one of ``roles``; else ``NotAllowed(refusal)``."""
    staff = staff_for(user)
    if staff is None or staff.role not in roles:
        raise NotAllowed(refusal)
    return staff.lab


def can_submit_panels(staff: StaffMember | None) -> bool:
    return staff is not None and staff.role in SUBMITTING


def submitting_lab(user: Any) -> Lab:
    """The lab ``user`` submits panels for. Raises ``NotAllowed``."""
    refusal = "only technicians, directors and integrators may submit panels"
    return _lab_of_member_in(user, SUBMITTING, refusal)


def demographics_details_allowed(user: Any, *, lab_id: int) -> bool:
    """Whether a refusal for a known MRN of ``lab_id`` sent with other demographics may say
    which fields differ: to the lab's staff (technicians, directors) only; an integrator or
    anyone else gets a refusal naming no field, so that it cannot be used to find them out."""
    staff = staff_for(user)
    return staff is not None and staff.lab_id == lab_id and staff.role in LAB_WIDE_READING


def can_send_hl7(staff: StaffMember | None) -> bool:
    return staff is not None and staff.role in HL7_SENDING


def hl7_receiver_lab(user: Any) -> Lab:
    """The lab whose HL7 messages ``user`` sends. Raises ``NotAllowed``."""
    refusal = "only integrators and directors may send HL7 messages"
    return _lab_of_member_in(user, HL7_SENDING, refusal)


def can_use_imports(staff: StaffMember | None) -> bool:
    return staff is not None and staff.role in IMPORTING


def importing_lab(user: Any) -> Lab:
    """The lab ``user`` imports files for. Raises ``NotAllowed``."""
    return _lab_of_member_in(user, IMPORTING, "only technicians and directors may import files")


def amend_check(user: Any, *, lab_id: int, submitted_by_id: int) -> None:
    """Whether ``user`` may amend a panel of ``lab_id`` submitted by ``submitted_by_id``.
    Raises ``NotAllowed``."""
    staff = staff_for(user)
    if staff is None or staff.lab_id != lab_id or staff.role not in AMENDING:
        raise NotAllowed("only the lab's technicians, directors and integrators amend results")
    if staff.role == Role.INTEGRATOR and submitted_by_id != user.pk:
        raise NotAllowed("an interface amends only the panels it submitted")


def verify_check(user: Any, *, lab_id: int, submitted_by_id: int) -> None:
    """Whether ``user`` may verify a panel of ``lab_id`` submitted by ``submitted_by_id``.
    Raises ``NotAllowed`` with the specific reason."""
    staff = _review_staff(user, lab_id, "verify")
    if staff.role == Role.TECHNICIAN and not staff.lab.technicians_may_verify:
        raise NotAllowed("technicians may not verify results in this lab; a director verifies")
    if submitted_by_id == user.pk and not staff.lab.self_verification_allowed:
        raise NotAllowed(
            "self-verification is not allowed in this lab: someone other than the person "
            "who submitted the panel verifies it"
        )


def release_check(user: Any, *, lab_id: int, has_interpretive_findings: bool) -> None:
    """Whether ``user`` may release a panel of ``lab_id``; ``has_interpretive_findings``: its
    HLH-2004 / HScore / ASTCT findings were evaluated from clinical data. Raises
    ``NotAllowed`` with the specific reason."""
    staff = _review_staff(user, lab_id, "release")
    if staff.role == Role.DIRECTOR:
        return
    if has_interpretive_findings:
        raise NotAllowed(
            "a panel with interpretive findings (HLH-2004, HScore, ASTCT grade) is released "
            "only by a director"
        )
    if not staff.lab.technicians_may_release:
        raise NotAllowed("technicians may not release reports in this lab; a director releases")


def _review_staff(user: Any, lab_id: int, action: str) -> StaffMember:
    """The membership of an active director or technician of ``lab_id``, or ``NotAllowed``."""
    staff = staff_for(user)
    if staff is None or not user.is_active or staff.lab_id != lab_id:
        raise NotAllowed(f"only the lab's directors and technicians {action} results")
    if staff.role not in REVIEWING:
        raise NotAllowed(
            f"{Role(staff.role).label.lower()}s never {action} results; the lab's directors "
            "and technicians do"
        )
    return staff


def report_retry_check(user: Any, *, lab_id: int) -> None:
    """Whether ``user`` may retry a failed report of ``lab_id``. Raises ``NotAllowed``."""
    if user is None or not user.is_authenticated or not user.is_active:
        raise NotAllowed("only a director of the report's lab may retry it")
    if getattr(user, "is_superuser", False):
        return
    if not _directs(user, lab_id):
        raise NotAllowed("only a director of the report's lab may retry it")


def ruleset_manager_check(
    user: Any, *, lab_id: int | None, installation_wide_allowed: bool = True
) -> StaffMember:
    """The user's director membership, if they may manage sets of ``lab_id``'s scope.

    A lab's sets are managed by that lab's directors. Installation-wide sets (``lab_id=None``)
    are managed by any director through the management commands; the API passes
    ``installation_wide_allowed=False`` so that one lab's director cannot change the intervals
    every other lab falls back to. Raises ``NotAllowed``.
    """
    staff = staff_for(user)
    if staff is None or staff.role != Role.DIRECTOR or not user.is_active:
        raise NotAllowed("only a lab director may import or publish reference range sets")
    if lab_id is not None and staff.lab_id != lab_id:
        raise NotAllowed("only a director of the set's own lab may manage it")
    if lab_id is None and not installation_wide_allowed:
        raise NotAllowed(
            "installation-wide reference range sets are managed by the installation's "
            "operator (manage.py ruleset_import / ruleset_publish), not through the API"
        )
    return staff


def pattern_setting_change_check(user: Any, *, lab_id: int | None) -> None:
    """Whether ``user`` (``None``: the operator's command line) may switch pattern rules for
    ``lab_id`` (``None``: the installation default). Raises ``NotAllowed``."""
    if lab_id is None:
        if user is None or (user.is_active and user.is_superuser):
            return
        raise NotAllowed(
            "the installation default of a pattern rule is changed by the installation's "
            "operator; a lab director changes it for their own lab"
        )
    if user is None or not user.is_active:
        raise NotAllowed("only a director of the lab may switch its pattern rules")
    if not _directs(user, lab_id):
        raise NotAllowed("only a director of the lab may switch its pattern rules")


def measuring_range_record_check(user: Any, *, lab_id: int) -> None:
    """Whether ``user`` (``None``: the operator's command line) may record measuring ranges
    for ``lab_id``. Raises ``NotAllowed``."""
    if user is None or (user.is_active and user.is_superuser):
        return
    if not user.is_active or not _directs(user, lab_id):
        raise NotAllowed("only a director of the lab may record its assays' measuring ranges")


def specimen_setting_change_check(user: Any, *, lab_id: int) -> None:
    """Whether ``user`` (``None``: the operator's command line) may say what ``lab_id``'s
    generic plasma specimen is. Raises ``NotAllowed``."""
    if user is None or (user.is_active and user.is_superuser):
        return
    if not user.is_active or not _directs(user, lab_id):
        raise NotAllowed("only a director of the lab may change its specimen settings")


def lab_settings_scope(user: Any) -> Q:
    """The labs whose settings ``user`` changes in the admin: every lab for a superuser, the
    lab they direct for a director, none otherwise."""
    if user is not None and user.is_active and user.is_superuser:
        return Q()
    return Q(pk=directed_lab_id(user))


def lab_configuration_admin_allowed(user: Any) -> bool:
    """Whether ``user`` sees the lab-configuration admin: an active staff user who is a
    superuser or directs a lab."""
    return bool(user.is_active and user.is_staff) and (
        bool(user.is_superuser) or directed_lab_id(user) is not None
    )


# Critical results ----------------------------------------------------------------------------
# A critical alert (panels.critical) is seen by the panel's ordering clinician — whatever the
# panel's review state: a critical value is told at verification, before release — and by the
# lab's technicians and directors; anyone else gets 404. The ordering clinician acknowledges;
# a technician or director of the lab records a phone read-back. Escalation tells the lab's
# active directors, then the lab's on-call contact.


def critical_alerts_scope(user: Any, prefix: str = "") -> Q:
    """The critical alerts ``user`` may see, as a filter on ``{prefix}panel__lab_id`` and
    ``{prefix}panel__ordering_clinician_id``."""
    staff = staff_for(user)
    if staff is None or not user.is_active:
        return _NOTHING
    lab = Q(**{f"{prefix}panel__lab_id": staff.lab_id})
    if staff.role in LAB_WIDE_READING:
        return lab
    if staff.role == Role.CLINICIAN:
        return lab & Q(**{f"{prefix}panel__ordering_clinician_id": staff.user_id})
    return _NOTHING


def critical_acknowledge_check(user: Any, *, ordering_clinician_id: int) -> None:
    """Whether ``user`` may acknowledge a critical alert: its panel's ordering clinician only.
    Raises ``NotAllowed``."""
    staff = staff_for(user)
    if (
        staff is None
        or not user.is_active
        or staff.role != Role.CLINICIAN
        or user.pk != ordering_clinician_id
    ):
        raise NotAllowed("only the ordering clinician acknowledges a critical result")


def critical_read_back_check(user: Any, *, lab_id: int) -> None:
    """Whether ``user`` may record a phone read-back of a critical result of ``lab_id``: the
    lab's technicians and directors. Raises ``NotAllowed``."""
    staff = staff_for(user)
    if staff is None or not user.is_active or staff.lab_id != lab_id:
        raise NotAllowed("only the lab's technicians and directors record a phone read-back")
    if staff.role not in REVIEWING:
        raise NotAllowed("only the lab's technicians and directors record a phone read-back")


def critical_escalation_directors(*, lab_id: int) -> QuerySet[StaffMember]:
    """The people a critical alert of ``lab_id`` escalates to after its ordering clinician:
    the lab's active directors."""
    return (
        StaffMember.objects.select_related("user")
        .filter(lab_id=lab_id, role=Role.DIRECTOR, user__is_active=True)
        .order_by("user_id")
    )


# Lab screens
# The lab's web screens (worklist, panel page, correction form, reference ranges): technicians
# and directors of the lab work on them; a panel outside the user's ``panels_scope`` is a 404
# as in the API, a panel in scope of someone else (the ordering clinician, the submitting
# interface) a 403 naming why. Reference ranges are read by whoever reads rule sets; only a
# director of the lab changes them (``ruleset_manager_check``, as the API).

LAB_SCREENS = REVIEWING
LAB_SCREENS_REFUSAL = (
    "the lab's screens (worklist, panel page) are for the lab's technicians and directors"
)


def lab_screens_lab_id(user: Any) -> int:
    """The lab whose worklist and panel pages ``user`` works on: an active technician or
    director's. Raises ``NotAllowed`` with the reason for anyone else."""
    staff = _role_in(user, LAB_SCREENS)
    if staff is None or not user.is_active:
        raise NotAllowed(LAB_SCREENS_REFUSAL)
    return staff.lab_id


def worklist_scope(user: Any, prefix: str = "") -> Q:
    """The panels on ``user``'s worklist: their lab's, for technicians and directors."""
    staff = _role_in(user, LAB_SCREENS)
    if staff is None:
        return _NOTHING
    return Q(**{f"{prefix}lab_id": staff.lab_id})


def lab_screen_refusal(user: Any) -> str:
    """Why ``user`` may not use the lab's screens; "" when they may."""
    try:
        lab_screens_lab_id(user)
    except NotAllowed as error:
        return error.message
    return ""


def rulesets_manageable(user: Any) -> bool:
    """Whether ``user`` may draft, edit and publish their own lab's reference ranges."""
    return directed_lab_id(user) is not None


def ruleset_reading_lab(user: Any) -> Lab:
    """The lab whose reference ranges ``user`` browses (with the installation-wide ones), as
    the rule-set API reads them. Raises ``NotAllowed``."""
    refusal = "only the lab's technicians, directors and integrators read its reference ranges"
    return _lab_of_member_in(user, RULESET_READING, refusal)


def navigation_for(user: Any) -> tuple[str, ...]:
    """The screens ``user``'s navigation offers, as URL names, in order."""
    staff = staff_for(user)
    if staff is None or not user.is_active:
        return ()
    if staff.role == Role.CLINICIAN:
        return ("reports:inbox",)
    screens: list[str] = []
    if staff.role in LAB_SCREENS:
        screens += ["worklist:list", "critical:list"]
    if staff.role in IMPORTING:
        screens.append("imports:list")
    if staff.role in RULESET_READING:
        screens.append("reference_ranges:list")
    return tuple(screens)


# --- The inbox's read model (reports.InboxEntry) -------------------------------------------------


def inbox_scope(user: Any, prefix: str = "") -> Q:
    """The inbox entries ``user`` may see, over the columns an entry copies from its panel and
    its newest report (``{prefix}reader_id``: the ordering clinician, ``lab_id``,
    ``submitted_by_id``, ``stage``), so that no join is needed. For a clinician the inbox is a
    work queue: the reports addressed to them (their ``reader_id``: the panels they ordered),
    a subset of what :func:`reports_scope` lets them open (which reaches every panel of a
    patient in their care); for the other roles, what :func:`reports_scope` gives. An entry
    stands for its panel's newest report, and a panel has a non-preliminary report exactly when
    it was released; tests/reports/test_inbox_scope.py checks this for every role."""
    staff = staff_for(user)
    if staff is None:
        return _NOTHING
    lab = Q(**{f"{prefix}lab_id": staff.lab_id})
    if staff.role in LAB_WIDE_READING:
        return lab
    if staff.role == Role.CLINICIAN:
        mine = lab & Q(**{f"{prefix}reader_id": staff.user_id})
        if staff.lab.preliminary_reports_to_clinicians:
            return mine
        return mine & ~Q(**{f"{prefix}stage": REPORT_PRELIMINARY})
    if staff.role == Role.INTEGRATOR:
        return lab & Q(**{f"{prefix}submitted_by_id": staff.user_id})
    return _NOTHING


# --- A patient's history (issue 13) --------------------------------------------------------------
# Who sees a patient's earlier panels: a panel's answer, pages and report show the patient's
# earlier panels (``Panel.serial``: accessions, values, dates, and what is computed from them:
# changes, fold changes from a baseline, the fold-rise finding). The rule: a caller is shown only
# panels they may open (:func:`panel_open`, which is :func:`panels_scope` decided on facts), and,
# on a panel they may open, every earlier panel they may open; the rest are left out, and so is
# everything computed from them (the trend is computed again over the panels shown).
#
# - The lab's technicians and directors: the whole history of the patient in their lab.
# - A clinician, on a panel they may open (so for a patient in their care): the patient's
#   earlier panels in the same lab that are released — whoever ordered or submitted them — and,
#   where the lab sends preliminary reports to clinicians, unreleased ones too. The patient is
#   in their care, so these are exactly the earlier panels they may open. Told how many earlier
#   panels are left out ("not yet released"), never their values.
# - An integrator (a results pipe): only the panels it may open (those it submitted); it is not
#   told that others exist.
# - A report's document (the PDF, drawn once) is written for its audience, the ordering
#   clinician: its history is the clinician's. Its page shows a reader that, less what the
#   reader may not see; its PDF is served only to a reader who may see every earlier panel it
#   may show (an integrator may not, when others' released panels exist; another clinician
#   caring for the patient may: they open the same panels).


K = TypeVar("K")


@dataclass(frozen=True)
class PanelFacts:
    """The plain values of one panel that decide who sees it in a history: its lab, who
    submitted it, who ordered it, its review state (``received``, ``verified``, ``released``),
    and ``patient_orders``: the care fact, the (ordering clinician id, review state) of every
    panel of the same patient in the same lab (this one included; the same set for each panel
    of the patient), from which :func:`panel_open` decides whether the patient is in a
    clinician's care. Empty when not read (the worker's document, drawn for the ordering
    clinician, needs none): a clinician then opens only the panels they ordered, a narrower
    answer than :func:`panels_scope`, never a wider one."""

    lab_id: int
    submitted_by_id: int
    ordering_clinician_id: int | None
    review_state: str
    patient_orders: frozenset[tuple[int | None, str]] = frozenset()


def panel_open(user: Any, panel: PanelFacts) -> bool:
    """Whether ``user`` may open ``panel``: :func:`panels_scope` decided for one panel's facts
    (for a clinician: a panel of their lab in a state they see, of a patient in their care)."""
    staff = staff_for(user)
    if staff is None or staff.lab_id != panel.lab_id:
        return False
    if staff.role in LAB_WIDE_READING:
        return True
    if staff.role == Role.CLINICIAN:
        sends = staff.lab.preliminary_reports_to_clinicians
        if not _clinician_sees_state(panel.review_state, sends_preliminaries=sends):
            return False
        orders = panel.patient_orders | {(panel.ordering_clinician_id, panel.review_state)}
        return any(
            orderer == staff.user_id and _clinician_sees_state(state, sends_preliminaries=sends)
            for orderer, state in orders
        )
    if staff.role == Role.INTEGRATOR:
        return panel.submitted_by_id == staff.user_id
    return False


def _clinician_sees_state(review_state: str, *, sends_preliminaries: bool) -> bool:
    return review_state == PANEL_RELEASED or sends_preliminaries


def history_whole(user: Any, *, lab_id: int) -> bool:
    """Whether ``user`` sees the whole history of a patient of ``lab_id`` (the lab's
    technicians and directors), so that nothing needs to be read to decide it."""
    staff = _role_in(user, LAB_WIDE_READING)
    return staff is not None and staff.lab_id == lab_id


def history_whole_in_scope(user: Any) -> bool:
    """Whether ``user`` sees the whole history of every panel ``panels_scope`` lets them see
    (the lab's technicians and directors: their scope is their lab), so that a read of many
    panels needs nothing to decide what each one's history shows."""
    return _role_in(user, LAB_WIDE_READING) is not None


def history_visible(user: Any, *, current: PanelFacts, earlier: Mapping[K, PanelFacts]) -> set[K]:
    """The keys of the ``earlier`` panels of a patient that ``user`` may be shown beside the
    panel ``current`` (see "A patient's history" above): none unless ``user`` may open
    ``current``; then exactly those ``user`` may open (:func:`panel_open`). So all of the lab's
    for its technicians and directors; the same lab's released ones (any, where the lab sends
    preliminary reports) for a clinician, the patient being in their care; those it submitted
    for an integrator."""
    if not panel_open(user, current):
        return set()
    return {key for key, panel in earlier.items() if panel_open(user, panel)}


def history_visible_to_ordering_clinician(
    *, current: PanelFacts, earlier: Mapping[K, PanelFacts], sends_preliminaries: bool
) -> set[K]:
    """The keys of the ``earlier`` panels the ordering clinician of ``current`` may be shown:
    the same lab's released ones, and unreleased ones too where the lab sends preliminary
    reports to clinicians (``sends_preliminaries``). The history of a report's document (the
    PDF is drawn once, for its audience); once that clinician may open ``current``, it is what
    :func:`history_visible` shows them, and any other clinician caring for the patient."""
    return {
        key
        for key, panel in earlier.items()
        if panel.lab_id == current.lab_id
        and _clinician_sees_state(panel.review_state, sends_preliminaries=sends_preliminaries)
    }


def history_omissions_told(user: Any) -> bool:
    """Whether ``user`` is told how many earlier panels were left out of a history: a
    clinician (a cumulative report says what it leaves out) and the lab's staff, never an
    integrator (a results pipe is not told that other panels exist)."""
    staff = staff_for(user)
    return staff is not None and staff.role != Role.INTEGRATOR


def report_pdf_check(
    user: Any,
    *,
    current: PanelFacts,
    earlier: Mapping[Any, PanelFacts],
    sends_preliminaries: bool,
) -> None:
    """Whether ``user``, who sees a report of the panel ``current``, may download its PDF: it
    is drawn once for the ordering clinician, so it may show the ``earlier`` panels the
    clinician may be shown; ``user`` gets it only if they may be shown every one of those (the
    lab's staff, and the clinicians who may open ``current``, always; an integrator only when it
    submitted them all).
    Raises ``NotAllowed``."""
    audience = history_visible_to_ordering_clinician(
        current=current, earlier=earlier, sends_preliminaries=sends_preliminaries
    )
    if audience - history_visible(user, current=current, earlier=earlier):
        raise NotAllowed(
            "this report's PDF shows earlier results of the patient that these credentials may "
            "not open; the ordering clinician and the lab read it"
        )


# --- The read audit (labpanel.audit) -------------------------------------------------------------


def read_audit_scope(user: Any, prefix: str = "") -> Q:
    """The read-audit entries ``user`` may search: their own lab's for an active director,
    every entry for an active superuser, none otherwise (a filter on ``{prefix}lab_id``)."""
    if user is not None and user.is_authenticated and user.is_active and user.is_superuser:
        return Q()
    lab_id = directed_lab_id(user)
    if lab_id is None:
        return _NOTHING
    return Q(**{f"{prefix}lab_id": lab_id})


def read_audit_search_check(user: Any) -> None:
    """Whether ``user`` may search the read audit over the API: an active lab director (of
    their own lab's entries). Raises ``NotAllowed``."""
    if directed_lab_id(user) is None:
        raise NotAllowed("only a lab's director searches the read audit")


def read_audit_admin_allowed(user: Any) -> bool:
    """Whether ``user`` sees the read audit in the admin (read-only): an active staff user who
    is a superuser or directs a lab."""
    return lab_configuration_admin_allowed(user)


# --- Webhooks (labpanel.webhooks) ----------------------------------------------------------------


def webhooks_lab(user: Any) -> Lab:
    """The lab whose webhook subscriptions and deliveries ``user`` manages: an integrator's or a
    director's own. Raises ``NotAllowed``."""
    refusal = "only a lab's integrators and directors manage its webhooks"
    return _lab_of_member_in(user, WEBHOOK_MANAGING, refusal)


def webhooks_admin_allowed(user: Any) -> bool:
    """Whether ``user`` sees the webhook subscriptions and deliveries in the admin (read-only;
    the rows are their lab's, :func:`admin_rows_scope`): an active staff user who is a
    superuser or directs a lab."""
    return lab_configuration_admin_allowed(user)


def webhooks_scope(user: Any, prefix: str = "") -> Q:
    """The subscriptions and deliveries ``user`` may see: their own lab's for an integrator or
    director, none otherwise (a filter on ``{prefix}lab_id``)."""
    staff = _role_in(user, WEBHOOK_MANAGING)
    if staff is None:
        return _NOTHING
    return Q(**{f"{prefix}lab_id": staff.lab_id})


# --- API token scopes ---------------------------------------------------------------------------

# What a token of each role gets when no scope is named: what the role may use the API for.
TOKEN_SCOPES_BY_ROLE: dict[str, tuple[str, ...]] = {
    Role.TECHNICIAN: (TokenScope.RESULTS_READ, TokenScope.RESULTS_SUBMIT),
    Role.CLINICIAN: (TokenScope.RESULTS_READ,),
    Role.INTEGRATOR: (
        TokenScope.RESULTS_READ,
        TokenScope.RESULTS_SUBMIT,
        TokenScope.WEBHOOKS_RECEIVE,
    ),
    Role.DIRECTOR: tuple(TokenScope.values),
}


def token_scopes_default(user: Any) -> tuple[str, ...]:
    """The scopes a token of ``user`` gets when none are named: their role's; a superuser
    without a lab role, every scope; anyone else none."""
    staff = staff_for(user)
    if staff is not None:
        return tuple(str(scope) for scope in TOKEN_SCOPES_BY_ROLE.get(staff.role, ()))
    return tuple(TokenScope.values) if getattr(user, "is_superuser", False) else ()


def token_scope_refusal(*, token_scopes: frozenset[str] | None, required: str | None) -> str:
    """Why a request may not reach an API view needing the scope ``required`` (``None``: the
    view declares none), made with a token carrying ``token_scopes`` (``None``: not with a
    token, a session): ``""`` when it may. Scopes limit tokens only; the role still decides
    everything else, after this."""
    if token_scopes is None:
        return ""
    if required is None:
        return "this endpoint declares no token scope, so API tokens may not use it"
    if required in token_scopes:
        return ""
    carried = " ".join(sorted(token_scopes)) or "none"
    return f"this token lacks the scope {required} (it carries: {carried})"


def token_options_refusal(*, token_scopes: frozenset[str] | None, declared: frozenset[str]) -> str:
    """Why an ``OPTIONS`` request (the description of an API view, no patient data) may not
    reach a view declaring the scopes ``declared`` (all of its actions'), made with a token
    carrying ``token_scopes`` (``None``: a session): ``""`` when it may. Any one of the view's
    scopes will do: a token that may use the view some way may ask what it takes. What it
    describes of a method (DRF's ``actions``: a POST's input) is shown only to a token with
    that method's own scope (:func:`token_scope_refusal`, asked per method)."""
    if token_scopes is None:
        return ""
    if not declared:
        return "this endpoint declares no token scope, so API tokens may not use it"
    if token_scopes & declared:
        return ""
    carried = " ".join(sorted(token_scopes)) or "none"
    return (
        f"this token lacks any of the scopes {' '.join(sorted(declared))} of this endpoint "
        f"(it carries: {carried})"
    )
