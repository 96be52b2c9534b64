"""The read audit: one append-only entry per request that returned patient data, with who
(user, token), what (the ids returned), from where (address, user agent, channel); searched by
a director of the lab over the API and in the admin; an admin change of a patient is an event
with its old and new values."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client, RequestFactory, override_settings
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from labpanel.accounts.models import Role, StaffMember
from labpanel.audit.models import AuditAppendOnlyError, Channel, ReadEntry
from labpanel.audit.services import client_address, read_record
from labpanel.events.models import Event, EventKind
from panels.models import Panel, Patient
from tests.conftest import token_client
from tests.factories import make_lab, make_staff

pytestmark = pytest.mark.django_db


def submitted(client: APIClient, payload: dict[str, Any], accession: str, mrn: str = "") -> Panel:
    body = copy.deepcopy(payload)
    body["accession"] = accession
    if mrn:
        body["patient"]["mrn"] = mrn
    response = client.post("/api/v1/panels/", body, format="json")
    assert response.status_code == 201, response.json()
    return Panel.objects.get(pk=response.json()["id"])


def browser(staff: StaffMember) -> Client:
    client = Client()
    client.force_login(staff.user)
    return client


@pytest.fixture
def entry(technician: StaffMember) -> ReadEntry:
    return ReadEntry.objects.create(
        lab_id=technician.lab_id,
        user_id=technician.user_id,
        channel=Channel.SESSION,
        view="reports:detail",
        path="/reports/1/",
        patient_ids=[1],
    )


# --- What an entry holds --------------------------------------------------------------------------


def test_a_panel_read_with_a_token_records_user_token_ids_address_and_agent(
    technician_client: APIClient, technician: StaffMember, panel_payload: dict[str, Any]
) -> None:
    # given
    panel = submitted(technician_client, panel_payload, "A-1")
    report_id = panel.reports.get().pk
    before = ReadEntry.objects.count()

    # when
    response = technician_client.get(
        f"/api/v1/panels/{panel.pk}/", HTTP_USER_AGENT="curl/8.5", REMOTE_ADDR="10.1.2.3"
    )

    # then: exactly one entry for the request
    assert response.status_code == 200
    assert ReadEntry.objects.count() == before + 1
    entry = ReadEntry.objects.order_by("-id").first()
    assert entry is not None
    token = AuthToken.objects.get(user=technician.user)
    assert (entry.user_id, entry.token_id, entry.channel) == (
        technician.user_id,
        token.digest,
        Channel.TOKEN,
    )
    assert (entry.view, entry.path, entry.ip, entry.user_agent) == (
        "api:panel-detail",
        f"/api/v1/panels/{panel.pk}/",
        "10.1.2.3",
        "curl/8.5",
    )
    assert (entry.patient_ids, entry.panel_ids, entry.report_ids) == (
        [panel.patient_id],
        [panel.pk],
        [report_id],
    )
    assert entry.lab_id == technician.lab_id


def test_a_list_is_one_entry_with_the_ids_of_the_page_returned(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    # given: three panels of two patients
    first = submitted(technician_client, panel_payload, "A-1")
    second = submitted(technician_client, panel_payload, "A-2", mrn="MRN-2")
    third = submitted(technician_client, panel_payload, "A-3")
    before = ReadEntry.objects.count()

    # when: a page of two (newest first)
    response = technician_client.get("/api/v1/panels/?limit=2")

    # then
    assert [panel["id"] for panel in response.json()["results"]] == [third.pk, second.pk]
    assert ReadEntry.objects.count() == before + 1
    entry = ReadEntry.objects.order_by("-id")[0]
    assert entry.panel_ids == [third.pk, second.pk]
    assert entry.patient_ids == [third.patient_id, second.patient_id]
    assert first.pk not in entry.panel_ids


def test_a_report_pdf_download_by_session_is_recorded_as_session(
    technician_client: APIClient, technician: StaffMember, panel_payload: dict[str, Any]
) -> None:
    panel = submitted(technician_client, panel_payload, "A-1")
    report = panel.reports.get()

    response = browser(technician).get(f"/api/v1/reports/{report.pk}/")

    assert response.status_code == 200
    entry = ReadEntry.objects.order_by("-id")[0]
    assert (entry.channel, entry.token_id, entry.view) == (Channel.SESSION, "", "api:report-detail")
    assert (entry.patient_ids, entry.panel_ids, entry.report_ids) == (
        [panel.patient_id],
        [panel.pk],
        [report.pk],
    )


def test_a_refused_read_records_nothing(
    technician_client: APIClient, panel_payload: dict[str, Any], clinician: StaffMember
) -> None:
    # given: a received panel, which the ordering clinician does not see before release
    panel = submitted(technician_client, panel_payload, "A-1")
    before = ReadEntry.objects.count()

    response = token_client(clinician).get(f"/api/v1/panels/{panel.pk}/")

    assert response.status_code == 404
    assert ReadEntry.objects.count() == before


# --- Where from -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("_case", "hops", "forwarded", "remote", "expected"),
    [
        ("no proxy trusted: the header is ignored", 0, "6.6.6.6", "10.0.0.9", "10.0.0.9"),
        ("one proxy: the address it saw", 1, "6.6.6.6, 203.0.113.7", "10.0.0.1", "203.0.113.7"),
        ("two proxies", 2, "6.6.6.6, 203.0.113.7, 10.0.0.2", "10.0.0.1", "203.0.113.7"),
        ("fewer entries than proxies", 2, "203.0.113.7", "10.0.0.1", "10.0.0.1"),
        ("not an address", 1, "unknown", "10.0.0.1", None),
        ("IPv6", 0, "", "2001:db8::1", "2001:db8::1"),
    ],
)  # fmt: skip
def test_the_client_address_honours_the_trusted_proxy_setting(
    _case: str, hops: int, forwarded: str, remote: str, expected: str | None
) -> None:
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR=remote)
    with override_settings(LABPANEL_AUDIT_PROXY_HOPS=hops):
        assert client_address(request) == expected


# --- Append-only ----------------------------------------------------------------------------------


def test_the_orm_refuses_to_change_or_delete_an_entry(entry: ReadEntry) -> None:
    entry.view = "rewritten"
    with pytest.raises(AuditAppendOnlyError):
        entry.save()
    with pytest.raises(AuditAppendOnlyError):
        entry.delete()
    with pytest.raises(AuditAppendOnlyError):
        ReadEntry.objects.filter(pk=entry.pk).update(view="rewritten")
    with pytest.raises(AuditAppendOnlyError):
        ReadEntry.objects.filter(pk=entry.pk).delete()
    assert ReadEntry.objects.get(pk=entry.pk).view == "reports:detail"


@pytest.mark.parametrize(
    ("_case", "sql"),
    [
        ("update", "UPDATE audit_readentry SET user_id = 999 WHERE id = %s"),
        ("delete", "DELETE FROM audit_readentry WHERE id = %s"),
    ],
)  # fmt: skip
def test_postgresql_refuses_raw_sql_that_changes_or_deletes_an_entry(
    entry: ReadEntry, _case: str, sql: str
) -> None:
    assert connection.vendor == "postgresql"

    def raw() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [entry.pk])

    with pytest.raises(IntegrityError, match="audit_readentry is append-only"):
        raw()
    assert ReadEntry.objects.get(pk=entry.pk).user_id == entry.user_id


def test_an_entry_is_stored_in_the_request_transaction_and_never_after_the_answer(
    technician: StaffMember,
) -> None:
    """A read inside a transaction that rolls back leaves no entry, and one in autocommit is
    there as soon as ``read_record`` returns (no thread writes it later)."""
    request = RequestFactory().get("/reports/1/")
    request.user = technician.user
    before = ReadEntry.objects.count()

    def failed_request() -> None:
        with transaction.atomic():
            read_record(request=request, patient_ids=[1])
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        failed_request()
    assert ReadEntry.objects.count() == before

    stored = read_record(request=request, patient_ids=[1])
    assert ReadEntry.objects.filter(pk=stored.pk).exists()


# --- Searching: the API ---------------------------------------------------------------------------


@pytest.fixture
def two_labs_read(
    technician_client: APIClient,
    technician: StaffMember,
    director: StaffMember,
    panel_payload: dict[str, Any],
) -> dict[str, Any]:
    """Reads in two labs: the technician reads two patients' panels; lab B's technician reads
    lab B's panel."""
    jane = submitted(technician_client, panel_payload, "A-1")
    john = submitted(technician_client, panel_payload, "A-2", mrn="MRN-2")
    other_lab = make_lab(name="Lab B")
    other_tech = make_staff(username="tech.b", lab=other_lab, role=Role.TECHNICIAN)
    make_staff(username="dr.b", lab=other_lab, role=Role.CLINICIAN)
    other_client = token_client(other_tech)
    body = copy.deepcopy(panel_payload)
    body.update(accession="B-1", ordering_clinician="dr.b")
    body["patient"]["mrn"] = "MRN-B"
    response = other_client.post("/api/v1/panels/", body, format="json")
    assert response.status_code == 201, response.json()
    other = Panel.objects.get(pk=response.json()["id"])
    start = ReadEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    assert technician_client.get(f"/api/v1/panels/{jane.pk}/").status_code == 200
    assert technician_client.get(f"/api/v1/panels/{john.pk}/").status_code == 200
    assert other_client.get(f"/api/v1/panels/{other.pk}/").status_code == 200
    return {"jane": jane, "john": john, "other": other, "start": start, "other_tech": other_tech}


def test_a_director_searches_their_lab_by_patient_user_and_date(
    director: StaffMember, technician: StaffMember, two_labs_read: dict[str, Any]
) -> None:
    client = token_client(director)
    jane = two_labs_read["jane"]

    by_patient = client.get(f"/api/v1/audit/reads/?patient={jane.patient_id}")

    assert by_patient.status_code == 200
    found = by_patient.json()["results"]
    assert found, "the reads of Jane's panel"
    assert all(jane.patient_id in entry["patient_ids"] for entry in found)
    assert {entry["lab_id"] for entry in found} == {director.lab_id}
    assert any(entry["path"] == f"/api/v1/panels/{jane.pk}/" for entry in found)

    by_user = client.get(f"/api/v1/audit/reads/?user={technician.user_id}").json()["results"]
    assert {entry["user_id"] for entry in by_user} == {technician.user_id}

    # lab B's reads are not the director's to search
    other_user = two_labs_read["other_tech"].user_id
    assert client.get(f"/api/v1/audit/reads/?user={other_user}").json()["results"] == []
    other_patient = two_labs_read["other"].patient_id
    assert client.get(f"/api/v1/audit/reads/?patient={other_patient}").json()["results"] == []

    # by date: nothing before an hour ago, everything since
    hour_ago = (timezone.now() - timedelta(hours=1)).isoformat()
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    earlier = client.get("/api/v1/audit/reads/", {"until": hour_ago}).json()
    assert earlier["results"] == []
    recent = client.get("/api/v1/audit/reads/", {"since": hour_ago, "until": later}).json()
    assert recent["count"] >= 2


def test_the_search_is_paginated_newest_first(
    director: StaffMember, two_labs_read: dict[str, Any]
) -> None:
    client = token_client(director)

    first = client.get("/api/v1/audit/reads/?limit=1").json()
    second = client.get("/api/v1/audit/reads/?limit=1&offset=1").json()

    assert len(first["results"]) == 1
    assert first["results"][0]["id"] > second["results"][0]["id"]
    assert first["count"] == second["count"]


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.CLINICIAN, Role.INTEGRATOR])
def test_only_a_director_searches_the_read_audit(lab: Any, role: str) -> None:
    staff = make_staff(username=f"someone.{role}", lab=lab, role=role)

    response = token_client(staff).get("/api/v1/audit/reads/")

    assert response.status_code == 403
    assert response.json()["message"] == "only a lab's director searches the read audit"


def test_a_malformed_search_names_the_parameter(director: StaffMember) -> None:
    response = token_client(director).get("/api/v1/audit/reads/?patient=abc&since=yesterday")

    assert response.status_code == 400
    fields = {detail["field"] for detail in response.json()["details"]}
    assert fields == {"patient", "since"}


def test_the_search_is_in_the_openapi_schema(director: StaffMember) -> None:
    schema = token_client(director).get("/api/v1/schema/?format=json").json()

    operation = schema["paths"]["/api/v1/audit/reads/"]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} >= {
        "patient",
        "user",
        "since",
        "until",
        "limit",
        "offset",
    }


# --- Searching: the admin -------------------------------------------------------------------------


def test_the_admin_is_read_only_and_shows_a_director_their_lab_only(
    director_browser: Client, two_labs_read: dict[str, Any]
) -> None:
    jane = two_labs_read["jane"]
    other = two_labs_read["other"]
    mine = ReadEntry.objects.get(path=f"/api/v1/panels/{jane.pk}/")
    theirs = ReadEntry.objects.filter(lab_id=other.lab_id).order_by("-id")[0]

    listing = director_browser.get(f"/admin/audit/readentry/?q=patient:{jane.patient_id}")
    assert listing.status_code == 200
    shown = {entry.pk for entry in listing.context["cl"].result_list}
    assert mine.pk in shown
    assert all(jane.patient_id in entry.patient_ids for entry in listing.context["cl"].result_list)

    everything = {
        e.pk for e in director_browser.get("/admin/audit/readentry/").context["cl"].result_list
    }
    assert theirs.pk not in everything
    assert director_browser.get(f"/admin/audit/readentry/{theirs.pk}/change/").status_code == 302

    # no add, change or delete: the change page is a read-only view; delete and add refused
    page = director_browser.get(f"/admin/audit/readentry/{mine.pk}/change/")
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert director_browser.get("/admin/audit/readentry/add/").status_code == 403
    assert director_browser.get(f"/admin/audit/readentry/{mine.pk}/delete/").status_code == 403
    assert (
        director_browser.post(
            f"/admin/audit/readentry/{mine.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert ReadEntry.objects.filter(pk=mine.pk).exists()


# --- Patient edits in the admin -------------------------------------------------------------------


def test_an_admin_change_of_a_patient_writes_an_event_with_old_and_new_values(
    technician_client: APIClient, panel_payload: dict[str, Any], lab: Any
) -> None:
    # given: a superuser in the admin
    panel = submitted(technician_client, panel_payload, "A-1")
    patient = Patient.objects.get(pk=panel.patient_id)
    admin_user = make_staff(username="root", lab=lab, role=Role.DIRECTOR).user
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client = Client()
    client.force_login(admin_user)
    form = {
        "lab": str(patient.lab_id),
        "mrn": patient.mrn,
        "family_name": "Doe-Smith",
        "given_name": patient.given_name,
        "birth_date": "1980-04-03",
        "sex": patient.sex,
    }

    # when
    response = client.post(f"/admin/panels/patient/{patient.pk}/change/", form)

    # then
    assert response.status_code == 302, response.context["adminform"].form.errors
    event = Event.objects.get(kind=EventKind.PATIENT_CHANGED)
    assert (event.lab_id, event.actor_id) == (patient.lab_id, admin_user.pk)
    assert event.payload == {
        "patient_id": patient.pk,
        "fields": ["family_name", "birth_date"],
        "old": {"family_name": "Doe", "birth_date": "1980-04-02"},
        "new": {"family_name": "Doe-Smith", "birth_date": "1980-04-03"},
    }
    assert not Event.objects.shareable().filter(pk=event.pk).exists()
    # the change page itself was a read of the patient, in the admin channel
    assert client.get(f"/admin/panels/patient/{patient.pk}/change/").status_code == 200
    entry = ReadEntry.objects.order_by("-id")[0]
    assert (entry.channel, entry.patient_ids, entry.lab_id) == (
        Channel.ADMIN,
        [patient.pk],
        patient.lab_id,
    )


def test_an_unchanged_save_writes_no_event(
    technician_client: APIClient, panel_payload: dict[str, Any], lab: Any
) -> None:
    panel = submitted(technician_client, panel_payload, "A-1")
    patient = Patient.objects.get(pk=panel.patient_id)
    admin_user = make_staff(username="root", lab=lab, role=Role.DIRECTOR).user
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client = Client()
    client.force_login(admin_user)
    form = {
        "lab": str(patient.lab_id),
        "mrn": patient.mrn,
        "family_name": patient.family_name,
        "given_name": patient.given_name,
        "birth_date": "1980-04-02",
        "sex": patient.sex,
    }

    assert client.post(f"/admin/panels/patient/{patient.pk}/change/", form).status_code == 302
    assert not Event.objects.filter(kind=EventKind.PATIENT_CHANGED).exists()


@pytest.mark.django_db(transaction=True)
def test_in_autocommit_the_one_insert_commits_without_a_flush_for_that_transaction_only(
    lab: Any,
) -> None:
    """Outside a transaction (a read: views hold none) the entry is one INSERT that sets
    ``synchronous_commit`` off for its own transaction; the session keeps its setting, and the
    row holds exactly what was recorded."""
    staff = make_staff(username="reader", lab=lab, role=Role.TECHNICIAN)
    request = RequestFactory().get(
        "/api/v1/panels/7/", REMOTE_ADDR="192.0.2.10", HTTP_USER_AGENT="probe"
    )
    request.user = staff.user
    assert not connection.in_atomic_block

    entry = read_record(
        request=request, patient_ids=[3, 3, 4], panel_ids=[7], report_ids=[9], import_job_id=2
    )

    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("on",)
    stored = ReadEntry.objects.get(pk=entry.pk)
    assert (
        stored.lab_id,
        stored.user_id,
        stored.token_id,
        stored.channel,
        stored.path,
        stored.ip,
        stored.user_agent,
        stored.patient_ids,
        stored.panel_ids,
        stored.report_ids,
        stored.import_job_id,
        stored.occurred_at,
    ) == (
        lab.pk,
        staff.user_id,
        "",
        Channel.SESSION,
        "/api/v1/panels/7/",
        "192.0.2.10",
        "probe",
        [3, 4],
        [7],
        [9],
        2,
        entry.occurred_at,
    )
    with pytest.raises(AuditAppendOnlyError):
        entry.save()


@pytest.mark.parametrize("entries", [1, 40])
def test_the_search_costs_the_same_queries_whatever_the_number_of_entries(
    director: StaffMember, technician: StaffMember, django_assert_num_queries: Any, entries: int
) -> None:
    for number in range(entries):
        ReadEntry.objects.create(
            lab_id=director.lab_id,
            user_id=technician.user_id,
            channel=Channel.TOKEN,
            view="api:panel-detail",
            path=f"/api/v1/panels/{number}/",
            patient_ids=[number],
        )
    client = token_client(director)
    client.get("/api/v1/audit/reads/")

    # the token with its user and membership (one statement), the page and its count
    with django_assert_num_queries(3):
        response = client.get(f"/api/v1/audit/reads/?user={technician.user_id}")
    assert len(response.json()["results"]) == entries
