"""The panels API's read model (issue 14, ``panels.documents``): every panel's stored document,
served with its reports in one statement, answers exactly what the panel built from its records
answers, to every role, with the same read-audit entry; the list serves each panel's summary
the same way, in a number of statements that does not grow with the page."""

from __future__ import annotations

import copy
from io import StringIO
from typing import Any

import orjson
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from labpanel.audit.models import ReadEntry
from panels import documents
from panels.documents import LIST_FIELDS, SUMMARY_FIELDS
from panels.intake import api
from panels.models import Panel, PanelDocument, Patient
from panels.outputs import PanelOutput
from panels.patient_changes import patient_admin_change
from panels.selectors import panel_details
from reference_ranges.models import Analyte
from reports.models import Report
from reports.services import report_render
from tests.conftest import token_client

pytestmark = pytest.mark.django_db

ROLES = ("director", "technician", "clinician", "integrator")
ANALYTES = (
    ("SIL2R", "900"),
    ("IL12P70", "3.1"),
    ("IFNG", "25.0"),
    ("IL4", "<1.5"),
    ("IL5", "1.9"),
    ("IL10", "12.7"),
    ("IL13", "2.2"),
    ("IL1B", "7.4"),
    ("IL6", "148.2"),
    ("IL8", "30.5"),
    ("TNFA", "16.1"),
    ("IL2", "2.0"),
    ("IL17A", ">5000"),
)
AUDITED = ("lab_id", "user_id", "token_id", "channel", "view", "path")


def full_panel(*, accession: str, mrn: str, day: int, is_baseline: bool = False) -> dict[str, Any]:
    """A 13-cytokine panel (low, normal, high and censored results) ordered by dr.house."""
    return {
        "accession": accession,
        "patient": {
            "mrn": mrn,
            "family_name": "Read",
            "given_name": "Model",
            "birth_date": "1970-01-01",
            "sex": "female",
        },
        "specimen": {
            "type": "plasma",
            "collected_at": f"2026-11-{day:02d}T08:30:00Z",
            "is_baseline": is_baseline,
        },
        "ordering_clinician": "dr.house",
        "results": [{"analyte": code, "value": value, "unit": "pg/mL"} for code, value in ANALYTES],
    }


def _post(client: APIClient, path: str, body: dict[str, Any], expected: int) -> dict[str, Any]:
    response = client.post(path, body, format="json")
    assert response.status_code == expected, response.content
    answer: dict[str, Any] = response.json()
    return answer


def _render_reports(panel_id: int) -> None:
    for report in Report.objects.filter(panel_id=panel_id, status="pending"):
        report_render(report_id=report.pk)


@pytest.fixture
def people(
    reference_data: None,
    director: StaffMember,
    technician: StaffMember,
    clinician: StaffMember,
    integrator: StaffMember,
) -> dict[str, StaffMember]:
    return {
        "director": director,
        "technician": technician,
        "clinician": clinician,
        "integrator": integrator,
    }


@pytest.fixture
def clients(people: dict[str, StaffMember]) -> dict[str, APIClient]:
    return {role: token_client(staff) for role, staff in people.items()}


@pytest.fixture
def realistic(clients: dict[str, APIClient]) -> list[int]:
    """Panels of every kind: a 13-result baseline with findings and censored values
    (``<1.5``, ``>5000``) sent by the interface; a later panel of the same patient verified,
    released, its report drawn, then amended; a third only verified; another patient's panel
    released; one just received. Returns their ids."""
    technician, director = clients["technician"], clients["director"]
    ids = []
    first = full_panel(accession="RM-1", mrn="RM-77", day=1, is_baseline=True)
    first["clinical"] = {"temperature_c": "39.6", "splenomegaly": True}
    ids.append(_post(clients["integrator"], "/api/v1/panels/", first, 201)["id"])
    second = _post(
        technician, "/api/v1/panels/", full_panel(accession="RM-2", mrn="RM-77", day=5), 201
    )["id"]
    _post(director, f"/api/v1/panels/{second}/verify/", {}, 200)
    _post(director, f"/api/v1/panels/{second}/release/", {}, 202)
    _render_reports(second)
    _post(
        technician,
        f"/api/v1/panels/{second}/amendments/",
        {
            "reason": "Transcription error",
            "results": [{"analyte": "IL6", "value": "12.5", "unit": "pg/mL"}],
        },
        201,
    )
    ids.append(second)
    third = _post(
        technician, "/api/v1/panels/", full_panel(accession="RM-3", mrn="RM-77", day=9), 201
    )["id"]
    _post(director, f"/api/v1/panels/{third}/verify/", {}, 200)
    ids.append(third)
    other = _post(
        technician, "/api/v1/panels/", full_panel(accession="RM-4", mrn="RM-88", day=3), 201
    )["id"]
    _post(director, f"/api/v1/panels/{other}/verify/", {}, 200)
    _post(director, f"/api/v1/panels/{other}/release/", {}, 202)
    _render_reports(other)
    ids.append(other)
    ids.append(
        _post(technician, "/api/v1/panels/", full_panel(accession="RM-5", mrn="RM-99", day=4), 201)[
            "id"
        ]
    )
    return ids


def _audit_row() -> dict[str, Any]:
    entry = ReadEntry.objects.order_by("-pk").first()
    assert entry is not None
    row = {field: getattr(entry, field) for field in AUDITED}
    row.update(
        patient_ids=sorted(entry.patient_ids),
        panel_ids=sorted(entry.panel_ids),
        report_ids=sorted(entry.report_ids),
    )
    return row


def _get(client: APIClient, path: str) -> tuple[int, Any, dict[str, Any] | None]:
    before = ReadEntry.objects.count()
    response = client.get(path)
    written = ReadEntry.objects.count() - before
    assert written <= 1, f"{path} wrote {written} read-audit entries"  # one per request
    audited = _audit_row() if written else None
    body = response.json() if response.content else None
    return response.status_code, body, audited


def _built(monkeypatch: pytest.MonkeyPatch, client: APIClient, path: str) -> Any:
    """The answer built from the records (the path of the embedded default, and of main)."""
    with monkeypatch.context() as patched:
        patched.setattr(api, "read_model_available", lambda: False)
        return _get(client, path)


def test_every_panel_has_its_document_written_by_its_writers(realistic: list[int]) -> None:
    # then: submission, verification, release, amendment each wrote it as the panel is now
    assert documents.panels_without_documents().filter(pk__in=realistic).count() == 0
    assert PanelDocument.objects.filter(panel_id__in=realistic).count() == len(realistic)


@pytest.mark.parametrize("role", ROLES)
def test_the_stored_read_answers_what_the_records_answer_to_every_role(
    realistic: list[int], clients: dict[str, APIClient], role: str, monkeypatch: Any
) -> None:
    client = clients[role]
    shown = 0
    for pk in realistic:
        path = f"/api/v1/panels/{pk}/"
        stored = _get(client, path)
        built = _built(monkeypatch, client, path)
        # then: the same status, the same JSON, the same read-audit entry
        assert stored == built, (role, pk)
        shown += stored[0] == 200
    assert shown >= 1


def test_the_reads_cover_amended_censored_released_and_findings(
    realistic: list[int], clients: dict[str, APIClient]
) -> None:
    # then: the fixture holds what the comparison above must cover
    answers = [clients["director"].get(f"/api/v1/panels/{pk}/").json() for pk in realistic]
    values = {(r["comparator"], r["value"]) for a in answers for r in a["results"]}
    assert {("<", "1.5"), (">", "5000")} <= values
    assert any(a["superseded_results"] for a in answers)
    assert any(a["findings"] for a in answers)
    assert {a["review_state"] for a in answers} == {"received", "verified", "released"}
    assert any(len(a["reports"]) >= 2 and a["report"]["amends"] for a in answers)
    assert any(a["serial"].get("panels") for a in answers)


@pytest.mark.parametrize("role", ROLES)
def test_the_stored_list_answers_what_the_records_answer_to_every_role(
    realistic: list[int], clients: dict[str, APIClient], role: str, monkeypatch: Any
) -> None:
    client = clients[role]
    for path in ("/api/v1/panels/", "/api/v1/panels/?limit=2&offset=1"):
        stored = _get(client, path)
        built = _built(monkeypatch, client, path)
        # when: no document is stored (panels from before the read model)
        PanelDocument.objects.all().delete()
        missing = _get(client, path)
        call_command("panel_documents_write", "--missing", stdout=StringIO())
        # then
        assert stored == built == missing, (role, path)
        assert all(tuple(item) == LIST_FIELDS for item in stored[1]["results"])


def test_a_summary_is_the_detail_less_history_results_and_findings(
    realistic: list[int], clients: dict[str, APIClient]
) -> None:
    client = clients["technician"]
    listed = {item["id"]: item for item in client.get("/api/v1/panels/").json()["results"]}
    for pk in realistic:
        detail = client.get(f"/api/v1/panels/{pk}/").json()
        assert listed[pk] == {field: detail[field] for field in LIST_FIELDS}
    assert not {"serial", "findings", "results"} & set(SUMMARY_FIELDS)


def test_a_report_drawn_after_the_document_is_shown_as_it_is_now(
    clients: dict[str, APIClient], realistic: list[int]
) -> None:
    pk = realistic[-1]
    report = Report.objects.get(panel_id=pk)
    assert clients["director"].get(f"/api/v1/panels/{pk}/").json()["report"]["status"] == "pending"
    # when: the report is drawn (the panel's document is not written again)
    report_render(report_id=report.pk)
    # then
    assert clients["director"].get(f"/api/v1/panels/{pk}/").json()["report"]["status"] == "ready"


def test_a_change_not_written_to_the_document_is_served_from_the_records(
    clients: dict[str, APIClient], realistic: list[int]
) -> None:
    pk = realistic[0]
    panel = Panel.objects.get(pk=pk)
    # when: the patient row changes without its documents (a writer that does not write them)
    Patient.objects.filter(pk=panel.patient_id).update(
        family_name="Changed", updated_at=timezone.now()
    )
    # then: the document is not current, and not served
    assert clients["director"].get(f"/api/v1/panels/{pk}/").json()["patient"]["family_name"] == (
        "Changed"
    )
    listed = clients["director"].get("/api/v1/panels/").json()["results"]
    assert {item["patient"]["family_name"] for item in listed if item["id"] == pk} == {"Changed"}
    assert documents.panels_without_documents().filter(pk=pk).exists()
    # and: the read answered from the records wrote one entry, of the panel and its reports
    before = ReadEntry.objects.count()
    assert clients["technician"].get(f"/api/v1/panels/{pk}/").status_code == 200
    entry = ReadEntry.objects.latest("pk")
    assert ReadEntry.objects.count() == before + 1
    assert (entry.patient_ids, entry.panel_ids) == ([panel.patient_id], [pk])
    assert entry.report_ids == list(
        Report.objects.filter(panel_id=pk).order_by("-pk").values_list("pk", flat=True)
    )


@pytest.mark.parametrize("role", ROLES)
def test_an_analyte_renamed_in_the_catalogue_is_answered_as_it_is_now(
    realistic: list[int], clients: dict[str, APIClient], role: str, monkeypatch: Any
) -> None:
    """Each result shows its analyte's name; the catalogue is changed by the admin or
    ``seed_reference_data``, which do not write the panels' documents: a document written
    before the change is not served, and the backfill writes it again."""
    assert not documents.panels_without_documents().filter(pk__in=realistic).exists()
    # when: the admin saves a new short name (Analyte.updated_at moves)
    analyte = Analyte.objects.get(code="IL6")
    analyte.short_name = "IL-6 (renamed)"
    analyte.save()
    # then: every answer is the records' (the new name), and the documents are not current
    client = clients[role]
    for path in [f"/api/v1/panels/{pk}/" for pk in realistic] + ["/api/v1/panels/"]:
        assert _get(client, path) == _built(monkeypatch, client, path), path
    body = clients["director"].get(f"/api/v1/panels/{realistic[0]}/").json()
    assert "IL-6 (renamed)" in {result["analyte_name"] for result in body["results"]}
    assert documents.panels_without_documents().filter(pk__in=realistic).count() == len(realistic)
    # when: the backfill runs; then: they are written from the catalogue as it is, and served
    call_command("panel_documents_write", "--missing", stdout=StringIO())
    assert not documents.panels_without_documents().filter(pk__in=realistic).exists()
    for path in [f"/api/v1/panels/{pk}/" for pk in realistic] + ["/api/v1/panels/"]:
        assert _get(client, path) == _built(monkeypatch, client, path), path


def test_a_panel_submitted_names_the_catalogue_its_results_were_resolved_in(
    realistic: list[int],
) -> None:
    latest = Analyte.objects.order_by("-updated_at").values_list("updated_at", flat=True)[0]
    stamps = set(
        PanelDocument.objects.filter(panel_id__in=realistic).values_list(
            "catalogue_updated_at", flat=True
        )
    )
    assert stamps == {latest}


def test_a_patients_change_in_the_admin_writes_the_documents_of_its_panels(
    people: dict[str, StaffMember], clients: dict[str, APIClient], realistic: list[int]
) -> None:
    panel = Panel.objects.get(pk=realistic[0])
    patient = Patient.objects.get(pk=panel.patient_id)
    patient.given_name = "Janet"
    # when
    patient_admin_change(patient=patient, user=people["director"].user)
    # then: every panel of the patient has its document as it is now, and shows the change
    ids = list(Panel.objects.filter(patient=patient).values_list("pk", flat=True))
    assert len(ids) == 3
    assert not documents.panels_without_documents().filter(pk__in=ids).exists()
    assert {
        PanelDocument.objects.get(panel_id=pk).detail["patient"]["given_name"] for pk in ids
    } == {"Janet"}


def test_the_kept_serializer_writes_what_a_new_serializer_per_panel_writes(
    realistic: list[int],
) -> None:
    """``panels.documents`` builds every document with one serializer kept per thread
    (``labpanel.serializer_reuse``): each panel's document is the one a serializer made for
    that panel alone writes, byte for byte, whichever panels it wrote before (forwards, then
    backwards: nothing of one panel stays for the next)."""
    panels = list(panel_details(Panel.objects.filter(pk__in=realistic)).select_related("patient"))
    alone = {
        panel.pk: orjson.dumps(dict(documents.PanelDocumentOutput(panel).data)) for panel in panels
    }
    # when
    forwards = documents.panel_documents_build(panels)
    backwards = documents.panel_documents_build(reversed(panels))
    # then
    assert {pk: orjson.dumps(document) for pk, document in forwards.items()} == alone
    assert {pk: orjson.dumps(document) for pk, document in backwards.items()} == alone
    assert len({document["accession"] for document in forwards.values()}) == len(realistic)


def test_the_documents_upsert_sends_each_document_as_a_parameter_of_its_own(
    realistic: list[int],
) -> None:
    """Not as an array per column (Django's ``UNNEST`` bulk insert on PostgreSQL), which
    psycopg writes as one escaped text literal in Python (``StoredJSONField.get_placeholder``);
    what is stored is the same."""
    before = {
        row.panel_id: row.detail for row in PanelDocument.objects.filter(panel_id__in=realistic)
    }
    # when
    with CaptureQueriesContext(connection) as queries:
        written = documents.panel_documents_write(panel_ids=realistic)
    # then
    assert written == len(realistic)
    upserts = [
        q["sql"] for q in queries if q["sql"].startswith('INSERT INTO "panels_paneldocument"')
    ]
    assert len(upserts) == 1
    assert "UNNEST" not in upserts[0].upper()
    assert {
        row.panel_id: row.detail for row in PanelDocument.objects.filter(panel_id__in=realistic)
    } == before


def test_a_batch_shares_the_analytes_and_rules_and_writes_the_same_documents(
    realistic: list[int],
) -> None:
    """``panel_documents_write(batch=True)`` (an import's documents, the backfill) reads the
    results' analytes and rules once per batch instead of with every result row: the documents
    it stores are byte for byte the ones written panel by panel, amended and censored ones
    included, and its statements do not grow with the batch."""

    def stored() -> dict[int, bytes]:
        rows = PanelDocument.objects.filter(panel_id__in=realistic)
        return {row.panel_id: orjson.dumps(row.detail) for row in rows}

    for panel_id in realistic:
        documents.panel_documents_write(panel_ids=[panel_id])
    one_by_one = stored()
    # when
    with CaptureQueriesContext(connection) as one:
        documents.panel_documents_write(panel_ids=realistic[:1], batch=True)
    with CaptureQueriesContext(connection) as all_of_them:
        documents.panel_documents_write(panel_ids=realistic, batch=True)
    # then
    assert stored() == one_by_one
    assert len(all_of_them) == len(one)
    analyte_reads = [q["sql"] for q in all_of_them if 'FROM "reference_ranges_analyte"' in q["sql"]]
    assert any(
        sql.lstrip().startswith('SELECT "reference_ranges_analyte"') for sql in analyte_reads
    )


def test_the_backfill_writes_the_missing_documents(realistic: list[int]) -> None:
    PanelDocument.objects.filter(panel_id__in=realistic[:2]).delete()
    out = StringIO()
    # when
    call_command("panel_documents_write", "--missing", stdout=out)
    # then
    assert out.getvalue().strip() == "wrote the documents of 2 panel(s)"
    assert not documents.panels_without_documents().exists()


def test_a_read_is_one_statement_after_the_token_and_membership(
    realistic: list[int], clients: dict[str, APIClient], django_assert_num_queries: Any
) -> None:
    client = clients["director"]
    client.get(f"/api/v1/panels/{realistic[0]}/")
    # when / then: the token with its user and membership (ONE statement:
    # labpanel.accounts.token_auth), then the panel's stored document with its reports and
    # the read audit's entry (ONE statement: labpanel.audit.services.one_read_recorded)
    with django_assert_num_queries(2):
        response = client.get(f"/api/v1/panels/{realistic[1]}/")
    assert response.status_code == 200


@pytest.mark.parametrize("limit", [1, 5, 50])
def test_a_list_page_is_the_same_statements_whatever_its_length(
    realistic: list[int],
    clients: dict[str, APIClient],
    django_assert_num_queries: Any,
    limit: int,
) -> None:
    client = clients["technician"]
    # when / then: the token with its user and membership (ONE statement), the count, the
    # page of stored summaries with their reports (ONE statement) and the read audit's entry
    with django_assert_num_queries(4):
        response = client.get(f"/api/v1/panels/?limit={limit}")
    assert len(response.json()["results"]) == min(limit, len(realistic))


def test_the_answers_of_the_writes_read_the_stored_document(
    clients: dict[str, APIClient], panel_payload: dict[str, Any]
) -> None:
    payload = copy.deepcopy(panel_payload)
    created = _post(clients["technician"], "/api/v1/panels/", payload, 201)
    # then: the submission's answer is its document (as a later read answers it)
    assert clients["technician"].get(f"/api/v1/panels/{created['id']}/").json() == created


def test_the_documents_are_kept_as_the_text_written_and_read_back_whole(
    realistic: list[int],
) -> None:
    """PostgreSQL keeps them as ``json`` (the text as written, read as text with no rebuild);
    the ORM reads them back as the documents they are."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'panels_paneldocument' AND column_name IN ('detail', 'summary')"
            )
            assert dict(cursor.fetchall()) == {"detail": "json", "summary": "json"}
    stored = PanelDocument.objects.get(panel_id=realistic[0])
    panel = Panel.objects.get(pk=realistic[0])
    assert stored.detail == documents.panel_documents_build([panel])[panel.pk]
    assert stored.summary == documents.panel_summary(stored.detail)


def _answers_parsed(monkeypatch: pytest.MonkeyPatch, client: APIClient, path: str) -> bytes:
    """The answer's bytes with every stored document parsed and written again (no splice)."""
    with monkeypatch.context() as patched:
        patched.setattr(api, "answer_spliced", lambda stored, reports: None)
        response = client.get(path)
    assert response.status_code == 200
    return bytes(response.content)


def test_the_spliced_answers_are_byte_for_byte_the_parsed_ones(
    realistic: list[int], clients: dict[str, APIClient], monkeypatch: Any
) -> None:
    for role in ROLES:  # (one fixture for the four: it is the test's cost)
        _spliced_as_parsed(realistic, clients[role], role, monkeypatch)


def _spliced_as_parsed(
    realistic: list[int], client: APIClient, role: str, monkeypatch: Any
) -> None:
    paths = ["/api/v1/panels/?limit=10", "/api/v1/panels/?limit=2&offset=1"]
    paths += [f"/api/v1/panels/{pk}/" for pk in realistic]
    spliced: list[str] = []
    splice = documents.answer_spliced

    def spy(stored: str, reports: Any) -> Any:
        answer = splice(stored, reports)
        spliced.extend(() if answer is None else [stored])
        return answer

    shown = expected = 0
    for path in paths:
        with monkeypatch.context() as patched:
            patched.setattr(api, "answer_spliced", spy)
            response = client.get(path)
        if response.status_code == 404:
            continue
        shown += 1
        if path.startswith("/api/v1/panels/?"):
            expected += len(response.json()["results"])
        else:
            expected += role in ("director", "technician")
        # then: the same bytes, in the same order, as the stored text parsed and written again
        assert bytes(response.content) == _answers_parsed(monkeypatch, client, path), (role, path)
    assert shown > 2
    # and the stored text was spliced (every summary; a detail for the lab's staff)
    assert len(spliced) == expected > 0


def test_the_stored_text_is_compact_in_the_documents_order(realistic: list[int]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT detail::text, summary::text FROM panels_paneldocument WHERE panel_id = %s",
            [realistic[1]],
        )
        detail, summary = cursor.fetchone()
    assert detail.startswith('{"id":')
    assert ', "' not in detail[:200]
    assert tuple(orjson.loads(summary)) == SUMMARY_FIELDS
    assert tuple(orjson.loads(detail)) == documents.PanelDocumentOutput.Meta.fields
    # both answers end with the reports, then created_at: where answer_spliced puts them
    assert PanelOutput.Meta.fields[-3:] == ("report", "reports", "created_at")
    assert LIST_FIELDS[-3:] == ("report", "reports", "created_at")


def test_documents_written_before_are_parsed_and_answer_the_same(
    realistic: list[int], clients: dict[str, APIClient]
) -> None:
    from django.db import connection

    client = clients["technician"]
    paths = ["/api/v1/panels/", *(f"/api/v1/panels/{pk}/" for pk in realistic)]
    now = [client.get(path).json() for path in paths]
    # when: the rows are as JSONField wrote them (jsonb's order of keys, spaces after commas)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE panels_paneldocument "
            "SET detail = detail::jsonb::json, summary = summary::jsonb::json"
        )
        cursor.execute("SELECT summary::text FROM panels_paneldocument LIMIT 1")
        assert cursor.fetchone()[0].startswith('{"id": ')
    # then: answered the same (parsed), the list's fields in the answer's order
    before = [client.get(path).json() for path in paths]
    assert before == now
    assert all(tuple(item) == LIST_FIELDS for item in before[0]["results"])


def test_an_indented_or_browsable_answer_parses_the_spliced_documents(
    realistic: list[int], clients: dict[str, APIClient]
) -> None:
    client = clients["director"]
    pk = realistic[1]
    compact = client.get(f"/api/v1/panels/{pk}/").json()
    listed = client.get("/api/v1/panels/").json()
    indented = client.get(f"/api/v1/panels/{pk}/", HTTP_ACCEPT="application/json; indent=2")
    assert indented.content.startswith(b'{\n  "id": ')
    assert indented.json() == compact
    indented_list = client.get("/api/v1/panels/", HTTP_ACCEPT="application/json; indent=2")
    assert indented_list.json() == listed
    page = client.get(f"/api/v1/panels/{pk}/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    assert b"RM-2" in page.content
    # and the answer's data reads as the mapping it stands for (DRF's test client, say)
    response = client.get("/api/v1/panels/")
    assert dict(response.data["results"][0]) == listed["results"][0]


@pytest.mark.parametrize(
    ("stored", "spliced"),
    [
        (
            '{"id":1,"note":"a\\",\\"created_at\\":x","nested":{"created_at":"n"},'
            '"created_at":"2026-12-01T00:00:00Z"}',
            '{"id":1,"note":"a\\",\\"created_at\\":x","nested":{"created_at":"n"},'
            '"report":{"id":9},"reports":[{"id":9}],"created_at":"2026-12-01T00:00:00Z"}',
        ),
        ('{"id": 1, "created_at": "2026-12-01"}', None),  # jsonb's layout: parsed instead
        ('{"accession":"A","created_at":"x"}', None),
        ('{"id":1}', None),
    ],
)
def test_answer_spliced_puts_the_reports_before_the_documents_own_created_at(
    stored: str, spliced: str | None
) -> None:
    answer = documents.answer_spliced(stored, [{"id": 9}])
    assert (None if answer is None else answer.text.decode()) == spliced
    if answer is not None:
        assert orjson.loads(answer.text)["nested"] == {"created_at": "n"}
