"""How a report writes a moment: the lab's local time, to the minute, with the zone's name."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def when_text(moment: datetime) -> str:
    """``moment`` in the lab's time zone: "2026-11-20 08:30 UTC"."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")
