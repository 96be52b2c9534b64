"""Import jobs through the API on PostgreSQL: upload → validating → preview → commit.

The Celery tasks are thin adapters; here the services they call run in-process, so that each
step can be asserted (the end-to-end test with a real worker is in tests/e2e).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import F
from rest_framework.test import APIClient

from labpanel.accounts.models import Role
from panels.intake.imports.commit import import_job_commit
from panels.intake.imports.validate import import_job_validate
from panels.models import Finding, ImportedPanel, ImportJob, ImportStatus, Panel, Patient, Result
from reports.models import Report
from tests.conftest import token_client
from tests.factories import make_lab, make_staff

pytestmark = pytest.mark.django_db

HEADER = (
    "accession,mrn,family_name,given_name,birth_date,sex,specimen_type,collected_at,"
    "ordering_clinician,analyte,value,unit"
)
PATIENT_1 = "I-1,MRN-I1,Doe,Jane,1980-04-02,female,plasma,2026-11-20T08:30:00Z,dr.house"
PATIENT_2 = "I-2,MRN-I2,Roe,Rick,1975-01-31,male,serum,2026-11-20T09:00:00Z,dr.house"
LONG_CSV = "\n".join(
    [
        HEADER,
        f"{PATIENT_1},IL-6,12.4,pg/mL",
        f"{PATIENT_1},TNFA,<2.0,pg/mL",
        f"{PATIENT_1},IFN-γ,>5000,pg/mL",
        f"{PATIENT_2},IL6,3.1,pg/mL",
        f"{PATIENT_2},Interleukin-10,2.8,pg/mL",
        "",
    ]
)


def upload(client: APIClient, content: str | bytes, name: str = "run.csv", **extra: Any) -> Any:
    data = content.encode() if isinstance(content, str) else content
    return client.post(
        "/api/v1/imports/",
        {"file": SimpleUploadedFile(name, data, content_type="text/csv"), **extra},
        format="multipart",
    )


def validated(response: Any) -> ImportJob:
    assert response.status_code == 202, response.json()
    job = ImportJob.objects.get(uuid=response.json()["id"])
    import_job_validate(job_id=job.pk)
    job.refresh_from_db()
    return job


def test_a_long_csv_is_previewed_with_every_interpretation_and_nothing_stored(
    technician_client: APIClient,
) -> None:
    job = validated(upload(technician_client, LONG_CSV))

    assert job.status == ImportStatus.PREVIEW, list(job.problems.values("row", "message"))
    assert job.format == "labpanel_long"
    assert job.summary["panels_new"] == 2
    assert job.summary["patients_new"] == 2
    assert job.summary["results"] == 5
    assert Panel.objects.count() == 0
    assert Patient.objects.count() == 0

    body = technician_client.get(f"/api/v1/imports/{job.uuid}/preview/").json()
    assert body["count"] == 2
    first = body["panels"][0]
    assert first["accession"] == "I-1"
    assert first["patient"]["status"] == "new"
    by_analyte = {result["analyte"]: result for result in first["results"]}
    assert by_analyte["IL6"]["value"] == "12.4"
    assert by_analyte["IL6"]["interpretation"] == "H"
    assert by_analyte["IL6"]["row"] == 2
    assert by_analyte["TNFA"]["value"] == "<2.0"
    assert by_analyte["IFNG"]["value"] == ">5000"
    assert by_analyte["IFNG"]["raw_value"] == ">5000"


def test_commit_stores_everything_as_previewed_in_one_go(technician_client: APIClient) -> None:
    job = validated(upload(technician_client, LONG_CSV))

    response = technician_client.post(f"/api/v1/imports/{job.uuid}/commit/")
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "committing"
    import_job_commit(job_id=job.pk)
    job.refresh_from_db()

    assert job.status == ImportStatus.COMMITTED, job.status_message
    assert Panel.objects.count() == 2
    assert Result.objects.count() == 5
    assert Report.objects.filter(status="pending").count() == 2
    assert ImportedPanel.objects.filter(job=job).count() == 2
    assert Finding.objects.filter(panel__accession="I-1").exists()
    tnf = Result.objects.get(panel__accession="I-1", analyte__code="TNFA")
    assert (tnf.comparator, tnf.value_text, tnf.raw_value) == ("<", "<2.0", "<2.0")
    panel = technician_client.get(f"/api/v1/panels/{Panel.objects.get(accession='I-1').pk}/")
    assert panel.status_code == 200
    assert panel.json()["summary"]["by_family"]


def test_an_imported_panel_is_stored_exactly_as_the_same_panel_sent_as_json(
    technician_client: APIClient,
) -> None:
    job = validated(upload(technician_client, LONG_CSV))
    technician_client.post(f"/api/v1/imports/{job.uuid}/commit/")
    import_job_commit(job_id=job.pk)
    imported = Panel.objects.get(accession="I-1")
    payload = {
        "accession": "J-1",
        "patient": {
            "mrn": "MRN-J1",
            "family_name": "Doe",
            "given_name": "Jane",
            "birth_date": "1980-04-02",
            "sex": "female",
        },
        "specimen": {"type": "plasma", "collected_at": "2026-11-20T08:30:00Z"},
        "ordering_clinician": "dr.house",
        "results": [
            {"analyte": "IL-6", "value": "12.4", "unit": "pg/mL"},
            {"analyte": "TNFA", "value": "<2.0", "unit": "pg/mL"},
            {"analyte": "IFN-γ", "value": ">5000", "unit": "pg/mL"},
        ],
    }
    assert technician_client.post("/api/v1/panels/", payload, format="json").status_code == 201
    posted = Panel.objects.get(accession="J-1")

    def results(panel: Panel) -> list[tuple[Any, ...]]:
        return list(
            panel.results.order_by("position").values_list(
                "analyte__code",
                "raw_value",
                "comparator",
                "value",
                "value_scale",
                "unit",
                "interpretation",
                "interpretation_reason",
                "reference_text",
                "rule_id",
                "ruleset_version",
            )
        )

    def findings(panel: Panel) -> list[tuple[Any, ...]]:
        return list(
            panel.findings.order_by("position").values_list(
                "rule_id", "rule_version", "status", "text__statement", "evidence", "missing_inputs"
            )
        )

    assert results(imported) == results(posted)
    assert findings(imported) == findings(posted)
    assert imported.summary == posted.summary
    assert imported.ruleset_id == posted.ruleset_id


def test_every_problem_is_named_by_row_and_column_and_nothing_is_stored(
    technician_client: APIClient,
) -> None:
    content = "\n".join(
        [
            HEADER,
            f"{PATIENT_1},IL-6,12.4,pg/mL",
            f"{PATIENT_1},IL-99,1.0,pg/mL",
            f"{PATIENT_1},TNFA,1.0,mg/L",
            "I-3,MRN-I3,Poe,Ed,1980-13-40,female,plasma,2026-11-20T08:30:00Z,dr.house,IL-6,1,pg/mL",
            "I-4,MRN-I4,Poe,Al,1980-01-01,female,plasma,2026-11-20T08:30:00Z,dr.nobody,IL-6,1,pg/mL",
            "",
        ]
    )
    job = validated(upload(technician_client, content))

    assert job.status == ImportStatus.REJECTED
    problems = technician_client.get(f"/api/v1/imports/{job.uuid}/").json()["problems"]
    located = {(p["row"], p["column"], p["code"]) for p in problems if p["severity"] == "error"}
    assert (3, "analyte", "unknown_analyte") in located
    assert (4, "unit", "unit_not_allowed") in located
    assert (5, "birth_date", "invalid_field") in located
    assert (6, "ordering_clinician", "unknown_clinician") in located
    assert Panel.objects.count() == 0
    assert Patient.objects.count() == 0
    commit = technician_client.post(f"/api/v1/imports/{job.uuid}/commit/")
    assert commit.status_code == 409


def test_the_same_file_twice_is_refused_with_a_pointer_to_the_first_job(
    technician_client: APIClient,
) -> None:
    first = upload(technician_client, LONG_CSV)
    assert first.status_code == 202

    again = upload(technician_client, LONG_CSV, name="renamed.csv")

    assert again.status_code == 409
    assert first.json()["id"] in again.json()["message"]
    abandoned = technician_client.post(f"/api/v1/imports/{first.json()['id']}/abandon/")
    assert abandoned.status_code == 200
    assert abandoned.json()["status"] == "abandoned"
    assert upload(technician_client, LONG_CSV).status_code == 202


def test_a_zero_byte_file_is_refused_and_nothing_is_kept(technician_client: APIClient) -> None:
    response = upload(technician_client, b"")

    assert response.status_code == 400
    assert response.json()["details"] == [
        {"field": "file", "message": "the file is empty (0 bytes)"}
    ]
    assert ImportJob.objects.count() == 0


def test_the_archived_file_is_returned_byte_for_byte(technician_client: APIClient) -> None:
    raw = ("\ufeff" + LONG_CSV.replace("12.4", "=cmd|' /C calc'!A0")).encode()
    job = validated(upload(technician_client, raw))

    response = technician_client.get(f"/api/v1/imports/{job.uuid}/file/")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == raw  # type: ignore[attr-defined]
    assert response["Content-Type"] == "application/octet-stream"
    assert job.status == ImportStatus.REJECTED  # a formula is not a value
    codes = set(job.problems.values_list("code", flat=True))
    assert {"formula_in_cell", "value_not_number"} <= codes


def test_a_commit_that_would_differ_from_the_preview_stores_nothing(
    technician_client: APIClient,
) -> None:
    job = validated(upload(technician_client, LONG_CSV))
    technician_client.post(f"/api/v1/imports/{job.uuid}/commit/")
    # meanwhile the accession is used by a different panel sent as JSON
    payload = {
        "accession": "I-2",
        "patient": {
            "mrn": "MRN-OTHER",
            "family_name": "X",
            "given_name": "Y",
            "birth_date": None,
            "sex": "unknown",
        },
        "specimen": {"type": "serum", "collected_at": "2026-11-20T09:00:00Z"},
        "ordering_clinician": "dr.house",
        "results": [{"analyte": "IL-6", "value": "1.0", "unit": "pg/mL"}],
    }
    assert technician_client.post("/api/v1/panels/", payload, format="json").status_code == 201

    import_job_commit(job_id=job.pk)
    job.refresh_from_db()

    assert job.status == ImportStatus.REJECTED
    assert Panel.objects.count() == 1
    assert not Patient.objects.filter(mrn__in=["MRN-I1", "MRN-I2"]).exists()
    assert job.problems.filter(code="changed_since_preview").exists()


def test_a_crash_during_commit_rolls_everything_back(
    technician_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = validated(upload(technician_client, LONG_CSV))
    technician_client.post(f"/api/v1/imports/{job.uuid}/commit/")
    from labpanel.bulk import rows_insert as original

    def failing(model: Any, columns: Any, rows: Any) -> int:
        if model is Finding:
            raise RuntimeError("disk full")
        return original(model, columns, rows)

    monkeypatch.setattr("panels.intake.imports.store.rows_insert", failing)

    with pytest.raises(RuntimeError):
        import_job_commit(job_id=job.pk)

    assert Panel.objects.count() == 0
    assert Result.objects.count() == 0
    assert Patient.objects.count() == 0


def test_known_patients_are_matched_and_their_trend_continues(
    technician_client: APIClient,
) -> None:
    earlier = {
        "accession": "E-1",
        "patient": {
            "mrn": "MRN-I1",
            "family_name": "Doe",
            "given_name": "Jane",
            "birth_date": "1980-04-02",
            "sex": "female",
        },
        "specimen": {"type": "plasma", "collected_at": "2026-11-18T08:30:00Z"},
        "ordering_clinician": "dr.house",
        "results": [{"analyte": "IL-6", "value": "3.0", "unit": "pg/mL"}],
    }
    assert technician_client.post("/api/v1/panels/", earlier, format="json").status_code == 201
    job = validated(upload(technician_client, LONG_CSV))
    assert job.summary["patients_matched"] == 1
    technician_client.post(f"/api/v1/imports/{job.uuid}/commit/")
    import_job_commit(job_id=job.pk)

    panel = Panel.objects.get(accession="I-1")
    il6 = next(t for t in panel.serial["analytes"] if t["analyte"] == "IL6")
    assert [p["accession"] for p in il6["points"]] == ["E-1", "I-1"]
    assert Patient.objects.filter(mrn="MRN-I1").count() == 1


def test_only_technicians_and_directors_of_the_lab_see_or_upload_imports(
    reference_data: None, technician_client: APIClient, clinician: Any
) -> None:
    response = upload(technician_client, LONG_CSV)
    other_lab = make_lab(name="Other")
    outsider = token_client(make_staff(username="other.tech", lab=other_lab, role=Role.TECHNICIAN))

    assert (
        token_client(clinician)
        .post(
            "/api/v1/imports/",
            {"file": SimpleUploadedFile("x.csv", b"x")},
            format="multipart",
        )
        .status_code
        == 403
    )
    assert outsider.get(f"/api/v1/imports/{response.json()['id']}/").status_code == 404
    assert outsider.get("/api/v1/imports/").json()["results"] == []


def test_a_job_abandoned_while_committing_stores_nothing(technician_client: APIClient) -> None:
    job = validated(upload(technician_client, LONG_CSV))
    technician_client.post(f"/api/v1/imports/{job.uuid}/commit/")

    abandoned = technician_client.post(f"/api/v1/imports/{job.uuid}/abandon/")
    import_job_commit(job_id=job.pk)  # the worker picks the task up afterwards

    assert abandoned.status_code == 200
    job.refresh_from_db()
    assert job.status == ImportStatus.ABANDONED
    assert Panel.objects.count() == 0
    again = technician_client.post(f"/api/v1/imports/{job.uuid}/abandon/")
    assert again.status_code == 409


def test_a_commit_in_chunks_creates_each_new_patient_once(
    technician_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    later = PATIENT_1.replace("I-1,", "I-5,").replace("08:30:00Z", "20:30:00Z")
    content = "\n".join(
        [
            HEADER,
            f"{PATIENT_1},IL-6,12.4,pg/mL",
            f"{later},IL-6,30.0,pg/mL",
            f"{PATIENT_2},IL-6,3.1,pg/mL",
            "",
        ]
    )
    job = validated(upload(technician_client, content))
    technician_client.post(f"/api/v1/imports/{job.uuid}/commit/")
    monkeypatch.setattr("panels.intake.imports.store.CHUNK_PANELS", 1)

    import_job_commit(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == ImportStatus.COMMITTED, job.status_message
    assert Patient.objects.count() == 2
    assert job.summary["stored"]["patients_created"] == 2
    trend = Panel.objects.get(accession="I-5").serial["analytes"][0]
    assert [point["accession"] for point in trend["points"]] == ["I-1", "I-5"]


def test_what_the_preview_shows_is_what_the_commit_stores(technician_client: APIClient) -> None:
    # a backslash, quotes, non-ASCII letters and a comparator travel through the staged rows
    awkward = PATIENT_1.replace("Doe,Jane", '"O\'Brien\\Ný",Zoë')
    content = "\n".join([HEADER, f"{awkward},IL-6,12.40,pg/mL", f"{awkward},TNFA,≤2.0,pg/mL", ""])
    job = validated(upload(technician_client, content))
    assert job.status == ImportStatus.PREVIEW, list(job.problems.values("row", "message"))
    shown = technician_client.get(f"/api/v1/imports/{job.uuid}/preview/").json()["panels"][0]

    technician_client.post(f"/api/v1/imports/{job.uuid}/commit/")
    import_job_commit(job_id=job.pk)

    panel = Panel.objects.select_related("patient").get(accession="I-1")
    assert (panel.patient.family_name, panel.patient.given_name) == ("O'Brien\\Ný", "Zoë")
    assert shown["patient"]["family_name"] == panel.patient.family_name
    assert shown["specimen"]["collected_at"] == panel.collected_at.isoformat()
    assert shown["summary"] == panel.summary
    assert shown["serial"] == panel.serial
    stored = [
        {
            "analyte": result.analyte.code,
            "analyte_as_received": result.analyte_as_received,
            "raw_value": result.raw_value,
            "value": result.value_text,
            "unit": result.unit,
            "interpretation": result.interpretation or None,
            "reference_interval": result.reference_text or None,
            "reason": result.interpretation_reason,
            "rule": result.rule.key if result.rule else None,
        }
        for result in panel.results.order_by("position").select_related("analyte", "rule")
    ]
    assert [{key: r[key] for key in stored[0]} for r in shown["results"]] == stored
    assert [r["value"] for r in shown["results"]] == ["12.40", "<=2.0"]
    findings = list(
        panel.findings.order_by("position").values(
            "rule_id", "evidence", statement=F("text__statement")
        )
    )
    assert findings
    assert [
        {key: f[key] for key in ("rule_id", "statement", "evidence")} for f in shown["findings"]
    ] == findings
