"""Admin for labs and their staff memberships, and what every admin page of lab data shares.

A lab's director (a staff user) sees their own lab and changes its review and release settings
(who verifies and releases, self-verification, auto-verification, preliminary reports); a
superuser administers every lab. Memberships stay the superuser's.

:class:`LabRowsAdmin` is the base of every admin page of lab data (patients, panels, results,
reports, imports, HL7 messages, bead regions, rule sets, staff and users): a director sees only
their own lab's rows, a superuser every lab's (``access.admin_rows_scope``).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import ForeignKey, QuerySet
from django.http import HttpRequest

from labpanel.accounts import access
from labpanel.accounts.models import Lab, StaffMember

REVIEW_SETTINGS = (
    "technicians_may_verify",
    "technicians_may_release",
    "self_verification_allowed",
    "auto_verification_enabled",
    "preliminary_reports_to_clinicians",
)
IDENTITY = ("name", "address", "clia_number")


class LabRowsAdmin(admin.ModelAdmin[Any]):
    """An admin page of lab data: its rows, filters and lab choices are the user's lab's
    (every lab's for a superuser); an installation-wide row (no lab) is read-only but for a
    superuser. ``lab_path`` leads from a row to its lab id; ``installation_wide_rows`` shows
    directors the rows without a lab too."""

    lab_path = "lab_id"
    installation_wide_rows = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        scope = access.admin_rows_scope(
            request.user, self.lab_path, installation_wide=self.installation_wide_rows
        )
        return super().get_queryset(request).filter(scope)

    def _row_lab_id(self, obj: Any) -> int | None:
        value = obj
        for name in self.lab_path.split("__"):
            try:
                value = getattr(value, name)
            except ObjectDoesNotExist:
                return None
            if value is None:
                return None
        return int(value)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and not access.admin_row_changeable(
            request.user, lab_id=self._row_lab_id(obj)
        ):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and not access.admin_row_changeable(
            request.user, lab_id=self._row_lab_id(obj)
        ):
            return False
        return super().has_delete_permission(request, obj)

    def get_list_filter(self, request: HttpRequest) -> Any:
        """A foreign-key filter offers only the values of the rows shown (not other labs')."""
        filters = super().get_list_filter(request)
        if request.user.is_superuser:
            return filters
        return tuple(self._related_only(entry) for entry in filters)

    def _related_only(self, entry: Any) -> Any:
        if isinstance(entry, str) and "__" not in entry:
            field = self.model._meta.get_field(entry)
            if isinstance(field, ForeignKey):
                return (entry, admin.RelatedOnlyFieldListFilter)
        return entry

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Any] | None:
        if db_field.related_model is Lab and not request.user.is_superuser:
            kwargs["queryset"] = Lab.objects.filter(access.lab_settings_scope(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class LabDirectorAdmin(admin.ModelAdmin[Any]):
    """An admin a lab's director uses for their own lab (a superuser for every lab): shown to
    the users ``access.lab_configuration_admin_allowed`` names."""

    def _allowed(self, request: HttpRequest) -> bool:
        return access.lab_configuration_admin_allowed(request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)


CRITICAL_RESULT_SETTINGS = (
    "critical_ack_limit_minutes",
    "critical_on_call_name",
    "critical_on_call_phone",
    "critical_on_call_email",
)


@admin.register(Lab)
class LabAdmin(LabDirectorAdmin):
    list_display = ("name", "clia_number", *REVIEW_SETTINGS)
    fieldsets = (
        (None, {"fields": IDENTITY}),
        ("Review and release", {"fields": REVIEW_SETTINGS}),
        ("Critical results", {"fields": CRITICAL_RESULT_SETTINGS}),
    )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Lab]:
        return super().get_queryset(request).filter(access.lab_settings_scope(request.user))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return () if request.user.is_superuser else IDENTITY


@admin.register(StaffMember)
class StaffMemberAdmin(LabRowsAdmin):
    list_display = ("user", "role", "lab", "provider_id")
    list_filter = ("role", "lab")
    search_fields = ("user__username",)


# Django's user admin, over the lab's users only (a user's lab is their membership's).
admin.site.unregister(User)


@admin.register(User)
class LabUserAdmin(LabRowsAdmin, UserAdmin[User]):
    lab_path = "staff__lab_id"
