"""Admin for labs and their staff memberships."""

from __future__ import annotations

from django.contrib import admin

from labpanel.accounts.models import Lab, StaffMember


@admin.register(Lab)
class LabAdmin(admin.ModelAdmin[Lab]):
    list_display = ("name", "clia_number")


@admin.register(StaffMember)
class StaffMemberAdmin(admin.ModelAdmin[StaffMember]):
    list_display = ("user", "role", "lab", "provider_id")
    list_filter = ("role", "lab")
    search_fields = ("user__username",)
