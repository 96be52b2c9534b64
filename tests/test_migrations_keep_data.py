"""Moving models between apps keeps their tables and data (issue 10).

tests/fixtures/premove/premove.sql.gz is a database made through the API at the commit before
the models moved (tests/fixtures/premove/make_snapshot.py; the commit is in expected.json):
panels with findings and a serial trend, an amended report, a committed and a rejected import,
HL7 messages accepted and refused, reports ready, pending and failed, API tokens. The test
loads it into a scratch database, migrates it with the code under test (``manage.py migrate``:
the migrations that move models must keep their tables), then

- every table of the snapshot is still there with as many rows (tables Django itself fills
  per model — content types, permissions, applied migrations — may change);
- every recorded request, sent again with the same tokens, gets the same answer: every
  expected value equal; objects may carry fields added later (see readback.differences).

No field is ignored: every recorded value is read from the database (timestamps, checksums,
next retries), and the test client's host is ``testserver`` in both runs.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fixtures.premove import pg
from tests.fixtures.premove.readback import SETTINGS_MODULE, differences

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "premove"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))

# Filled by Django for every model (a moved model gets rows under its new app label) or by
# migrate itself: their counts may change with the code; every other table's may not.
COUNTS_MAY_CHANGE = frozenset({"django_migrations", "django_content_type", "auth_permission"})


@pytest.fixture
def scratch_database() -> Iterator[str]:
    """A scratch database holding the pre-move snapshot, dropped afterwards."""
    name = f"labpanel_snapshot_t{uuid.uuid4().hex[:10]}"
    pg.database_create(name)
    try:
        pg.load(name, FIXTURE / "premove.sql.gz")
        yield name
    finally:
        pg.database_drop(name)


def _env(name: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": pg.database_url(name),
        "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
    }


def _migrate(name: str) -> None:
    completed = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=_env(name),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def _answers(name: str, tmp_path: Path) -> list[dict[str, Any]]:
    output = tmp_path / "answers.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.fixtures.premove.readback",
            str(FIXTURE / "expected.json"),
            str(output),
        ],
        cwd=ROOT,
        env=_env(name),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    answers: list[dict[str, Any]] = json.loads(output.read_text(encoding="utf-8"))
    return answers


def _count_differences(expected: dict[str, int], actual: dict[str, int]) -> list[str]:
    return [
        f"{table}: {count} rows before, {actual.get(table, 'no table')} after migrate"
        for table, count in expected.items()
        if table not in COUNTS_MAY_CHANGE and actual.get(table) != count
    ]


def _panels(answer: Any) -> Iterator[dict[str, Any]]:
    """Every panel object in a recorded answer (a panel answer, or a page of them)."""
    if isinstance(answer, dict):
        if isinstance(answer.get("specimen"), dict) and "accession" in answer:
            yield answer
        for value in answer.values():
            yield from _panels(value)
    elif isinstance(answer, list):
        for item in answer:
            yield from _panels(item)


def _expected_after_received_time_migration(answer: Any) -> Any:
    """A recorded answer as it reads after panels 0010 (issue 11, CLIA 493.1291(c)): a panel's
    ``received_at`` was Labpanel's own entry time, never the laboratory's receipt time, so the
    migration sets it NULL ("not stated by the laboratory"); the panel's ``created_at`` keeps
    that entry time. Every other recorded value must still be equal."""
    answer = copy.deepcopy(answer)
    for panel in _panels(answer):
        panel["specimen"]["received_at"] = None
    return answer


# A panel in the list since issue 14 (the read model): its summary and its reports, not the
# whole panel (panels.documents.LIST_FIELDS; the detail keeps every field).
LIST_FIELDS = (
    "id",
    "accession",
    "patient",
    "specimen",
    "ordering_clinician",
    "ruleset",
    "review_state",
    "flagged",
    "summary",
    "report",
    "reports",
    "created_at",
)


def _expected_after_list_summaries(request: dict[str, Any], answer: Any) -> Any:
    """A recorded answer of the panels list as it reads since the list answers each panel's
    summary: each panel keeps ``LIST_FIELDS``, every one of them still equal."""
    if request["method"] != "GET" or request["path"].split("?")[0] != "/api/v1/panels/":
        return answer
    answer = copy.deepcopy(answer)
    body = answer.get("body")
    if isinstance(body, dict) and isinstance(body.get("results"), list):
        body["results"] = [
            {field: panel[field] for field in LIST_FIELDS if field in panel}
            for panel in body["results"]
        ]
    return answer


def _answer_differences(answers: list[dict[str, Any]]) -> list[str]:
    assert len(answers) == len(EXPECTED["answers"])
    found = []
    for recorded, answer in zip(EXPECTED["answers"], answers, strict=True):
        recorded = {
            **recorded,
            "answer": _expected_after_list_summaries(
                recorded["request"], _expected_after_received_time_migration(recorded["answer"])
            ),
        }
        request = recorded["request"]
        where = f"{request['method']} {request['path']} as {request['user']}"
        found += [f"{where}: {problem}" for problem in differences(recorded["answer"], answer)]
    return found


def test_the_snapshot_records_every_kind_of_data_the_moves_must_keep() -> None:
    # the fixture itself: what the test below reads back really is in it
    tables = EXPECTED["tables"]
    for table in (
        "panels_panel",
        "panels_finding",
        "panels_patientevent",
        "panels_importjob",
        "panels_importproblem",
        "panels_importedpanel",
        "panels_inboundmessage",
        "panels_lab",
        "panels_staffmember",
        "reports_report",
        "knox_authtoken",
    ):
        assert tables[table] > 0, table
    reports = [
        entry["answer"]["body"]
        for entry in EXPECTED["answers"]
        if entry["request"]["path"].startswith("/api/v1/reports/")
    ]
    assert {report["status"] for report in reports} >= {"ready", "pending", "failed"}
    assert any(report["amends"] for report in reports if report["status"] == "ready")
    imports = next(
        entry["answer"]["body"]
        for entry in EXPECTED["answers"]
        if entry["request"]["path"] == "/api/v1/imports/" and entry["answer"]["status"] == 200
    )
    assert {job["status"] for job in imports["results"]} == {"committed", "rejected"}
    hl7 = [entry for entry in EXPECTED["answers"] if entry["request"]["path"] == "/api/v1/hl7/"]
    assert [entry["answer"]["headers"]["X-HL7-Ack-Code"] for entry in hl7] == ["AA"]


def test_the_received_time_the_migration_clears_was_labpanels_entry_time() -> None:
    # the snapshot's received_at is when Labpanel stored the panel (its created_at, to the
    # fraction of a millisecond it took to build the row), not the lab's receipt time
    panels = [panel for entry in EXPECTED["answers"] for panel in _panels(entry["answer"])]
    assert panels
    for panel in panels:
        received = datetime.fromisoformat(panel["specimen"]["received_at"])
        created = datetime.fromisoformat(panel["created_at"])
        assert timedelta(0) <= created - received < timedelta(milliseconds=1), panel["accession"]


def test_migrating_the_premove_snapshot_keeps_every_row_and_every_api_answer(
    scratch_database: str, tmp_path: Path
) -> None:
    _migrate(scratch_database)

    counts = pg.table_counts(scratch_database)
    assert _count_differences(EXPECTED["tables"], counts) == []
    answers = _answers(scratch_database, tmp_path)
    assert _answer_differences(answers) == []


def test_a_row_lost_on_the_way_is_seen(scratch_database: str, tmp_path: Path) -> None:
    # given: the snapshot, migrated (the code under test reads today's schema), loses a finding
    # and the refused HL7 message (the one kind of row no API answer shows) as a careless move
    # would
    _migrate(scratch_database)
    pg.execute(
        scratch_database,
        "DELETE FROM panels_finding WHERE id = (SELECT max(id) FROM panels_finding)",
    )
    pg.execute(scratch_database, "DELETE FROM panels_inboundmessage WHERE ack_code = 'AE'")

    # when: migrated and compared like the snapshot above (the code under test reads the
    # current schema: a field added since the snapshot needs its migration first)
    _migrate(scratch_database)
    counts = _count_differences(EXPECTED["tables"], pg.table_counts(scratch_database))
    answers = _answer_differences(_answers(scratch_database, tmp_path))

    # then: both tables are named, and the panel that lost its finding answers differently
    assert counts == [
        "panels_finding: 40 rows before, 39 after migrate",
        "panels_inboundmessage: 2 rows before, 1 after migrate",
    ]
    assert any(
        re.fullmatch(r"GET /api/v1/panels/\d+/ as lab\.tech: \$\.body\.findings: .*", line)
        for line in answers
    ), answers


def test_panels_issued_before_review_existed_are_released_and_their_reports_final(
    scratch_database: str,
) -> None:
    # given: the snapshot's panels were issued to their clinicians as final reports
    _migrate(scratch_database)

    with psycopg.connect(pg.database_url(scratch_database)) as connection:
        states = connection.execute(
            "SELECT review_state, count(*) FROM panels_panel GROUP BY review_state"
        ).fetchall()
        history = connection.execute(
            "SELECT from_state, to_state, actor_id, rule, count(*) FROM panels_reviewtransition "
            "GROUP BY 1, 2, 3, 4"
        ).fetchall()
        stages = connection.execute(
            "SELECT stage, amends_id IS NULL, count(*) FROM reports_report GROUP BY 1, 2 ORDER BY 1"
        ).fetchall()

    panels = EXPECTED["tables"]["panels_panel"]
    assert states == [("released", panels)]
    assert history == [("received", "released", None, "issued_before_review_existed", panels)]
    reports = EXPECTED["tables"]["reports_report"]
    assert [stage for stage, _, _ in stages] == ["corrected", "final"]
    assert all(original is (stage == "final") for stage, original, _ in stages)
    assert sum(count for _, _, count in stages) == reports


ON_ROW = (
    "SELECT id, rule_id, rule_version, name, statement, citation, verified, verification_note "
    "FROM panels_finding"
)
THROUGH_TEXT = (
    "SELECT f.id, t.rule_id, t.rule_version, t.name, t.statement, t.citation, t.verified, "
    "t.verification_note FROM panels_finding f JOIN panels_findingtext t ON t.id = f.text_id"
)


def _finding_words(name: str, sql: str) -> dict[int, tuple[Any, ...]]:
    with psycopg.connect(pg.database_url(name)) as connection:
        return {row[0]: row[1:] for row in connection.execute(sql).fetchall()}


def test_finding_words_move_to_one_row_per_distinct_text_and_back(
    scratch_database: str,
) -> None:
    # given: the snapshot's findings, each with its words on its own row
    before = _finding_words(scratch_database, ON_ROW)
    assert len(before) == EXPECTED["tables"]["panels_finding"]

    # when: migrated (panels 0018_finding_texts)
    _migrate(scratch_database)

    # then: every finding reads the very same words through its text, and each distinct text
    # is stored once
    after = _finding_words(scratch_database, THROUGH_TEXT)
    assert after == before
    texts = _finding_words(scratch_database, "SELECT 0, count(*) FROM panels_findingtext")
    assert texts[0] == (len(set(before.values())),)
    assert len(set(before.values())) < len(before)

    # when: unapplied (back to panels 0017)
    completed = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "panels", "0017_identifiers_per_lab"],
        cwd=ROOT,
        env=_env(scratch_database),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr

    # then: every finding has its words on its own row again
    back = _finding_words(scratch_database, ON_ROW)
    assert back == before


def test_the_list_fields_compared_are_the_lists() -> None:
    from panels.documents import LIST_FIELDS as SERVED

    assert LIST_FIELDS == SERVED
