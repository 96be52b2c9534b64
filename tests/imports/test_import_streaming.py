"""A long-layout import is staged while its file is read, sample by sample: the same staged
import (panels, problems in the same order) as staging the whole parsed file, and the same
preview. A file whose accessions' rows are apart is read whole, with the same outcome."""

from __future__ import annotations

import io

import pytest
from rest_framework.test import APIClient

from panels.intake.files import parse_file, parse_stream
from panels.intake.imports.staging import stage, stage_stream
from panels.intake.imports.validate import _staging_context, preview_read
from panels.models import ImportStatus, Panel, Patient
from tests.imports.test_import_jobs import HEADER, PATIENT_1, PATIENT_2, upload, validated

pytestmark = pytest.mark.django_db

PATIENT_3 = "I-3,MRN-I1,Doe,Janet,1980-04-02,female,plasma,2026-11-21T08:30:00Z,dr.house"
WITH_PROBLEMS = "\n".join(
    [
        HEADER,
        f"{PATIENT_1},IL-6,12.4,pg/mL",
        f"{PATIENT_1},TNFA,<2.0,pg/mL",
        f"{PATIENT_1},NOT-AN-ANALYTE,2,pg/mL",
        f"{PATIENT_2},IL6,3.1,ng/furlong",
        f"{PATIENT_2},Interleukin-10,abc,pg/mL",
        f"{PATIENT_3},IL6,3.1,pg/mL",  # MRN-I1 again with another given name
        f"{PATIENT_3.replace('I-3', 'I-4').replace('dr.house', 'dr.nobody')},IL6,1,pg/mL",
        f"{PATIENT_3.replace('I-3', 'I-5').replace('1980-04-02', '2990-01-01')},IL6,1,pg/mL",
        "",
    ]
)
GROUPED = "\n".join(
    [HEADER]
    + [
        f"I-{n},MRN-{n % 7},Doe{n % 7},Jane,1980-04-02,female,plasma,"
        f"2026-11-{10 + n % 9}T08:30:00Z,dr.house,{analyte},{value},pg/mL"
        for n in range(40)
        for analyte, value in (("IL-6", f"{n}.5"), ("TNFA", "<2.0"), ("IL10", ">5000"))
    ]
    + [""]
)


@pytest.mark.parametrize("content", [WITH_PROBLEMS, GROUPED], ids=["problems", "grouped"])
def test_staging_the_stream_gives_what_staging_the_parsed_file_gives(
    technician_client: APIClient, content: str
) -> None:
    job = validated(upload(technician_client, content))
    data = content.encode()

    whole = stage(parse_file(io.BytesIO(data)), manifest=None, context=_staging_context(job))
    streamed = stage_stream(parse_stream(io.BytesIO(data)), context=_staging_context(job))

    assert streamed == whole
    assert streamed.panels or streamed.problems


def test_an_import_with_problems_streamed_is_rejected_and_stores_nothing(
    technician_client: APIClient,
) -> None:
    job = validated(upload(technician_client, WITH_PROBLEMS))

    assert job.status == ImportStatus.REJECTED
    codes = list(job.problems.order_by("pk").values_list("row", "column", "code"))
    assert (4, "analyte", "unknown_analyte") in codes
    assert (6, "value", "value_not_number") in codes
    assert Panel.objects.count() == 0
    assert Patient.objects.count() == 0


def test_a_file_whose_accession_rows_are_apart_is_read_whole_with_the_same_preview(
    technician_client: APIClient,
) -> None:
    lines = GROUPED.split("\n")
    apart = "\n".join([lines[0], *lines[2:], lines[1], ""])  # I-0's first row moved last
    grouped_job = validated(upload(technician_client, GROUPED))
    apart_job = validated(upload(technician_client, apart))

    assert grouped_job.status == apart_job.status == ImportStatus.PREVIEW
    grouped = preview_read(job=grouped_job, offset=0, limit=100)
    shown = preview_read(job=apart_job, offset=0, limit=100)
    assert [p["accession"] for p in shown] == [f"I-{n}" for n in range(40)]
    assert [len(p["results"]) for p in shown] == [3] * 40
    for panel in (*grouped, *shown):  # the rows moved up by one, and I-0's IL-6 row is last
        panel.pop("row")
        for result in panel["results"]:
            result.pop("row")
        for finding in panel["findings"]:
            finding.pop("evaluated_at")  # the time of each validation
        panel["results"].sort(key=lambda result: result["analyte"])
    assert [p["results"] for p in shown] == [p["results"] for p in grouped]
    # the panels of I-0's patient (MRN-0) list its trend's results in another order
    assert [p for p in shown if p["patient"]["mrn"] != "MRN-0"] == [
        p for p in grouped if p["patient"]["mrn"] != "MRN-0"
    ]
    assert apart_job.summary["results"] == grouped_job.summary["results"] == 120
