"""Input shapes of the panels API: a submission and an amendment. Inputs validate; they never write.

``PanelSubmitInput`` checks every part of a submission at once — analyte names against the
catalogue, values against the lab's notation, units against the analyte, the clinician against
the lab — so one 400 names every offending result and field.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from labpanel.accounts import access
from labpanel.accounts.models import Lab
from panels.intake.validation import (
    ACCESSION_PATTERN,
    FieldError,
    dilution_factor_clean,
    unit_match,
    unit_problem,
    unprintable,
)
from panels.models import (
    PatientEventKind,
)
from panels.notation import NotationError, parse_reported_value
from panels.submission import (
    EventData,
    PanelSubmission,
    PatientData,
    ResultData,
    panel_submission_build,
    results_problems,
    specimen_problems,
)
from reference_ranges.engine.patterns import check_clinical_value
from reference_ranges.models import Sex, SpecimenType
from reference_ranges.patterns import clinical_inputs
from reference_ranges.selectors import AnalyteCatalogue

MAX_RESULTS = 200


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 timestamp that must carry its UTC offset: a naive time is ambiguous."""

    def to_internal_value(self, value: Any) -> datetime:
        if isinstance(value, str):
            parsed = None
            try:
                parsed = parse_datetime(value)
            except ValueError:
                self.fail("invalid_date")
            if parsed is None:
                self.fail("invalid", format="ISO 8601, e.g. 2026-11-20T08:30:00Z")
            if parsed is not None and parsed.tzinfo is None:
                raise serializers.ValidationError(
                    "timestamp has no UTC offset; add one (e.g. 'Z' or '+01:00')"
                )
        return super().to_internal_value(value)

    default_error_messages = {
        "invalid_date": "not a real date and time",
        "invalid": "not a valid timestamp; use ISO 8601, e.g. 2026-11-20T08:30:00Z",
    }


class StrictCharField(serializers.CharField):
    """A string that must arrive as a JSON string: numbers are refused, never re-notated."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError(
                'must be a JSON string in the lab\'s notation, e.g. "12.4" or "<1.5"'
            )
        return str(super().to_internal_value(data))


def printable(value: str) -> None:
    """Refuse text the PDF report cannot print (a script no report font has, a control
    character): the submission fails with a 400 naming the field, not the report later."""
    problem = unprintable(value)
    if problem:
        raise serializers.ValidationError(problem)


def stated_text(help_text: str) -> serializers.CharField:
    """An optional printable text the lab states (a condition, a method): omitted or blank
    means not stated, and the report says so."""
    return serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        validators=[printable],
        help_text=help_text,
    )


class PatientInput(serializers.Serializer[Any]):
    mrn = serializers.CharField(max_length=64, validators=[printable])
    family_name = serializers.CharField(max_length=120, validators=[printable])
    given_name = serializers.CharField(max_length=120, allow_blank=True, validators=[printable])
    birth_date = serializers.DateField(
        allow_null=True,
        error_messages={"invalid": "not a real date; use YYYY-MM-DD"},
        help_text="null when unknown: age-partitioned intervals then do not apply",
    )
    sex = serializers.ChoiceField(choices=Sex.choices)

    def validate_birth_date(self, value: Any) -> Any:
        if value is not None and value > timezone.localdate():
            raise serializers.ValidationError("birth date is in the future")
        return value


class SpecimenInput(serializers.Serializer[Any]):
    type = serializers.ChoiceField(choices=SpecimenType.choices)
    collected_at = AwareDateTimeField()
    is_baseline = serializers.BooleanField(
        default=False, help_text="The patient's baseline: later fold changes are measured from it"
    )
    received_at = AwareDateTimeField(
        required=False,
        allow_null=True,
        help_text="When the laboratory received the specimen (its own receipt time); omitted "
        "or null when not stated: the report then says so, and never guesses it",
    )
    condition = stated_text("The specimen's condition as the lab states it, e.g. Hemolyzed")

    def validate_collected_at(self, value: datetime) -> datetime:
        return _not_in_the_future(value, "collection time")

    def validate_received_at(self, value: datetime | None) -> datetime | None:
        return None if value is None else _not_in_the_future(value, "receipt time")


def _not_in_the_future(value: datetime, what: str) -> datetime:
    if value > timezone.now() + timedelta(minutes=5):
        raise serializers.ValidationError(f"{what} is in the future")
    return value


class ResultInput(serializers.Serializer[Any]):
    analyte = serializers.CharField(max_length=120)
    value = StrictCharField(max_length=64, trim_whitespace=False)
    unit = serializers.CharField(max_length=16)
    dilution_factor = StrictCharField(
        max_length=16, required=False, help_text="Dilution the reported value already includes"
    )
    method = stated_text("The measurement method, as the lab states it (printed on the report)")
    instrument = stated_text(
        "The instrument (name or serial), as the lab states it (printed on the report)"
    )

    def validate_dilution_factor(self, value: str) -> Decimal:
        try:
            return dilution_factor_clean(value)
        except FieldError as error:
            raise serializers.ValidationError(str(error)) from error

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        catalogue: AnalyteCatalogue = self.context["catalogue"]
        errors: dict[str, str] = {}
        analyte = catalogue.resolve(attrs["analyte"])
        if analyte is None:
            errors["analyte"] = f"unknown analyte {attrs['analyte']!r}"
        try:
            attrs["reported"] = parse_reported_value(attrs["value"])
        except NotationError as error:
            errors["value"] = str(error)
        if analyte is not None:
            unit = unit_match(attrs["unit"], analyte)
            if unit is None:
                errors["unit"] = unit_problem(attrs["unit"], analyte)
            attrs["unit"] = unit
        if errors:
            raise serializers.ValidationError(errors)
        attrs["analyte_obj"] = analyte
        return attrs


class EventInput(serializers.Serializer[Any]):
    type = serializers.ChoiceField(choices=PatientEventKind.choices)
    at = AwareDateTimeField()


def _clinical_value(value: Any) -> Decimal | bool | str:
    """JSON booleans stay booleans; integers and numeric strings become Decimals."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            reported = parse_reported_value(value)
        except NotationError:
            return value.strip()
        if not reported.comparator.is_censored:
            return reported.value
        return value
    raise serializers.ValidationError(
        'must be true/false, an integer, a choice or a number as a string such as "38.9"'
    )


class PanelSubmitInput(serializers.Serializer[Any]):
    accession = serializers.RegexField(
        ACCESSION_PATTERN,
        error_messages={"invalid": "use 1-64 letters, digits, '.', '_' or '-'"},
    )
    patient = PatientInput()
    specimen = SpecimenInput()
    ordering_clinician = serializers.CharField(max_length=150)
    # The count is checked before any item is validated: a list over the limit costs nothing.
    results = ResultInput(many=True, allow_empty=False, max_length=MAX_RESULTS)  # type: ignore[call-arg]  # DRF 3.14+; the stubs lag
    clinical = serializers.DictField(
        required=False,
        help_text="Clinical inputs for pattern rules (HScore, ASTCT grade, HLH-2004), e.g. "
        '{"temperature_c": "39.2", "vasopressors_excluding_vasopressin": 1}',
    )
    events = EventInput(many=True, required=False)

    def validate_clinical(self, value: dict[str, Any]) -> dict[str, Decimal | bool | str]:
        specs = clinical_inputs()
        errors: dict[str, str] = {}
        clean: dict[str, Decimal | bool | str] = {}
        for name, raw in value.items():
            spec = specs.get(name)
            if spec is None:
                errors[name] = "unknown clinical input (see the API docs for the list)"
                continue
            try:
                clean[name] = _clinical_value(raw)
            except serializers.ValidationError as error:
                errors[name] = str(error.detail[0])  # type: ignore[index]
                continue
            problem = check_clinical_value(spec, clean[name])
            if problem:
                errors[name] = problem
        if errors:
            raise serializers.ValidationError(errors)
        return clean

    def validate_results(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if len(value) > MAX_RESULTS:
            raise serializers.ValidationError(f"at most {MAX_RESULTS} results per panel")
        return value

    def validate_ordering_clinician(self, value: str) -> Any:
        lab: Lab = self.context["lab"]
        staff = access.ordering_clinicians(lab_id=lab.pk).filter(user__username=value).first()
        if staff is None:
            raise serializers.ValidationError(f"clinician {value!r} not found in this lab")
        return staff.user

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The builder's shared checks (panels.submission), named as JSON fields.
        errors: dict[str, Any] = {}
        duplicates = results_problems([result["analyte_obj"].code for result in attrs["results"]])
        if duplicates:
            duplicate_errors: list[dict[str, list[str]]] = [{} for _ in attrs["results"]]
            for problem in duplicates:
                if problem.position is not None:
                    duplicate_errors[problem.position] = {"analyte": [problem.message]}
            errors["results"] = duplicate_errors
        specimen_errors: dict[str, list[str]] = {}
        for problem in specimen_problems(
            birth_date=attrs["patient"]["birth_date"],
            collected_at=attrs["specimen"]["collected_at"],
            received_at=attrs["specimen"].get("received_at"),
        ):
            name = problem.field.removeprefix("specimen.")
            specimen_errors.setdefault(name, []).append(problem.message)
        if specimen_errors:
            errors["specimen"] = specimen_errors
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def to_submission(self) -> PanelSubmission:
        data = self.validated_data
        return panel_submission_build(
            accession=data["accession"],
            patient=PatientData(**data["patient"]),
            specimen_type=data["specimen"]["type"],
            collected_at=data["specimen"]["collected_at"],
            is_baseline=data["specimen"]["is_baseline"],
            received_at=data["specimen"].get("received_at"),
            specimen_condition=data["specimen"].get("condition", ""),
            ordering_clinician=data["ordering_clinician"],
            clinical=data.get("clinical", {}),
            events=[
                EventData(kind=event["type"], occurred_at=event["at"])
                for event in data.get("events", [])
            ],
            results=[_result_data(result) for result in data["results"]],
        )


class AmendmentInput(serializers.Serializer[Any]):
    reason = serializers.CharField(
        max_length=2000, help_text="Why the results change; printed on the amended report"
    )
    kind = serializers.ChoiceField(
        choices=[("correction", "Correction"), ("dilution_rerun", "Re-run on dilution")],
        default="correction",
        help_text="dilution_rerun: a result above the measuring range measured again diluted",
    )
    # The count is checked before any item is validated: a list over the limit costs nothing.
    results = ResultInput(many=True, allow_empty=False, max_length=MAX_RESULTS)  # type: ignore[call-arg]  # DRF 3.14+; the stubs lag

    def corrections(self) -> list[ResultData]:
        return [_result_data(result) for result in self.validated_data["results"]]


def _result_data(result: dict[str, Any]) -> ResultData:
    """A result as ``ResultInput`` validated it (a submission's or a correction's)."""
    return ResultData(
        analyte=result["analyte_obj"],
        analyte_as_received=result["analyte"],
        raw_value=result["value"],
        reported=result["reported"],
        unit=result["unit"],
        dilution_factor=result.get("dilution_factor"),
        method=result.get("method", ""),
        instrument=result.get("instrument", ""),
    )


class ReviewInput(serializers.Serializer[Any]):
    """Verifying or releasing one panel: an optional reason, kept in its review history."""

    reason = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default="", help_text="Why (optional)"
    )


class BulkVerifyInput(serializers.Serializer[Any]):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        allow_empty=False,
        max_length=500,
        help_text="Panel ids; only those whose results are all within their intervals are verified",
    )
