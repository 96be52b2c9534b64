"""Assay measuring ranges (LLOQ/ULOQ): constraints, recording, the selector, the command."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from labpanel.accounts.models import Lab, Role, StaffMember
from labpanel.exceptions import Conflict, InvalidInput, NotAllowed
from reference_ranges.models import Analyte, AssayMeasuringRange
from reference_ranges.selectors import MeasuringRangeFacts, measuring_ranges_active
from reference_ranges.services import measuring_range_record
from tests.factories import make_lab, make_staff

pytestmark = pytest.mark.django_db
TODAY = date(2026, 12, 1)


@pytest.fixture(autouse=True)
def _frozen_clock() -> Iterator[None]:
    with time_machine.travel(datetime(2026, 12, 1, 9, 30, tzinfo=UTC), tick=False):
        yield


def record(lab: Lab, **fields: object) -> AssayMeasuringRange:
    values: dict[str, object] = {
        "analyte": Analyte.objects.get(code="IL6"),
        "assay": "Roche Elecsys IL-6",
        "lloq": Decimal("1.5"),
        "uloq": Decimal("5000"),
        "unit": "pg/mL",
        "effective_from": TODAY,
        "source": "Elecsys IL-6 package insert; verified locally 2026-11",
        "created_by": None,
        **fields,
    }
    return measuring_range_record(lab=lab, **values)  # type: ignore[arg-type]


def test_the_selector_gives_each_analyte_the_range_in_force_on_the_day(
    reference_data: None, lab: Lab
) -> None:
    # given: Elecsys from today, replaced by Access from 2027-01-01; a ULOQ-only ferritin range
    elecsys = record(lab)
    access = record(
        lab,
        assay="Beckman Access IL-6",
        lloq=Decimal("2"),
        uloq=Decimal("1500"),
        effective_from=date(2027, 1, 1),
    )
    ferritin = record(
        lab,
        analyte=Analyte.objects.get(code="FERRITIN"),
        assay="Ferritin CLIA",
        lloq=None,
        uloq=Decimal("2000"),
        unit="ng/mL",
    )
    record(make_lab(name="Other Laboratory"), lloq=Decimal("3"))

    # then
    assert measuring_ranges_active(lab_id=lab.pk, on=date(2026, 11, 30)) == {}
    assert measuring_ranges_active(lab_id=lab.pk, on=TODAY) == {
        "IL6": MeasuringRangeFacts(
            id=elecsys.pk,
            analyte="IL6",
            assay="Roche Elecsys IL-6",
            lloq=Decimal("1.5"),
            uloq=Decimal("5000"),
            unit="pg/mL",
            effective_from=TODAY,
        ),
        "FERRITIN": MeasuringRangeFacts(
            id=ferritin.pk,
            analyte="FERRITIN",
            assay="Ferritin CLIA",
            lloq=None,
            uloq=Decimal("2000"),
            unit="ng/mL",
            effective_from=TODAY,
        ),
    }
    later = measuring_ranges_active(lab_id=lab.pk, on=date(2027, 3, 1))
    assert (later["IL6"].id, later["IL6"].assay) == (access.pk, "Beckman Access IL-6")
    assert str(later["IL6"].lloq) == "2"  # without the column's padding zeros


def test_the_selector_reads_in_one_query(
    reference_data: None, lab: Lab, django_assert_num_queries: object
) -> None:
    record(lab)
    record(lab, analyte=Analyte.objects.get(code="IL8"), assay="IL-8 ELISA")

    with django_assert_num_queries(1):  # type: ignore[operator]
        assert len(measuring_ranges_active(lab_id=lab.pk, on=TODAY)) == 2


def test_facts_are_frozen_and_give_limits_in_the_results_unit(reference_data: None) -> None:
    facts = MeasuringRangeFacts(
        id=1,
        analyte="IL6",
        assay="Roche Elecsys IL-6",
        lloq=Decimal("1.5"),
        uloq=Decimal("5000"),
        unit="pg/mL",
        effective_from=TODAY,
    )

    with pytest.raises(dataclasses.FrozenInstanceError):
        facts.lloq = Decimal(2)  # type: ignore[misc]
    assert facts.limits_in("pg/mL") == (Decimal("1.5"), Decimal("5000"))
    assert facts.limits_in("ng/L") == (Decimal("1.5"), Decimal("5000"))
    assert facts.limits_in("ng/mL") == (Decimal("0.0015"), Decimal("5"))
    assert facts.limits_in("U/mL") is None
    assert facts.limits_in("pmol/L") is None  # never through a molecular weight


@pytest.mark.parametrize(
    ("_case", "fields", "details"),
    [
        (
            "no limit",
            {"lloq": None, "uloq": None},
            [{"field": "lloq", "message": "give an LLOQ, a ULOQ, or both"}],
        ),
        (
            "LLOQ not below ULOQ",
            {"lloq": Decimal("10"), "uloq": Decimal("10")},
            [{"field": "uloq", "message": "ULOQ 10 must be above LLOQ 10"}],
        ),
        (
            "negative",
            {"lloq": Decimal("-1")},
            [{"field": "lloq", "message": "must be a number of 0 or more"}],
        ),
        (
            "unit the analyte is not reported in",
            {"unit": "U/mL"},
            [
                {
                    "field": "unit",
                    "message": "'U/mL' is not a unit IL6 is reported in (pg/mL, ng/L, ng/mL)",
                }
            ],
        ),
        (
            "no source",
            {"source": " "},
            [
                {
                    "field": "source",
                    "message": "say where the limits come from (package insert, validation)",
                }
            ],
        ),
        (
            "retroactive",
            {"effective_from": date(2026, 11, 30)},
            [
                {
                    "field": "effective_from",
                    "message": "a measuring range takes effect today or later: results stored "
                    "before today were judged with the range then in force",
                }
            ],
        ),
    ],
)
def test_a_bad_range_is_refused_naming_every_field(
    reference_data: None, lab: Lab, _case: str, fields: dict[str, object], details: object
) -> None:
    with pytest.raises(InvalidInput) as error:
        record(lab, **fields)

    assert error.value.details == details
    assert AssayMeasuringRange.objects.count() == 0


def test_ranges_are_recorded_in_order_never_back_filled(reference_data: None, lab: Lab) -> None:
    record(lab, effective_from=date(2027, 1, 1))

    for day in (TODAY, date(2027, 1, 1)):
        with pytest.raises(InvalidInput) as error:
            record(lab, effective_from=day)
        assert [detail["field"] for detail in error.value.details] == ["effective_from"]
    assert AssayMeasuringRange.objects.count() == 1


def test_the_database_refuses_what_the_service_would(reference_data: None, lab: Lab) -> None:
    analyte = Analyte.objects.get(code="IL6")
    base = {"lab": lab, "analyte": analyte, "assay": "x", "unit": "pg/mL", "source": "y"}
    for fields in (
        {"lloq": None, "uloq": None},
        {"lloq": Decimal("5"), "uloq": Decimal("2")},
        {"lloq": Decimal("-1"), "uloq": None},
        {"lloq": Decimal("1"), "uloq": None, "source": ""},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            AssayMeasuringRange.objects.create(**{**base, "effective_from": TODAY, **fields})
    AssayMeasuringRange.objects.create(**base, lloq=Decimal(1), effective_from=TODAY)
    with pytest.raises(IntegrityError), transaction.atomic():
        AssayMeasuringRange.objects.create(**base, uloq=Decimal(9), effective_from=TODAY)


def test_a_later_range_recorded_concurrently_is_a_conflict(
    reference_data: None, lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the check passed, then another recording took the day
    from reference_ranges.services import measuring_ranges

    monkeypatch.setattr(measuring_ranges, "measuring_range_check", lambda **_: [])
    record(lab)

    with pytest.raises(Conflict):
        record(lab)


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.CLINICIAN])
def test_only_the_labs_director_records_a_range(reference_data: None, lab: Lab, role: str) -> None:
    staff = make_staff(username=f"staff-{role}", lab=lab, role=role)
    other = make_staff(username="other-director", lab=make_lab(), role=Role.DIRECTOR)

    for user in (staff.user, other.user):
        with pytest.raises(NotAllowed):
            record(lab, created_by=user)


def test_a_director_records_a_range_and_is_named_on_it(
    reference_data: None, director: StaffMember
) -> None:
    measuring_range = record(director.lab, created_by=director.user)

    assert measuring_range.created_by == director.user


def test_the_command_records_a_range(reference_data: None, director: StaffMember) -> None:
    out = StringIO()

    call_command(
        "measuring_range_record",
        director.lab.name,
        "IL-6",
        "--assay=Siemens ADVIA Centaur IL-6",
        "--lloq=3.0",
        "--uloq=5500.0",
        "--unit=pg/mL",
        "--source=ADVIA Centaur IL-6 IFU",
        f"--as={director.user.username}",
        stdout=out,
    )

    stored = AssayMeasuringRange.objects.get()
    assert (stored.lloq, stored.uloq, stored.effective_from) == (
        Decimal("3.0"),
        Decimal("5500.0"),
        TODAY,
    )
    assert out.getvalue().startswith(f"Recorded measuring range {stored.pk}: IL6 Siemens ADVIA")
    with pytest.raises(CommandError, match="effective_from"):
        call_command(
            "measuring_range_record",
            director.lab.name,
            "IL6",
            "--assay=x",
            "--lloq=1",
            "--unit=pg/mL",
            "--source=y",
            stdout=out,
        )
