"""Report jobs: request a report for a panel, render it once, mark it failed with a reason.

A report becoming ready, or failing for good, writes its event (``labpanel.events``) in the
transaction that records it.

Rendering never holds a transaction or a row lock: the row is claimed with a conditional
update (on PostgreSQL, the statement that claims it also reads everything the report shows:
``reports.selectors.report_source_sql``), the PDF is drawn and stored outside any
transaction, then a compare-and-set marks it ready. Running the render twice yields one report
(idempotent), which is what makes ``acks_late`` safe for the task.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache, partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from labpanel.accounts import access
from labpanel.events.models import EventKind
from labpanel.events.services import event_record
from labpanel.exceptions import Conflict
from panels.critical import critical_alert_open
from panels.models import Panel, ReviewState
from reports.document_builder import report_document_build
from reports.inbox_entries import inbox_entries_refresh, inbox_entry_of_new_panel
from reports.models import FailureKind, Report, ReportStage, ReportStatus
from reports.rendering import RenderError, render_pdf
from reports.selectors import (
    ReportSource,
    report_source_get,
    report_source_params,
    report_source_parse,
    report_source_sql,
)

logger = logging.getLogger(__name__)

# What publishing a message raises when the broker is down or unreachable (kombu wraps most
# of them in its OperationalError once its publish retries are spent).
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    BrokerOperationalError,
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
)


class ReportStorageUnavailable(Exception):
    """Storing the PDF (or recording it) failed for a reason that may pass: retry."""


def report_request(*, panel: Panel, panel_is_new: bool = False) -> Report:
    """Create the pending report of ``panel`` and enqueue its rendering after commit.

    Must run inside the transaction that stores the panel; returns the existing report when
    the panel already has one (the database's unique constraint makes this race-free).
    ``panel_is_new``: the panel was inserted in this transaction with its result counts, so it
    has no report yet: the report is inserted without looking for one (a report there all the
    same breaks the unique constraint: ``IntegrityError``) and its inbox entry written from the
    rows in hand.
    """
    if panel_is_new:
        report = Report.objects.create(
            panel=panel,
            lab_id=panel.lab_id,
            amends=None,
            stage=ReportStage.PRELIMINARY,
            ruleset_version=panel.ruleset.version,
        )
        inbox_entry_of_new_panel(panel=panel, report=report)
        report_render_enqueue(report_ids=[report.pk])
        return report
    report, created = Report.objects.get_or_create(
        panel=panel,
        amends=None,
        stage=ReportStage.PRELIMINARY,
        defaults={"lab_id": panel.lab_id, "ruleset_version": panel.ruleset.version},
    )
    if created:
        inbox_entries_refresh(panel_ids=[panel.pk])
        report_render_enqueue(report_ids=[report.pk])
    return report


def report_amend_request(
    *,
    panel: Panel,
    amends: Report,
    reason: str,
    corrections: list[dict[str, Any]],
    requested_by: User,
) -> Report:
    """Create the amended report of ``panel`` (it follows ``amends``, which is kept as it was)
    and enqueue its rendering after commit. ``corrections`` lists every changed result, previous
    and corrected, as the amended report prints them; ``reason`` is printed too.

    After release the amended report is CORRECTED (and a ``report.corrected`` event is written,
    for those who tell the clinician); before release it is another PRELIMINARY one.
    Must run inside the transaction that stores the corrections.
    """
    released = panel.review_state == ReviewState.RELEASED
    report = Report.objects.create(
        panel=panel,
        lab_id=panel.lab_id,
        amends=amends,
        stage=ReportStage.CORRECTED if released else ReportStage.PRELIMINARY,
        amendment_reason=reason,
        corrections=corrections,
        requested_by=requested_by,
        ruleset_version=panel.ruleset.version,
    )
    if released:
        event_record(
            kind=EventKind.REPORT_CORRECTED,
            lab_id=panel.lab_id,
            actor_id=requested_by.pk,
            panel_id=panel.pk,
            report_id=report.pk,
            payload={
                "accession": panel.accession,
                "amends_report_id": amends.pk,
                "report_uuid": str(report.uuid),
                "analytes": [change["analyte"] for change in corrections],
            },
            occurred_at=report.created_at,
        )
    inbox_entries_refresh(panel_ids=[panel.pk])
    report_render_enqueue(report_ids=[report.pk])
    if released:
        # reports.notify imports this module: imported here.
        from reports.notify import report_issued_notify

        report_issued_notify(report_id=report.pk)
        # A corrected value that is critical is told like one verified (panels.critical).
        critical_alert_open(
            panel=panel,
            actor=requested_by,
            now=report.created_at,
            analytes=[change["analyte"] for change in corrections],
        )
    return report


def report_render_enqueue(*, report_ids: Sequence[int]) -> None:
    """Send the render message of each report once the current transaction commits (at once
    outside a transaction). The one way a render is enqueued.

    Never raises for the broker: the reports are stored, so a broker that is down must not turn
    the caller's answer into a failure. The reports whose message could not be sent are
    recorded (``dispatch_failed_at``) and logged by id; the next sweep sends them again. After
    the first failure the remaining messages of the batch are not tried (each try would wait
    for the publish retries again) and are recorded the same way.
    """
    ids = list(report_ids)
    if ids:
        transaction.on_commit(partial(_render_messages_send, report_ids=ids))


def _render_messages_send(*, report_ids: list[int]) -> None:
    from reports.tasks import render_report_pdf_task

    for index, report_id in enumerate(report_ids):
        try:
            render_report_pdf_task.delay(report_id)
        except BROKER_ERRORS as error:
            report_dispatch_failed_record(report_ids=report_ids[index:], error=error)
            return


def report_dispatch_failed_record(*, report_ids: Sequence[int], error: BaseException) -> None:
    """Record that the render messages of ``report_ids`` could not be sent, so that the next
    sweep sends them again whatever their age and the queue's depth. Ready reports stay as
    they are. Logs the ids and the error's type (its text may name a host, never a patient)."""
    ids = list(report_ids)
    logger.warning(
        "report.dispatch.failed count=%d report_ids=%s error=%s",
        len(ids),
        ids[:20],
        type(error).__name__,
    )
    try:
        Report.objects.filter(pk__in=ids).exclude(status=ReportStatus.READY).update(
            dispatch_failed_at=timezone.now()
        )
    except DatabaseError:
        # The database went too: the reports are still pending, and the sweep re-sends pending
        # reports after REPORT_REQUEUE_AFTER once the queue is empty.
        logger.error("report.dispatch.record_failed count=%d report_ids=%s", len(ids), ids[:20])


# A failed or stalled report going back to the queue: no failure left, no retry scheduled.
_PENDING_AGAIN: dict[str, Any] = {
    "status": ReportStatus.PENDING,
    "error_message": "",
    "failure_kind": "",
    "next_retry_at": None,
    "dispatch_failed_at": None,
}


def _report_save(report: Report, **changes: Any) -> None:
    """Set ``changes`` on ``report`` and save exactly those columns (and ``updated_at``)."""
    for name, value in changes.items():
        setattr(report, name, value)
    report.save(update_fields=[*changes, "updated_at"])


def reports_stalled_requeue(
    *, waiting: int | None, now: datetime | None = None, limit: int = 500
) -> list[int]:
    """Enqueue the rendering of reports whose message was lost or never sent, and retry the
    transiently failed ones that are due. Run every minute by beat. It takes:

    - pending reports whose message could not be sent (``dispatch_failed_at``), at once;
    - reports rendering for longer than ``REPORT_RENDER_STALE_AFTER`` (the worker died);
    - pending reports untouched for ``REPORT_REQUEUE_AFTER`` while ``waiting`` (the messages in
      the queue) is 0 (a broker restarted without persistence) — with a backlog their message
      may simply not have come up yet;
    - failed reports whose transient failure is due for an automatic retry (``next_retry_at``):
      they become pending again, with one more ``auto_retries``.

    A second message for a report is harmless: only one render claims it. At most ``limit``
    reports of each kind per call, oldest first; each one's ``updated_at`` is set, so the next
    sweep waits again before re-sending a pending one. Returns their ids.
    """
    now = now or timezone.now()
    stalled = Q(status=ReportStatus.PENDING, dispatch_failed_at__isnull=False) | Q(
        status=ReportStatus.RENDERING,
        rendering_started_at__lt=now - settings.REPORT_RENDER_STALE_AFTER,
    )
    if waiting == 0:
        stalled |= Q(
            status=ReportStatus.PENDING, updated_at__lt=now - settings.REPORT_REQUEUE_AFTER
        )
    with transaction.atomic():
        ids = list(
            Report.objects.filter(stalled)
            .order_by("updated_at")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        Report.objects.filter(pk__in=ids).update(updated_at=now, dispatch_failed_at=None)
        due = list(
            Report.objects.filter(
                status=ReportStatus.FAILED,
                failure_kind=FailureKind.TRANSIENT,
                next_retry_at__lte=now,
            )
            .order_by("next_retry_at")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        Report.objects.filter(pk__in=due).update(
            **_PENDING_AGAIN, auto_retries=F("auto_retries") + 1, updated_at=now
        )
        report_render_enqueue(report_ids=[*ids, *due])
    if ids:
        logger.warning("report.requeued count=%d report_ids=%s", len(ids), ids[:20])
    if due:
        logger.warning("report.auto_retried count=%d report_ids=%s", len(due), due[:20])
    return [*ids, *due]


def report_retry(*, report_id: int, user: AbstractBaseUser | AnonymousUser) -> Report:
    """A director's request to render failed report ``report_id`` again: it becomes pending,
    with a fresh budget of automatic retries, and its rendering is enqueued after commit.

    Raises ``NotAllowed`` unless ``user`` is a director of the report's lab (or a superuser,
    through the admin), ``Conflict`` unless the report is failed (a released report never
    changes; one pending or rendering is already on its way).
    """
    with transaction.atomic():
        report = (
            Report.objects.select_for_update(of=("self",)).select_related("panel").get(pk=report_id)
        )
        access.report_retry_check(user, lab_id=report.panel.lab_id)
        if report.status != ReportStatus.FAILED:
            raise Conflict(
                f"report {report.pk} is {report.public_status}; only a failed report can be "
                "retried",
                details=[{"field": "status", "message": report.public_status}],
            )
        _report_save(report, **_PENDING_AGAIN, auto_retries=0)
        report_render_enqueue(report_ids=[report.pk])
    logger.info("report.retry.requested report_id=%s user_id=%s", report.pk, user.pk)
    return report


def _claimable(now: datetime) -> Q:
    """Reports a render may claim: pending, or rendering for longer than a render may take (its
    worker died)."""
    return Q(status=ReportStatus.PENDING) | Q(
        status=ReportStatus.RENDERING,
        rendering_started_at__lt=now - settings.REPORT_RENDER_STALE_AFTER,
    )


def _claim(*, report_id: int, now: datetime) -> bool:
    """Mark report ``report_id`` rendering if it is claimable; False when it is not."""
    claimed = Report.objects.filter(_claimable(now), pk=report_id).update(
        status=ReportStatus.RENDERING,
        attempts=F("attempts") + 1,
        rendering_started_at=now,
        dispatch_failed_at=None,
        updated_at=now,
    )
    return bool(claimed)


@cache
def _claim_and_read_sql() -> str:
    """``_claim``'s update, its row RETURNING into ``report_source_sql``: one statement,
    prepared once per database session by psycopg (server-side binding: ``labpanel.settings``).

    The claim commits without waiting for the WAL to reach the disk (``synchronous_commit``
    off for its own transaction only, as the read audit's entry does): that flush cost each
    report about 4 ms on the development machine, a tenth of its drawing. Only a crash of the
    PostgreSQL server in the following moment (at most three times ``wal_writer_delay``) could
    lose the claim, and losing it is harmless: the report is then as it was before (pending, or
    a stale rendering), the worker's connection is gone, so its task retries and claims again,
    and the sweep re-sends it besides. The report's READY commit keeps its flush: a clinician
    may fetch the PDF the moment it is committed. Inside a caller's transaction (whose commit
    may hold more than the claim) the setting is left as it is (``_claim_params``)."""
    table = Report._meta.db_table
    claim = f"""
WITH claimed AS (
    UPDATE "{table}" SET "status" = %s, "attempts" = "attempts" + 1,
        "rendering_started_at" = %s, "dispatch_failed_at" = NULL, "updated_at" = %s
    FROM (
        SELECT set_config(
            'synchronous_commit', COALESCE(%s, current_setting('synchronous_commit')), true
        )
    ) AS without_flush
    WHERE "id" = %s
        AND ("status" = %s OR ("status" = %s AND "rendering_started_at" < %s))
    RETURNING "{table}".*
)"""  # noqa: S608 - the model's table name
    return claim + report_source_sql(report_rows="claimed")


def _claim_params(*, report_id: int, now: datetime) -> list[Any]:
    """The parameters of ``_claim_and_read_sql``: the claim's commit skips the WAL flush only
    when it is the claim's own (autocommit, as in a worker), never a caller's transaction."""
    without_flush = None if connection.in_atomic_block else "off"
    claim: list[Any] = [ReportStatus.RENDERING, now, now, without_flush, report_id]
    claim += [
        ReportStatus.PENDING,
        ReportStatus.RENDERING,
        now - settings.REPORT_RENDER_STALE_AFTER,
    ]
    return claim + report_source_params(report_id=report_id)


def _claim_and_read(*, report_id: int, now: datetime) -> ReportSource | None:
    """Claim report ``report_id`` (see ``_claimable``) and read what its document shows, as
    claimed; None when it is not claimable. On PostgreSQL in one statement (the claim commits
    with it); elsewhere the claim, then ``report_source_get``'s ORM reads."""
    if connection.vendor != "postgresql":
        if not _claim(report_id=report_id, now=now):
            return None
        return report_source_get(report_id=report_id, one_statement=False)
    with connection.cursor() as cursor:
        cursor.execute(_claim_and_read_sql(), _claim_params(report_id=report_id, now=now))
        row = cursor.fetchone()
    return None if row is None else report_source_parse(row[0])


def _release(*, report_id: int) -> None:
    """Hand a claimed report back so that the task's retry can claim it again."""
    Report.objects.filter(pk=report_id, status=ReportStatus.RENDERING).update(
        status=ReportStatus.PENDING, updated_at=timezone.now()
    )


def report_render(*, report_id: int) -> None:
    """Render and store the PDF of report ``report_id``; a no-op unless it is claimable.

    Raises ``ReportStorageUnavailable`` for transient failures (the task retries), and marks
    the report failed for terminal ones (``RenderError``: bad data or a broken template).
    """
    source = _claim_and_read(report_id=report_id, now=timezone.now())
    if source is None:
        logger.info("report.render.skipped report_id=%s", report_id)
        return
    report = source.report
    logger.info("report.render.start report_id=%s attempt=%s", report.pk, report.attempts)
    document = report_document_build(report=report, reported_at=timezone.now(), source=source)
    try:
        pdf_bytes = render_pdf(document)
    except RenderError as error:
        report_mark_failed(
            report_id=report.pk,
            reason=f"The PDF could not be drawn: {error}",
            kind=FailureKind.PERMANENT,
        )
        return
    checksum = hashlib.sha256(pdf_bytes).hexdigest()
    name = f"reports/{report.uuid}/{checksum}.pdf"
    try:
        if not default_storage.exists(name):
            stored_name = default_storage.save(name, ContentFile(pdf_bytes))
            if stored_name != name:  # pragma: no cover - storage renamed a concurrent write
                name = stored_name
        with transaction.atomic():
            rendered_at = timezone.now()
            finished = Report.objects.filter(pk=report.pk, status=ReportStatus.RENDERING).update(
                status=ReportStatus.READY,
                pdf=name,
                checksum=checksum,
                rendered_at=rendered_at,
                error_message="",
                updated_at=rendered_at,
            )
            if finished:
                _report_event_record(
                    report=report,
                    kind=EventKind.REPORT_READY,
                    occurred_at=rendered_at,
                    payload={"checksum": checksum},
                )
    except (OSError, OperationalError) as error:
        try:
            _release(report_id=report.pk)
        except OperationalError:
            logger.warning("report.release.failed report_id=%s", report.pk)
        raise ReportStorageUnavailable(str(error)) from error
    if finished:
        logger.info("report.render.ready report_id=%s checksum=%s", report.pk, checksum)
    else:
        logger.warning("report.render.superseded report_id=%s", report.pk)


def report_mark_failed(*, report_id: int, reason: str, kind: FailureKind) -> None:
    """Record a failure: status failed with a user-safe reason and its kind. A transient one is
    given a next automatic retry (``REPORT_AUTO_RETRY_BACKOFF`` doubling per retry already
    made, capped at ``REPORT_AUTO_RETRY_BACKOFF_MAX``) until ``REPORT_AUTO_RETRY_LIMIT``
    retries were made; a permanent one never. Ready reports stay as they are."""
    now = timezone.now()
    with transaction.atomic():
        report = (
            Report.objects.select_for_update(of=("self",))
            .select_related("panel")
            .exclude(status=ReportStatus.READY)
            .filter(pk=report_id)
            .first()
        )
        if report is None:
            logger.error("report.render.failed report_id=%s updated=0", report_id)
            return
        next_retry_at = None
        if kind == FailureKind.TRANSIENT and report.auto_retries < settings.REPORT_AUTO_RETRY_LIMIT:
            next_retry_at = now + report_retry_backoff(auto_retries=report.auto_retries)
        _report_save(
            report,
            status=ReportStatus.FAILED,
            error_message=reason,
            failure_kind=kind,
            next_retry_at=next_retry_at,
        )
        if next_retry_at is None:
            # Failed for good (nothing retries it by itself): others are told. A transient
            # failure with an automatic retry ahead is not an event yet.
            _report_event_record(
                report=report,
                kind=EventKind.REPORT_FAILED,
                occurred_at=now,
                payload={"failure_kind": str(kind), "auto_retries": report.auto_retries},
            )
    logger.error(
        "report.render.failed report_id=%s kind=%s auto_retries=%d next_retry_at=%s",
        report_id,
        kind,
        report.auto_retries,
        next_retry_at.isoformat() if next_retry_at else None,
    )


def _report_event_record(
    *, report: Report, kind: EventKind, occurred_at: datetime, payload: dict[str, object]
) -> None:
    """The event of ``report`` (whose panel is loaded) in the caller's transaction."""
    event_record(
        kind=kind,
        lab_id=report.panel.lab_id,
        panel_id=report.panel_id,
        report_id=report.pk,
        payload={
            "accession": report.panel.accession,
            "amends_report_id": report.amends_id,
            "report_uuid": str(report.uuid),
            **payload,
        },
        occurred_at=occurred_at,
    )


def report_retry_backoff(*, auto_retries: int) -> timedelta:
    """The wait before automatic retry number ``auto_retries + 1``: the base, doubled per retry
    already made, capped."""
    backoff: timedelta = settings.REPORT_AUTO_RETRY_BACKOFF * (2**auto_retries)
    return min(backoff, settings.REPORT_AUTO_RETRY_BACKOFF_MAX)
