"""Admin of the notices the portal sends (Exception queue → Notifications sent, Notification limits).

- ``NotificationAdmin``: read-only log of every notice (sent, held for quiet hours, rate limited,
  turned off, no address, failed) with where it went; RevOps admins only.
- ``NotificationLimitsAdmin``: the one row of limits RevOps edits (immediate notices per person per
  hour); there is only ever one row to change, and it cannot be deleted.

Each person's own channels and settings are on *My notifications* (``my_notifications``).
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse

from revops.access import sees_everything
from revops.admin.base import AuditedAdmin, ReadOnlyMixin

from ..models import Notification, NotificationLimits, when_text


@admin.register(Notification)
class NotificationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("when", "recipient", "subject", "status", "channels")
    list_filter = ("status", "reason")
    search_fields = ("subject", "recipient__username", "recipient__email")
    list_select_related = ("recipient",)
    date_hierarchy = "sent_at"
    show_full_result_count = False

    @admin.display(description="when", ordering="sent_at")
    def when(self, obj):
        return when_text(obj.sent_at)

    def has_module_permission(self, request):
        return sees_everything(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return sees_everything(request.user) and super().has_view_permission(request, obj)


@admin.register(NotificationLimits)
class NotificationLimitsAdmin(AuditedAdmin):
    fields = ("per_person_per_hour",)

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not NotificationLimits.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        """The list of one row is its form: open the row, or the add form until it exists."""
        if not self.has_view_or_change_permission(request):
            return super().changelist_view(request, extra_context)  # refuses
        limits = NotificationLimits.objects.first()
        if limits is not None:
            return HttpResponseRedirect(reverse("admin:exceptions_notificationlimits_change", args=[limits.pk]))
        if self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:exceptions_notificationlimits_add"))
        return super().changelist_view(request, extra_context)
