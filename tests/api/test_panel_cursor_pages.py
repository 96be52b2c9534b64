"""Cursor pages of the panels list (``labpanel.pagination.NewestFirstPagination``): ``?cursor=``
(empty first) pages newest first by keyset, ``(created_at, id)``; panels arriving between two
pages neither repeat nor push others off; ``previous`` walks back; the filters apply; a page
is three statements whatever its length (no count; four for a page that sets the newest edge,
which serves settled rows only: a panel whose transaction commits late is never skipped by a
poller); a cursor not signed by the server is a 400; limit/offset stays the default answer."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from labpanel.audit.models import ReadEntry
from labpanel.pagination import (
    INVALID_CURSOR,
    Cursor,
    Position,
    keyset_filter,
    keyset_order,
)
from panels.intake.selectors import PanelReads, _keyset_compile, panel_reads
from panels.models import Panel
from tests.conftest import token_client

pytestmark = pytest.mark.django_db


def _submit(client: APIClient, payload: dict[str, Any], accession: str, mrn: str) -> int:
    body = copy.deepcopy(payload)
    body["accession"] = accession
    body["patient"]["mrn"] = mrn
    answer = client.post("/api/v1/panels/", body, format="json")
    assert answer.status_code == 201, answer.json()
    return int(answer.json()["id"])


def _newest_first(ids: list[int]) -> list[int]:
    order = Panel.objects.filter(pk__in=ids).order_by("-created_at", "-pk")
    return list(order.values_list("pk", flat=True))


def _get(client: APIClient, url: str) -> dict[str, Any]:
    answer = client.get(url)
    assert answer.status_code == 200, answer.json()
    body: dict[str, Any] = answer.json()
    return body


def _place(link: str) -> Cursor:
    """Where a link's cursor stands (its text is signed with the time: two links to the same
    place made in different seconds differ)."""
    return Cursor.decode(parse_qs(urlsplit(link).query)["cursor"][0])


def _ids(page: dict[str, Any]) -> list[int]:
    return [row["id"] for row in page["results"]]


@pytest.fixture
def seven(technician_client: APIClient, panel_payload: dict[str, Any]) -> list[int]:
    """Seven panels, newest first: the even-numbered of MRN-1, the odd-numbered of MRN-2."""
    return _newest_first(
        [_submit(technician_client, panel_payload, f"C-{n}", f"MRN-{1 + n % 2}") for n in range(7)]
    )


def test_pages_are_stable_when_panels_arrive_between_them(
    technician_client: APIClient, panel_payload: dict[str, Any], seven: list[int]
) -> None:
    first = _get(technician_client, "/api/v1/panels/?cursor=&limit=3")
    assert set(first) == {"next", "previous", "results"}  # no count
    assert _ids(first) == seven[:3]
    # when: panels arrive before the next page is asked
    arrived = [_submit(technician_client, panel_payload, f"N-{n}", "MRN-9") for n in range(2)]
    pages, url = [first], first["next"]
    while url:
        pages.append(_get(technician_client, url))
        url = pages[-1]["next"]
    # then: the pages are the panels that existed, in order, once each
    assert [pk for page in pages for pk in _ids(page)] == seven
    assert [len(page["results"]) for page in pages] == [3, 3, 1]
    # and the arrivals head the first page asked afresh
    assert _ids(_get(technician_client, "/api/v1/panels/?cursor=&limit=3"))[:2] == (
        _newest_first(arrived)
    )


def test_previous_walks_back_to_the_page_before(
    technician_client: APIClient, panel_payload: dict[str, Any], seven: list[int]
) -> None:
    first = _get(technician_client, "/api/v1/panels/?cursor=&limit=3")
    second = _get(technician_client, first["next"])
    _submit(technician_client, panel_payload, "N-1", "MRN-9")

    back = _get(technician_client, second["previous"])

    assert _ids(back) == seven[:3]
    assert back["previous"] is not None  # the panel that arrived is newer still
    assert _ids(_get(technician_client, back["next"])) == seven[3:6]


def test_a_poller_keeps_its_place_with_previous(
    technician_client: APIClient, panel_payload: dict[str, Any], seven: list[int]
) -> None:
    """``previous`` is given even when nothing is newer: asked later, it answers the panels
    that arrived since, the oldest of them first page by page, each page newest first."""
    first = _get(technician_client, "/api/v1/panels/?cursor=&limit=2")
    nothing_yet = _get(technician_client, first["previous"])
    assert nothing_yet["results"] == []
    assert _place(nothing_yet["previous"]) == _place(first["previous"])  # the same place
    # when: three panels arrive
    arrived = _newest_first(
        [_submit(technician_client, panel_payload, f"N-{n}", "MRN-9") for n in range(3)]
    )
    # then: polling ``previous`` answers them, oldest first, each once
    older = _get(technician_client, nothing_yet["previous"])
    newer = _get(technician_client, older["previous"])
    assert (_ids(older), _ids(newer)) == (arrived[1:], arrived[:1])
    assert _get(technician_client, newer["previous"])["results"] == []
    assert _ids(_get(technician_client, older["next"])) == seven[:2]


def test_panels_created_at_the_same_instant_page_by_id(
    technician_client: APIClient, seven: list[int]
) -> None:
    Panel.objects.filter(pk__in=seven).update(created_at=datetime(2026, 3, 1, tzinfo=UTC))
    seen, url = [], "/api/v1/panels/?cursor=&limit=2"
    while url:
        page = _get(technician_client, url)
        seen += _ids(page)
        url = page["next"]

    assert seen == sorted(seven, reverse=True)


def test_the_filters_apply_to_cursor_pages(technician_client: APIClient, seven: list[int]) -> None:
    mrn_1 = _newest_first(
        list(Panel.objects.filter(patient__mrn="MRN-1").values_list("pk", flat=True))
    )
    assert len(mrn_1) == 4
    seen, url = [], "/api/v1/panels/?mrn=MRN-1&cursor=&limit=1"
    while url:
        page = _get(technician_client, url)
        seen += _ids(page)
        url = page["next"]
        if url:
            assert parse_qs(urlsplit(url).query)["mrn"] == ["MRN-1"]

    assert seen == mrn_1


def test_a_cursor_not_signed_here_is_a_400(technician_client: APIClient, seven: list[int]) -> None:
    link = _get(technician_client, "/api/v1/panels/?cursor=&limit=3")["next"]
    cursor = parse_qs(urlsplit(link).query)["cursor"][0]
    payload = cursor.split(":")[0]
    forged = signing.dumps(["2026-01-01T00:00:00+00:00", 1, 0], salt="something else")
    for bad in (
        f"x{cursor}",
        cursor[:-2],
        f"{payload[:-1]}A:{cursor.split(':', 1)[1]}",
        forged,
        "1",
    ):
        answer = technician_client.get("/api/v1/panels/", {"cursor": bad})
        assert answer.status_code == 400, bad
        assert answer.json()["code"] == "invalid"
        assert INVALID_CURSOR in str(answer.json())


@pytest.mark.parametrize("limit", [1, 5, 50])
def test_a_cursor_page_is_three_statements_whatever_its_length(
    technician_client: APIClient, seven: list[int], django_assert_num_queries: Any, limit: int
) -> None:
    technician_client.get("/api/v1/panels/")
    # the token with its user and membership, the page (no count), the read audit's entry;
    # a page that sets the newest edge (the first, a ``previous``) reads the oldest transaction
    # in progress too (labpanel.pagination.settled_before)
    with django_assert_num_queries(4):
        first = _get(technician_client, f"/api/v1/panels/?cursor=&limit={limit}")
    assert len(first["results"]) == min(limit, 7)
    if first["next"]:
        with django_assert_num_queries(3):
            _get(technician_client, first["next"])
    with django_assert_num_queries(4):
        _get(technician_client, first["previous"])
    with django_assert_num_queries(4):
        _get(
            technician_client,
            f"/api/v1/panels/?cursor=&limit={limit}&mrn=MRN-2&report_status=pending",
        )


def test_a_cursor_page_is_recorded_in_the_read_audit(
    technician_client: APIClient, seven: list[int]
) -> None:
    before = ReadEntry.objects.count()
    _get(technician_client, "/api/v1/panels/?cursor=&limit=2")

    entry = ReadEntry.objects.order_by("-pk").first()
    assert ReadEntry.objects.count() == before + 1
    assert entry is not None
    assert entry.panel_ids == seven[:2]


def test_limit_and_offset_stay_the_default(technician_client: APIClient, seven: list[int]) -> None:
    page = _get(technician_client, "/api/v1/panels/?limit=3&offset=3")

    assert page["count"] == 7
    assert _ids(page) == seven[3:6]
    assert "offset=6" in page["next"]


def test_the_schema_describes_both_answers(technician_client: APIClient) -> None:
    schema = technician_client.get("/api/v1/schema/?format=json").json()
    get = schema["paths"]["/api/v1/panels/"]["get"]
    assert {"limit", "offset", "cursor"} <= {p["name"] for p in get["parameters"]}
    ref = get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    answer = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert [sorted(shape["required"]) for shape in answer["anyOf"]] == [
        ["count", "results"],
        ["next", "previous", "results"],
    ]


@pytest.mark.parametrize("backwards", [False, True])
def test_a_cursor_page_compiled_once_reads_what_the_orm_reads(
    technician: StaffMember, seven: list[int], backwards: bool
) -> None:
    """The unfiltered page's SQL, kept per scope and direction, reads what the ORM's queryset
    reads, past any position."""
    reads = PanelReads(user=technician.user, field="summary")
    middle = Panel.objects.get(pk=seven[3])
    for after in (None, Position(created_at=middle.created_at, pk=middle.pk)):
        if after is None and backwards:
            continue
        kept = _keyset_compile(
            technician.user, "summary", after=after is not None, backwards=backwards
        )
        assert kept is not None
        orm = panel_reads(user=technician.user, field="summary", positioned=True)
        if after is not None:
            orm = orm.filter(keyset_filter(after, backwards=backwards))
        expected = list(orm.order_by(*keyset_order(backwards=backwards))[:3])

        rows = reads.keyset(after=after, backwards=backwards, limit=3)

        assert [row[0] for row in rows] == [row[0] for row in expected]
        assert [reads.position(row) for row in rows] == [reads.position(row) for row in expected]


def test_cursor_pages_answer_only_what_the_caller_may_see(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    integrator: StaffMember,
    seven: list[int],
) -> None:
    """An interface sees the panels sent with its own credentials: its cursor pages (SQL kept
    per scope) hold those only, and the lab's pages all."""
    interface = token_client(integrator)
    sent = _newest_first([_submit(interface, panel_payload, f"I-{n}", "MRN-5") for n in range(3)])

    def walk(client: APIClient) -> list[int]:
        seen, url = [], "/api/v1/panels/?cursor=&limit=2"
        while url:
            page = _get(client, url)
            seen += _ids(page)
            url = page["next"]
        return seen

    assert walk(interface) == sent
    assert walk(technician_client) == sent + seven


@pytest.mark.django_db(transaction=True)
def test_a_panel_whose_transaction_commits_late_is_not_skipped_by_a_poller(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    """A panel stamped inside a transaction that commits after a later panel's: the poller's
    ``previous`` does not move past the later panel while that transaction is in progress,
    and answers both once it has committed."""
    import psycopg
    from django.db import connection

    first_id = _submit(technician_client, panel_payload, "P-0", "MRN-1")
    first = _get(technician_client, "/api/v1/panels/?cursor=&limit=5")
    assert _ids(first) == [first_id]

    # a transaction in progress stamps a panel now, and has not committed
    columns = [
        field.column
        for field in Panel._meta.concrete_fields
        if field.column not in ("id", "accession", "created_at", "updated_at")
    ]
    listed = ", ".join(f'"{column}"' for column in columns)
    settings_dict = connection.settings_dict
    late = psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
        host=settings_dict["HOST"],
        port=settings_dict["PORT"],
    )
    try:
        late.execute("SELECT 1")  # the transaction begins
        late.execute(
            f"INSERT INTO panels_panel ({listed}, accession, created_at, updated_at) "  # noqa: S608
            f"SELECT {listed}, 'P-LATE', now(), now() FROM panels_panel WHERE id = %s",
            [first_id],
        )
        # a later panel commits first
        later_id = _submit(technician_client, panel_payload, "P-2", "MRN-2")

        polled = _get(technician_client, first["previous"])

        # then: the later panel is held back: the edge stays where it was
        assert polled["results"] == []
        assert _place(polled["previous"]) == _place(first["previous"])
        late.commit()
    finally:
        late.close()
    late_id = Panel.objects.get(accession="P-LATE").pk

    # once it has committed, the next poll answers both, newest first
    assert _ids(_get(technician_client, polled["previous"])) == [later_id, late_id]


def test_the_settle_time_holds_back_the_newest_rows(
    technician_client: APIClient, panel_payload: dict[str, Any], settings: Any
) -> None:
    """Clocks differ between hosts: a page setting the newest edge serves rows older than the
    settle time; the first page is then the newest settled rows, full."""
    import time_machine
    from django.utils import timezone

    older = [_submit(technician_client, panel_payload, f"S-{n}", "MRN-1") for n in range(3)]
    settings.LABPANEL_CURSOR_SETTLE_SECONDS = 3600.0
    Panel.objects.filter(pk__in=older).update(created_at=timezone.now() - timedelta(hours=2))
    fresh = _submit(technician_client, panel_payload, "S-new", "MRN-2")

    first = _get(technician_client, "/api/v1/panels/?cursor=&limit=2")

    assert _ids(first) == _newest_first(older)[:2]  # the newest settled ones, a full page
    assert _ids(_get(technician_client, first["next"])) == _newest_first(older)[2:]
    assert _get(technician_client, first["previous"])["results"] == []  # fresh: held back
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert _ids(_get(technician_client, first["previous"])) == [fresh]


@pytest.mark.django_db(transaction=True)
def test_a_session_left_open_without_writing_holds_nothing_back(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    import psycopg
    from django.db import connection

    _submit(technician_client, panel_payload, "Q-0", "MRN-1")
    first = _get(technician_client, "/api/v1/panels/?cursor=&limit=5")
    settings_dict = connection.settings_dict
    with psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
        host=settings_dict["HOST"],
        port=settings_dict["PORT"],
    ) as reading:
        reading.execute("SELECT count(*) FROM panels_panel")  # a transaction, reading only
        arrived = _submit(technician_client, panel_payload, "Q-1", "MRN-2")

        assert _ids(_get(technician_client, first["previous"])) == [arrived]
