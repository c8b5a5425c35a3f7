"""Columns the data-quality lists share: the object in words, the status as a badge, the last change."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone

from revops.admin.base import badge

from .objects import object_choices


class ObjectStatusColumns:
    """``object_label``, ``status_badge`` (tones from ``status_tones``) and ``updated`` for a list."""

    status_tones: dict[str, str] = {}

    @admin.display(description="object", ordering="object_type")
    def object_label(self, obj):
        return dict(object_choices()).get(obj.object_type, obj.object_type)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.get_status_display(), self.status_tones.get(obj.status, "neutral"))

    @admin.display(description="last change", ordering="updated_at")
    def updated(self, obj):
        return f"{timezone.localtime(obj.updated_at):%Y-%m-%d %H:%M %Z}"
