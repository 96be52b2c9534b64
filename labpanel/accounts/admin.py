"""Admin for labs and their staff memberships.

A lab's director (a staff user) sees their own lab and changes its review and release settings
(who verifies and releases, self-verification, auto-verification, preliminary reports); a
superuser administers every lab. Memberships stay the superuser's.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
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
class StaffMemberAdmin(admin.ModelAdmin[StaffMember]):
    list_display = ("user", "role", "lab", "provider_id")
    list_filter = ("role", "lab")
    search_fields = ("user__username",)
