"""Admin for a lab's own configuration: pattern-rule switches, assay measuring ranges and the
lab's specimen settings (what its generic plasma is).

A lab director (a staff user) switches the shipped pattern rules on or off for their own lab and
records their assays' measuring ranges; a superuser also sets the installation defaults. Both
go through the services, which check who may do it and keep the audit trail; the forms run the
services' checks first so that a refusal is a form error, not a failed save. Nothing here is
ever deleted, and a recorded measuring range is never edited.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from labpanel.accounts import access
from labpanel.accounts.admin import LabDirectorAdmin
from labpanel.accounts.models import Lab
from labpanel.exceptions import DomainError
from reference_ranges.models import (
    AssayMeasuringRange,
    LabSpecimenSetting,
    PatternRuleSetting,
)
from reference_ranges.patterns import pattern_rule_get, pattern_rules_all
from reference_ranges.services import (
    lab_specimen_setting_change,
    measuring_range_record,
    pattern_rule_setting_change,
)
from reference_ranges.services.measuring_ranges import (
    MeasuringRangeFields,
    measuring_range_check,
)
from reference_ranges.services.pattern_settings import pattern_rule_change_check


def _error_text(error: DomainError) -> str:
    details = [
        str(item.get("message", item)) if isinstance(item, dict) else str(item)
        for item in error.details
    ]
    return error.message if not details else f"{error.message} ({'; '.join(details)})"


def _acting_user(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):  # pragma: no cover - the admin requires a logged-in user
        raise PermissionError("not logged in")
    return user


class _LabConfigurationAdmin(LabDirectorAdmin):
    """Visible to superusers, and to lab directors for their own lab's rows. Never deleted."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).filter(access.lab_configuration_scope(request.user))

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Any] | None:
        if db_field.name == "lab" and not request.user.is_superuser:
            kwargs["queryset"] = Lab.objects.filter(pk=access.directed_lab_id(request.user) or 0)
            kwargs["required"] = True
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        """The form checks with the services before saving: it is given the request's user."""
        form = super().get_form(request, obj, change=change, **kwargs)
        form.request = request  # type: ignore[attr-defined]
        return form


def _rule_choice_label(rule_id: str) -> str:
    rule = pattern_rule_get(rule_id)
    if rule is None:
        return rule_id
    verification = "verified" if rule.verified else "UNVERIFIED"
    return f"{rule.id} v{rule.version} — {rule.name} ({verification})"


class _LabConfigurationForm(forms.ModelForm[Any]):
    """A lab-configuration form: its ``clean`` asks the service's check with the request's user
    (set by ``_LabConfigurationAdmin.get_form``), and the service writes. Uniqueness is the
    service's too: a pattern-rule setting updates its scope's existing row, a second measuring
    range starting the same day is refused on save (a form error)."""

    request: HttpRequest | None = None

    def validate_unique(self) -> None:
        """Nothing to refuse here: the service decides (see the class)."""


def _shipped_rule_text(
    attribute: str, description: str
) -> Callable[[Any, PatternRuleSetting], str]:
    """A read-only column of the setting's shipped rule: its ``attribute`` ("" when the rule is
    no longer shipped)."""

    @admin.display(description=description)
    def column(modeladmin: Any, setting: PatternRuleSetting) -> str:
        rule = pattern_rule_get(setting.rule_id)
        return "" if rule is None else str(getattr(rule, attribute))

    return column


class PatternRuleSettingForm(_LabConfigurationForm):
    """Switch one shipped rule for a lab. The service writes; this form only checks first."""

    rule_id = forms.ChoiceField(label="Pattern rule")

    class Meta:
        model = PatternRuleSetting
        fields = ("lab", "rule_id", "enabled", "reason")
        help_texts = {
            "reason": "Why your lab makes this choice. Required to switch on an UNVERIFIED rule.",
            "lab": "Empty = the installation default (superusers only).",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        rule_field = self.fields["rule_id"]
        if isinstance(rule_field, forms.ChoiceField):
            rule_field.choices = [
                (rule.id, _rule_choice_label(rule.id)) for rule in pattern_rules_all()
            ]
        if self.instance.pk is not None:
            self.fields["rule_id"].disabled = True
            self.fields["lab"].disabled = True
            # A change states its own reason: the previous one is in the history below.
            self.initial["reason"] = ""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.request is None or self.errors:
            return data
        try:
            pattern_rule_change_check(
                rule_id=data.get("rule_id", ""),
                lab=data.get("lab"),
                enabled=bool(data.get("enabled")),
                reason=data.get("reason", ""),
                changed_by=_acting_user(self.request),
            )
        except DomainError as error:
            field = (
                "reason"
                if any(
                    isinstance(item, dict) and item.get("field") == "reason"
                    for item in error.details
                )
                else None
            )
            self.add_error(field, _error_text(error))
        return data


@admin.register(PatternRuleSetting)
class PatternRuleSettingAdmin(_LabConfigurationAdmin):
    form = PatternRuleSettingForm
    list_display = (
        "rule_id",
        "scope",
        "enabled",
        "verification",
        "rule_version",
        "applies",
        "changed_by",
        "changed_at",
    )
    list_filter = ("enabled", "rule_verified", "rule_id")
    readonly_fields = (
        "verification",
        "rule_version",
        "citation",
        "verification_note",
        "logic",
        "applies",
        "changed_by",
        "changed_at",
        "history",
    )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    @admin.display(description="Scope")
    def scope(self, setting: PatternRuleSetting) -> str:
        return setting.lab.name if setting.lab is not None else "installation default"

    @admin.display(description="Verification")
    def verification(self, setting: PatternRuleSetting) -> str:
        rule = pattern_rule_get(setting.rule_id)
        verified = setting.rule_verified if rule is None else rule.verified
        return "verified" if verified else "UNVERIFIED — findings are labelled unverified"

    citation = _shipped_rule_text("citation", "Citation")
    verification_note = _shipped_rule_text("verification_note", "Verification note")
    logic = _shipped_rule_text("logic", "Logic")

    @admin.display(description="History (who, when, why)")
    def history(self, setting: PatternRuleSetting) -> str:
        if setting.pk is None:
            return "-"
        changes = setting.changes.select_related("changed_by").order_by("-changed_at", "-pk")
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{}: {} v{} by {} — {}</li>",
                (
                    (
                        f"{timezone.localtime(change.changed_at):%Y-%m-%d %H:%M}",
                        "on" if change.enabled else "off",
                        change.rule_version,
                        change.changed_by or "seed_reference_data",
                        change.reason or "(no reason given)",
                    )
                    for change in changes
                ),
            ),
        )

    @admin.display(description="Applies")
    def applies(self, setting: PatternRuleSetting) -> str:
        rule = pattern_rule_get(setting.rule_id)
        if rule is None:
            return "no: the rule is no longer shipped"
        if rule.version != setting.rule_version:
            return f"no: made for v{setting.rule_version}, the rule is now v{rule.version}"
        return "yes"

    def save_model(
        self, request: HttpRequest, obj: PatternRuleSetting, form: Any, change: bool
    ) -> None:
        data = form.cleaned_data
        saved = pattern_rule_setting_change(
            rule_id=data["rule_id"] if not change else obj.rule_id,
            lab=data.get("lab") if not change else obj.lab,
            enabled=data["enabled"],
            reason=data.get("reason", ""),
            changed_by=_acting_user(request),
        )
        obj.pk = saved.pk
        obj.refresh_from_db()
        rule = pattern_rule_get(saved.rule_id)
        if saved.enabled and rule is not None and not rule.verified:
            self.message_user(
                request,
                f"{rule.id} is UNVERIFIED and is now switched on: its findings are labelled "
                f"unverified on every report. {rule.verification_note}",
                messages.WARNING,
            )


class AssayMeasuringRangeForm(_LabConfigurationForm):
    """Record one assay's measuring range. The service writes; this form only checks first."""

    class Meta:
        model = AssayMeasuringRange
        fields = (
            "lab",
            "analyte",
            "assay",
            "lloq",
            "uloq",
            "unit",
            "effective_from",
            "source",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "effective_from" in self.fields:
            self.fields["effective_from"].initial = timezone.localdate()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        lab, analyte = data.get("lab"), data.get("analyte")
        effective_from = data.get("effective_from")
        if self.errors or lab is None or analyte is None or effective_from is None:
            return data
        for problem in measuring_range_check(**self.range_fields()):
            field = problem["field"] if problem["field"] in self.fields else None
            self.add_error(field, problem["message"])
        return data

    def range_fields(self) -> MeasuringRangeFields:
        """The range to record, from the cleaned form (lab, analyte and day checked present)."""
        data = self.cleaned_data
        return MeasuringRangeFields(
            lab=data["lab"],
            analyte=data["analyte"],
            assay=data.get("assay", ""),
            lloq=data.get("lloq"),
            uloq=data.get("uloq"),
            unit=data.get("unit", ""),
            effective_from=data["effective_from"],
            source=data.get("source", ""),
        )


@admin.register(AssayMeasuringRange)
class AssayMeasuringRangeAdmin(_LabConfigurationAdmin):
    form = AssayMeasuringRangeForm
    list_display = (
        "analyte",
        "assay",
        "lloq",
        "uloq",
        "unit",
        "effective_from",
        "lab",
        "created_by",
        "created_at",
    )
    list_filter = ("lab", "analyte")
    search_fields = ("assay", "source")
    readonly_fields = ("created_by", "created_at")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Recorded ranges are shown, never edited: a new range supersedes one.
        return False

    def save_model(
        self, request: HttpRequest, obj: AssayMeasuringRange, form: Any, change: bool
    ) -> None:
        try:
            saved = measuring_range_record(created_by=_acting_user(request), **form.range_fields())
        except DomainError as error:
            # Lost a race with another recording, or not this lab's director: say so.
            self.message_user(request, _error_text(error), messages.ERROR)
            raise
        obj.pk = saved.pk
        obj.refresh_from_db()


class LabSpecimenSettingForm(forms.ModelForm[LabSpecimenSetting]):
    class Meta:
        model = LabSpecimenSetting
        fields = ("lab", "plasma_anticoagulant")
        help_texts = {
            "plasma_anticoagulant": (
                'What your specimens labelled only "plasma" are collected in. Not stated: they '
                "are never judged by an interval defined for a specific anticoagulant "
                "(lithium heparin, EDTA), and the report says why."
            )
        }


@admin.register(LabSpecimenSetting)
class LabSpecimenSettingAdmin(_LabConfigurationAdmin):
    """A director says what their lab's generic plasma is (the lab list and the rows shown are
    their own lab's); the service checks it again and records who and when."""

    form = LabSpecimenSettingForm
    list_display = ("lab", "plasma_anticoagulant", "changed_by", "changed_at")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("changed_by", "changed_at") + (() if obj is None else ("lab",))

    def save_model(
        self, request: HttpRequest, obj: LabSpecimenSetting, form: Any, change: bool
    ) -> None:
        saved = lab_specimen_setting_change(
            lab=obj.lab,
            plasma_anticoagulant=form.cleaned_data.get("plasma_anticoagulant", ""),
            changed_by=_acting_user(request),
        )
        obj.pk = saved.pk
        obj.refresh_from_db()
