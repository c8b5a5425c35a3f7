"""Admin of the exception queues (Exception queue → Queues): RevOps admins keep them; managers read them,
and the manager a queue names runs its escalation (the escalation target, the due hours by severity
and the description) without RevOps rights — audited like every queue change.

Each row shows the queue's open and overdue items and its escalation path; a queue's page adds who
works it (the team's reps with a login) and what routes to it by name. Writes go through
``exceptions.queues`` (``queue_clean`` in the form, ``queue_save``, ``queue_delete``): a queue
something still names is neither renamed away nor deleted.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from revops.admin.base import AuditedAdmin, remap_form_errors
from revops.models import Rep

from ..models import ExceptionItem, Queue
from ..queues import queue_clean, queue_delete, queue_delete_blockers, queue_save, queue_users_of
from ..selectors import escalation_targets_for, team_subtree_ids, visible_queues

OPEN = ExceptionItem.OPEN_STATUSES


class QueueForm(forms.ModelForm):
    """The queue's fields, validated by ``queue_clean`` (the same checks as the service and the config file)."""

    class Meta:
        model = Queue
        fields = (
            "name",
            "description",
            "team",
            "manager",
            "escalation_target",
            "due_hours_critical",
            "due_hours_high",
            "due_hours_medium",
            "due_hours_low",
            "is_default",
        )
        widgets = {"description": forms.Textarea(attrs={"rows": 2, "cols": 80})}

    def _get_validation_exclusions(self):
        # One default queue: ``queue_save`` moves the flag from the previous default, so the model's
        # constraint is not checked against the stored default here.
        return {*super()._get_validation_exclusions(), "is_default"}

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        try:
            queue_clean(self.instance)
        except ValidationError as error:
            remap_form_errors(self, error)


@admin.register(Queue)
class QueueAdmin(AuditedAdmin):
    form = QueueForm
    list_display = ("name", "team", "manager", "escalation_path", "open_items", "overdue_items", "is_default")
    list_select_related = ("team", "manager", "escalation_target")
    search_fields = ("name", "description")
    readonly_fields = ("members", "used_by", "escalation_path_text")
    fieldsets = (
        (None, {"fields": ("name", "description", "team", "is_default")}),
        ("Escalation path", {"fields": ("manager", "escalation_target", "escalation_path_text")}),
        (
            "Due time by severity (hours)",
            {"fields": (("due_hours_critical", "due_hours_high", "due_hours_medium", "due_hours_low"),)},
        ),
        ("Who works it and what routes to it", {"fields": ("members", "used_by")}),
    )
    actions = None  # no bulk delete: a queue is deleted one at a time, once nothing uses it

    # What the queue's own manager may change (everything else stays RevOps').
    DELEGATED = (
        "description",
        "escalation_target",
        "due_hours_critical",
        "due_hours_high",
        "due_hours_medium",
        "due_hours_low",
    )

    def _revops(self, request) -> bool:
        return request.user.has_perm("exceptions.change_queue")

    def has_change_permission(self, request, obj=None):
        if super().has_change_permission(request, obj):
            return True
        return obj is not None and obj.manager_id == request.user.pk and request.user.is_active

    def has_change_history_permission(self, request, obj=None):
        return self._revops(request)  # reverting restores every field: RevOps only

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "escalation_target" and field is not None and not self._revops(request):
            # A queue's manager escalates to RevOps or to people of their own teams, not to anyone.
            field.queryset = escalation_targets_for(request.user)
        return field

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and not self._revops(request):
            readonly += [name for name in QueueForm.Meta.fields if name not in self.DELEGATED]
        return readonly

    def get_queryset(self, request):
        """The queues the user may see (a manager: their teams'), with their open and overdue counts."""
        now = timezone.now()
        return (
            super()
            .get_queryset(request)
            .filter(pk__in=visible_queues(user=request.user).values("pk"))
            .annotate(
                open_count=Count("items", filter=Q(items__status__in=OPEN)),
                overdue_count=Count("items", filter=Q(items__status__in=OPEN, items__due_at__lt=now)),
            )
        )

    @admin.display(description="open", ordering="open_count")
    def open_items(self, obj):
        url = reverse("admin:exceptions_exceptionitem_changelist") + f"?queue={obj.pk}&state=open"
        return format_html('<a href="{}">{}</a>', url, getattr(obj, "open_count", 0))

    @admin.display(description="overdue", ordering="overdue_count")
    def overdue_items(self, obj):
        return getattr(obj, "overdue_count", 0)

    @admin.display(description="escalation path")
    def escalation_path(self, obj):
        manager = obj.manager.get_username() if obj.manager_id else "—"
        target = obj.escalation_target.get_username() if obj.escalation_target_id else "—"
        return f"owner → {manager} → {target}"

    @admin.display(description="path")
    def escalation_path_text(self, obj):
        if obj is None or obj.pk is None:
            return "owner → the queue's manager → the escalation target"
        return self.escalation_path(obj) + " (overdue items move one step at a time)"

    @admin.display(description="members")
    def members(self, obj):
        """The active reps with a login on the queue's team and its sub-teams (they work the queue's items)."""
        if obj is None or not obj.team_id:
            return "— (no team: the manager and the items' owners work it)"
        reps = list(
            Rep.objects.filter(team_id__in=team_subtree_ids({obj.team_id}), is_active=True, user__isnull=False)
            .select_related("user")
            .order_by("name")
        )
        if not reps:
            return "— (nobody on the team has a login yet)"
        return format_html_join(", ", "{} ({})", ((rep.name, rep.user.get_username()) for rep in reps))

    @admin.display(description="named by")
    def used_by(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        users = queue_users_of(obj)
        return format_html_join(mark_safe("<br>"), "{}", ((u,) for u in users)) if users else "nothing yet"

    def perform_save(self, request, obj, form, change, *, reason):
        queue_save(queue=obj, actor=request.user, reason=reason)

    def perform_delete(self, request, obj, *, reason):
        queue_delete(queue=obj, actor=request.user, reason=reason)

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is not None and self.has_delete_permission(request, obj):  # others get Django's 403
            blockers = queue_delete_blockers(obj)
            if blockers:
                messages.error(
                    request, f"Queue {obj.name!r} cannot be deleted: it is still used by {'; '.join(blockers)}."
                )
                return HttpResponseRedirect(reverse("admin:exceptions_queue_change", args=[obj.pk]))
        return super().delete_view(request, object_id, extra_context)
