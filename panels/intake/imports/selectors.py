"""Who sees which import jobs: the technicians and directors of the lab that uploaded them."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from labpanel.accounts import access
from panels.models import ImportJob, ImportProblem


def import_jobs_visible_to(*, user: User | AnonymousUser) -> QuerySet[ImportJob]:
    return ImportJob.objects.filter(access.import_jobs_scope(user)).select_related(
        "created_by", "ruleset"
    )


def import_job_get(*, key: str, user: User | AnonymousUser) -> ImportJob | None:
    try:
        job_uuid = uuid.UUID(key)
    except ValueError:
        return None
    return import_jobs_visible_to(user=user).filter(uuid=job_uuid).first()


def import_problems(*, job: ImportJob) -> QuerySet[ImportProblem]:
    return job.problems.order_by("position")
