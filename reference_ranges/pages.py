"""The reference-ranges web pages: browse the active set (and any set the user reads); a
director drafts a new version of it for their lab, edits a rule's bounds and publishes.

Over the same services as the rule-set API (``reference_ranges.services.rulesets``): the draft
is the active set's exchange document imported for the director's lab, edits go through
``ruleset_rule_update`` (drafts only; the whole set is validated again on publish), publishing
through ``ruleset_publish`` with installation-wide sets refused as the API refuses them. Who
may read or change what is ``labpanel.accounts.access``: a set outside the user's scope is a
404, a refused change a 403 naming the reason. The impact preview reads panels, so its page is
``panels.ruleset_pages``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from labpanel.accounts import access
from labpanel.exceptions import DomainError, NotAllowed
from reference_ranges.models import ReferenceRangeRule, ReferenceRangeSet, RuleSetStatus
from reference_ranges.selectors import (
    ruleset_document_get,
    ruleset_get,
    ruleset_get_active,
    rulesets_visible_to,
)
from reference_ranges.services.rulesets import (
    ruleset_import,
    ruleset_publish,
    ruleset_rule_update,
)

BOUNDS = ("low", "low_inclusive", "high", "high_inclusive", "critical_low", "critical_high")


class DraftForm(forms.Form):
    version = forms.CharField(
        label="Version of the new draft", max_length=32, help_text="e.g. 2026.2-lab"
    )


class BoundsForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = ReferenceRangeRule
        fields = BOUNDS
        labels = {
            "low": "Lower limit",
            "low_inclusive": "Lower limit is inside the interval",
            "high": "Upper limit",
            "high_inclusive": "Upper limit is inside the interval",
            "critical_low": "Critical low limit",
            "critical_high": "Critical high limit",
        }


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 - login_required ran first
    return user


def _reader(request: HttpRequest) -> Any:
    try:
        return access.ruleset_reading_lab(request.user)
    except NotAllowed as error:
        raise PermissionDenied(error.message) from error


def _manager(request: HttpRequest, ruleset: ReferenceRangeSet | None) -> Any:
    try:
        return access.ruleset_manager_check(
            request.user,
            lab_id=None if ruleset is None else ruleset.lab_id,
            installation_wide_allowed=ruleset is None,
        )
    except NotAllowed as error:
        raise PermissionDenied(error.message) from error


def _ruleset(request: HttpRequest, pk: int) -> ReferenceRangeSet:
    _reader(request)
    ruleset = ruleset_get(pk=pk, user=request.user)
    if ruleset is None:
        raise Http404
    return ruleset


@login_required
def rulesets_page(request: HttpRequest) -> HttpResponse:
    lab = _reader(request)
    active = ruleset_get_active(lab=lab)
    if active is not None:
        active = ruleset_get(pk=active.pk, user=request.user)
    drafts = (
        rulesets_visible_to(user=request.user)
        .filter(status=RuleSetStatus.DRAFT, lab_id=lab.pk)
        .order_by("-created_at", "-pk")
    )
    return render(
        request,
        "reference_ranges/rulesets.html",
        {
            "ruleset": active,
            "drafts": drafts,
            "can_manage": access.rulesets_manageable(request.user),
            "draft_form": DraftForm(
                initial={"version": f"{active.version}-{lab.pk}" if active else ""}
            ),
        },
    )


@login_required
def ruleset_page(request: HttpRequest, pk: int) -> HttpResponse:
    ruleset = _ruleset(request, pk)
    can_change = ruleset.status == RuleSetStatus.DRAFT and _may_manage(request, ruleset)
    return render(
        request,
        "reference_ranges/ruleset.html",
        {"ruleset": ruleset, "can_change": can_change},
    )


def _may_manage(request: HttpRequest, ruleset: ReferenceRangeSet) -> bool:
    try:
        _manager(request, ruleset)
    except PermissionDenied:
        return False
    return True


@login_required
@require_POST
def draft_create(request: HttpRequest) -> HttpResponse:
    """A director copies the set in force for their lab into a new draft of their lab."""
    lab = _reader(request)
    director = _manager(request, None)
    active = ruleset_get_active(lab=lab)
    if active is None:
        raise Http404
    form = DraftForm(request.POST)
    if form.is_valid():
        try:
            outcome = ruleset_import(
                document=ruleset_document_get(ruleset=active),
                created_by=_user(request),
                lab=director.lab,
                version=form.cleaned_data["version"],
                installation_wide_allowed=False,
            )
        except NotAllowed as error:
            raise PermissionDenied(error.message) from error
        except DomainError as error:
            form.add_error("version", _problems_text(error))
        else:
            messages.success(
                request, f"Draft {outcome.ruleset.version} created from {active.version}."
            )
            return redirect("reference_ranges:detail", pk=outcome.ruleset.pk)
    messages.error(request, "; ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("reference_ranges:list")


def _problems_text(error: DomainError) -> str:
    """The error and each problem it names, on one line."""
    details = error.details if isinstance(error.details, list) else []
    problems = [
        f"{detail.get('field') or 'set'}: {detail.get('message')}"
        for detail in details
        if isinstance(detail, dict)
    ]
    return error.message + (f" ({'; '.join(problems)})" if problems else "")


@login_required
def rule_edit(request: HttpRequest, pk: int, rule_id: int) -> HttpResponse:
    ruleset = _ruleset(request, pk)
    _manager(request, ruleset)
    rule = ruleset.rules.filter(pk=rule_id).select_related("analyte").first()
    if rule is None:
        raise Http404
    form = BoundsForm(instance=ReferenceRangeRule.objects.get(pk=rule.pk))
    if request.method == "POST":
        form = BoundsForm(request.POST, instance=ReferenceRangeRule.objects.get(pk=rule.pk))
        if form.is_valid():
            try:
                ruleset_rule_update(
                    rule=rule, data={name: form.cleaned_data[name] for name in BOUNDS}
                )
            except ValidationError as error:
                for field, problems in error.message_dict.items():
                    for problem in problems:
                        form.add_error(field if field in BOUNDS else None, problem)
            except DomainError as error:
                form.add_error(None, _problems_text(error))
            else:
                messages.success(request, f"Rule {rule.key} changed in draft {ruleset.version}.")
                return redirect("reference_ranges:detail", pk=ruleset.pk)
    return render(
        request, "reference_ranges/rule_edit.html", {"ruleset": ruleset, "rule": rule, "form": form}
    )


@login_required
@require_POST
def publish(request: HttpRequest, pk: int) -> HttpResponse:
    ruleset = _ruleset(request, pk)
    _manager(request, ruleset)
    try:
        outcome = ruleset_publish(
            ruleset=ruleset, published_by=_user(request), installation_wide_allowed=False
        )
    except NotAllowed as error:
        raise PermissionDenied(error.message) from error
    except DomainError as error:
        messages.error(request, f"Not published: {_problems_text(error)}")
        return redirect("reference_ranges:detail", pk=ruleset.pk)
    retired = f"; {outcome.retired.version} retired" if outcome.retired is not None else ""
    messages.success(request, f"Published {ruleset.version}: in force from today{retired}.")
    return redirect("reference_ranges:detail", pk=ruleset.pk)


app_name = "reference_ranges"
urlpatterns = [
    path("", rulesets_page, name="list"),
    path("draft/", draft_create, name="draft"),
    path("<int:pk>/", ruleset_page, name="detail"),
    path("<int:pk>/rules/<int:rule_id>/", rule_edit, name="rule-edit"),
    path("<int:pk>/publish/", publish, name="publish"),
]
