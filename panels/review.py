"""Review of a panel's results: ``received`` → ``verified`` → ``released``, each change recorded.

Every change of ``Panel.review_state`` goes through :func:`review_transition`, which writes the
append-only ``ReviewTransition`` row (from, to, who or the automatic rule, when, why) and the
change's event (``panel.verified``, ``panel.released``, ``panel.verification_withdrawn``) in
the caller's transaction. Who may verify or release is decided by
``labpanel.accounts.access`` with the lab's settings. Releasing makes the FINAL report, so it is
a ``reports`` service (``reports.release.panel_release``) calling :func:`review_transition`.

What makes a panel "all normal" is ``panels.review_rules.review_blockers``: the lab's
auto-verification (on submission and import commit) and bulk verification verify only such
panels.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from labpanel.accounts import access
from labpanel.accounts.models import Lab
from labpanel.events.models import EventKind
from labpanel.events.services import EventData, events_record_bulk
from labpanel.exceptions import Conflict, NotAllowed
from panels.critical import critical_alert_open
from panels.documents import panel_documents_write
from panels.interpretation import MeasuringRanges
from panels.models import (
    Finding,
    FindingStatus,
    Panel,
    Result,
    ReviewState,
    ReviewTransition,
)
from panels.review_rules import panel_review_blockers, review_blockers
from panels.submission import collected_on
from reference_ranges.selectors import measuring_ranges_active

logger = logging.getLogger(__name__)

# The lab rule an automatic verification names (``ReviewTransition.rule``, the event payload).
AUTO_VERIFICATION_RULE = "auto_verification.all_normal"
AUTO_VERIFICATION_REASON = (
    "every result within its reference interval and inside the measuring range; no finding "
    "met; no critical value"
)
AMENDED_BEFORE_RELEASE_RULE = "amendment_before_release"

_EVENT_KINDS = {
    ReviewState.VERIFIED: EventKind.PANEL_VERIFIED,
    ReviewState.RELEASED: EventKind.PANEL_RELEASED,
    ReviewState.RECEIVED: EventKind.PANEL_VERIFICATION_WITHDRAWN,
}
# The transitions that exist (the amendment path takes a verified panel back to received).
_ALLOWED = {
    (ReviewState.RECEIVED, ReviewState.VERIFIED),
    (ReviewState.VERIFIED, ReviewState.RELEASED),
    (ReviewState.VERIFIED, ReviewState.RECEIVED),
}


@dataclass(frozen=True, slots=True)
class BulkVerification:
    """What a bulk verification did: the panels verified, and each other one with why not."""

    verified: list[int]
    refused: list[dict[str, Any]]


def review_transition(
    *,
    panel: Panel,
    to_state: ReviewState,
    actor: User | None,
    now: datetime,
    reason: str = "",
    rule: str = "",
    report_id: int | None = None,
) -> ReviewTransition:
    """Move ``panel`` (locked by the caller, inside its transaction) to ``to_state``: the
    transition row, the panel's state and the event, together. ``actor`` ``None`` is an
    automatic change, which names its ``rule``. Raises ``Conflict`` for a transition from the
    wrong state ("already released")."""
    from_state = review_transition_check(panel=panel, to_state=to_state)
    transition = ReviewTransition.objects.create(
        panel=panel,
        from_state=from_state,
        to_state=to_state,
        actor=actor,
        rule=rule,
        reason=reason,
        report_id=report_id,
        occurred_at=now,
    )
    panel.review_state = to_state
    panel.save(update_fields=["review_state", "updated_at"])
    events_record_bulk(events=[_transition_event(panel, transition)])
    if to_state == ReviewState.VERIFIED:
        # A critical value is told at verification, manual or automatic (panels.critical).
        critical_alert_open(panel=panel, actor=actor, now=now)
    logger.info(
        "panel.review panel_id=%s from=%s to=%s actor_id=%s rule=%s",
        panel.pk,
        from_state,
        to_state,
        None if actor is None else actor.pk,
        rule or "-",
    )
    return transition


def _transition_event(panel: Panel, transition: ReviewTransition) -> EventData:
    """The event of ``transition`` of ``panel`` (ids and states; the reason stays in the row)."""
    to_state = ReviewState(transition.to_state)
    return EventData(
        kind=_EVENT_KINDS[to_state],
        lab_id=panel.lab_id,
        actor_id=transition.actor_id,
        panel_id=panel.pk,
        report_id=transition.report_id,
        payload={
            "accession": panel.accession,
            "from_state": transition.from_state,
            "to_state": transition.to_state,
            "automatic": transition.actor_id is None,
            "rule": transition.rule or None,
            "transition_id": transition.pk,
            "report_id": transition.report_id,
        },
        occurred_at=transition.occurred_at,
    )


def review_transition_check(*, panel: Panel, to_state: ReviewState) -> ReviewState:
    """The state ``panel`` leaves for ``to_state``; raises ``Conflict`` when that transition
    does not exist from where the panel is ("already released", "must be verified")."""
    from_state = ReviewState(panel.review_state)
    if (from_state, to_state) not in _ALLOWED:
        raise _wrong_state(panel, from_state, to_state)
    return from_state


def _wrong_state(panel: Panel, from_state: ReviewState, to_state: ReviewState) -> Conflict:
    if from_state == to_state or from_state == ReviewState.RELEASED:
        message = f"panel {panel.accession} is already {from_state}"
    else:
        message = (
            f"panel {panel.accession} is {from_state}; it must be verified before it is {to_state}"
        )
    return Conflict(message, details=[{"field": "review_state", "message": str(from_state)}])


def panel_verify(*, panel_id: int, user: User, reason: str = "") -> Panel:
    """Verify panel ``panel_id`` as ``user``, with an optional ``reason``.

    Raises ``NotAllowed`` (role, lab setting, self-verification), ``Conflict`` (not
    ``received``: "already verified", "already released"). Side effects: the transition row
    and the ``panel.verified`` event, in one transaction.
    """
    with transaction.atomic():
        panel = Panel.objects.select_for_update().get(pk=panel_id)
        access.verify_check(user, lab_id=panel.lab_id, submitted_by_id=panel.submitted_by_id)
        review_transition(
            panel=panel,
            to_state=ReviewState.VERIFIED,
            actor=user,
            reason=reason.strip(),
            now=timezone.now(),
        )
        panel_documents_write(panel_ids=[panel.pk])
    return panel


def panels_verify_bulk(*, panel_ids: Sequence[int], user: User) -> BulkVerification:
    """Verify those of ``panel_ids`` that are all normal (:func:`review_blockers`) and that
    ``user`` may verify; answer why each other one was not (``not_found`` for a panel the user
    cannot see, then the refusal's code and message, or the blockers). One transaction."""
    wanted = list(dict.fromkeys(panel_ids))
    verified: list[int] = []
    refused: list[dict[str, Any]] = []
    now = timezone.now()
    with transaction.atomic():
        panels = {
            panel.pk: panel
            for panel in Panel.objects.filter(access.panels_scope(user), pk__in=wanted)
            .select_for_update(of=("self",))
            .order_by("pk")
        }
        for panel_id in wanted:
            panel = panels.get(panel_id)
            if panel is None:
                refused.append(_refusal(panel_id, "not_found", "no such panel", []))
                continue
            try:
                access.verify_check(
                    user, lab_id=panel.lab_id, submitted_by_id=panel.submitted_by_id
                )
                review_transition_check(panel=panel, to_state=ReviewState.VERIFIED)
            except (NotAllowed, Conflict) as error:
                refused.append(_refusal(panel_id, error.code, error.message, []))
                continue
            blockers = panel_review_blockers(panel=panel)
            if blockers:
                refused.append(
                    _refusal(
                        panel_id,
                        "not_all_normal",
                        "not every result is within its interval; verify it on its own",
                        [blocker.as_dict() for blocker in blockers],
                    )
                )
                continue
            review_transition(
                panel=panel,
                to_state=ReviewState.VERIFIED,
                actor=user,
                reason="bulk verification: every result within its interval",
                now=now,
            )
            verified.append(panel_id)
        panel_documents_write(panel_ids=verified)
    return BulkVerification(verified=verified, refused=refused)


def _refusal(
    panel_id: int, code: str, message: str, blockers: list[dict[str, str]]
) -> dict[str, Any]:
    return {"id": panel_id, "code": code, "message": message, "blockers": blockers}


def panel_auto_verify(
    *,
    panel: Panel,
    lab: Lab,
    results: Sequence[Result],
    met_findings: Iterable[str],
    ranges: MeasuringRanges,
) -> ReviewTransition | None:
    """On submission, inside its transaction: verify ``panel`` automatically when ``lab``
    has auto-verification on and the panel is all normal. Otherwise nothing is recorded (the
    panel waits for a person)."""
    if not lab.auto_verification_enabled:
        return None
    if review_blockers(results=results, met_findings=met_findings, ranges=ranges):
        return None
    return review_transition(
        panel=panel,
        to_state=ReviewState.VERIFIED,
        actor=None,
        rule=AUTO_VERIFICATION_RULE,
        reason=AUTO_VERIFICATION_REASON,
        now=timezone.now(),
    )


def panels_auto_verify_bulk(*, lab: Lab, panel_ids: Sequence[int]) -> int:
    """The bulk import's :func:`panel_auto_verify`: inside the commit's transaction, verify
    automatically those of the just stored ``panel_ids`` that are all normal, when ``lab`` has
    auto-verification on. A few statements whatever the count; returns how many."""
    if not lab.auto_verification_enabled or not panel_ids:
        return 0
    results: dict[int, list[Result]] = defaultdict(list)
    for result in (
        Result.objects.current()
        .filter(panel_id__in=panel_ids)
        .select_related("analyte")
        .order_by("panel_id", "position")
    ):
        results[result.panel_id].append(result)
    met: dict[int, list[str]] = defaultdict(list)
    for panel_id, name in (
        Finding.objects.current()
        .filter(panel_id__in=panel_ids, status=FindingStatus.MET)
        .values_list("panel_id", "text__name")
    ):
        met[panel_id].append(name)
    ranges: dict[date, MeasuringRanges] = {}
    now = timezone.now()
    verified: list[tuple[Panel, ReviewTransition]] = []
    panels = Panel.objects.filter(pk__in=panel_ids, review_state=ReviewState.RECEIVED).only(
        "pk", "lab_id", "accession", "collected_at", "review_state"
    )
    for panel in panels.order_by("pk"):
        day = collected_on(panel.collected_at)
        if day not in ranges:
            ranges[day] = measuring_ranges_active(lab_id=lab.pk, on=day)
        if review_blockers(
            results=results[panel.pk], met_findings=met[panel.pk], ranges=ranges[day]
        ):
            continue
        verified.append((panel, _automatic_verification(panel, now)))
    # No critical alert to open: a panel with a critical value has a review blocker and is
    # never verified automatically (critical_alert_open runs on every other verification).
    transitions = ReviewTransition.objects.bulk_create([transition for _, transition in verified])
    Panel.objects.filter(pk__in=[panel.pk for panel, _ in verified]).update(
        review_state=ReviewState.VERIFIED, updated_at=now
    )
    events_record_bulk(
        events=[
            _transition_event(panel, transition)
            for (panel, _), transition in zip(verified, transitions, strict=True)
        ]
    )
    logger.info("panel.review.auto_verified_bulk lab_id=%s count=%d", lab.pk, len(verified))
    return len(verified)


def _automatic_verification(panel: Panel, now: datetime) -> ReviewTransition:
    return ReviewTransition(
        panel=panel,
        from_state=ReviewState.RECEIVED,
        to_state=ReviewState.VERIFIED,
        actor=None,
        rule=AUTO_VERIFICATION_RULE,
        reason=AUTO_VERIFICATION_REASON,
        occurred_at=now,
    )


def panel_verification_withdraw(*, panel: Panel, user: User, now: datetime) -> None:
    """Results of a verified, unreleased ``panel`` were amended: it goes back to ``received``
    to be verified again (automatic, naming the amendment). Nothing for other states."""
    if panel.review_state != ReviewState.VERIFIED:
        return
    review_transition(
        panel=panel,
        to_state=ReviewState.RECEIVED,
        actor=user,
        rule=AMENDED_BEFORE_RELEASE_RULE,
        reason="results amended after verification: verify again",
        now=now,
    )
