"""Admin of what keeps alerts scarce: suppressions (Exception queue → Suppressions) and per-owner rate
limits (Exception queue → Rate limits).

- ``SuppressionAdmin``: read-only; people create suppressions from an item ("Suppress…") and lift them
  early here (a bulk action). Managers and reps see the suppressions made on items they may see.
- ``RateLimitAdmin``: RevOps admins set, per item kind, how many new items one owner gets at most per
  period; the list shows what each limit holds back now.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Q, Sum
from django.urls import reverse
from django.utils.html import format_html

from revops.admin.base import AuditedAdmin
from revops.admin.links import why_url

from ..models import RateLimit, RateLimitHold, Suppression, when_text
from ..registry import item_kind_choices, item_kind_label
from ..suppressions import suppression_active_q, suppression_lift, visible_suppressions
from .helpers import refusal_message, refusals


class SuppressionStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "In force"), ("ended", "Lifted or ended")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(suppression_active_q())
        if self.value() == "ended":
            return queryset.exclude(suppression_active_q())
        return queryset


@admin.register(Suppression)
class SuppressionAdmin(AuditedAdmin):
    list_display = ("topic", "record", "ends", "reason", "created_by", "created_at", "state")
    list_filter = (SuppressionStateFilter, "reason_code", "kind")
    search_fields = ("record_label", "external_id", "automation__name", "note")
    list_select_related = ("automation", "created_by", "lifted_by")
    actions = ["lift_selected"]
    fields = (
        "topic",
        "record",
        "ends",
        "reason",
        "note",
        "item_link",
        "created_by",
        "created_at",
        "state",
        "lifted_by",
        "lifted_at",
        "lift_reason",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return visible_suppressions(user=request.user)

    def has_add_permission(self, request):
        return False  # made from an item ("Suppress…")

    def has_delete_permission(self, request, obj=None):
        return False  # lifted, never deleted: the counts and the audit keep them

    def has_change_permission(self, request, obj=None):
        return False

    def can_lift(self, request) -> bool:
        return super().has_change_permission(request)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self.can_lift(request):
            actions.pop("lift_selected", None)
        return actions

    @admin.action(description="Lift the selected suppressions now")
    def lift_selected(self, request, queryset):
        done, refused = 0, []
        for row in queryset.filter(suppression_active_q()):
            try:
                suppression_lift(suppression=row, actor=request.user)
            except refusals() as error:
                refused.append(f"{row}: {refusal_message(error)}")
            else:
                done += 1
        self.message_user(
            request,
            f"{done} suppression(s) lifted; the rules reach their records' items again on the next scan.",
            messages.SUCCESS if done else messages.WARNING,
        )
        if refused:
            self.message_user(request, "; ".join(refused[:5]), messages.WARNING)

    @admin.display(description="rule")
    def topic(self, obj):
        return obj.topic_label

    @admin.display(description="record")
    def record(self, obj):
        label = obj.record_label or f"{obj.object_type} #{obj.object_id}"
        url = why_url(obj.object_type, obj.object_id)
        return format_html('<a href="{}">{}</a>', url, label) if url else label

    @admin.display(description="until")
    def ends(self, obj):
        return obj.ends_text()

    @admin.display(description="reason")
    def reason(self, obj):
        return obj.get_reason_code_display()

    @admin.display(description="item")
    def item_link(self, obj):
        if obj.item_id is None:
            return "—"
        url = reverse("admin:exceptions_exceptionitem_change", args=[obj.item_id])
        return format_html('<a href="{}">#{}</a>', url, obj.item_id)

    @admin.display(description="state")
    def state(self, obj):
        if obj.is_active():
            return "In force"
        if obj.lifted_at is not None:
            return f"Ended {when_text(obj.lifted_at)}: {obj.lift_reason}"
        return "Ended: the date passed"


class RateLimitForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=lambda: item_kind_choices(), help_text="The kind of item it limits.")

    class Meta:
        model = RateLimit
        fields = ("kind", "per_owner", "period_hours", "is_active", "note")
        widgets = {"note": forms.Textarea(attrs={"rows": 2, "cols": 80})}


@admin.register(RateLimit)
class RateLimitAdmin(AuditedAdmin):
    form = RateLimitForm
    list_display = ("kind_label", "per_owner", "period", "is_active", "held_now", "updated_at")
    readonly_fields = ("held_now",)

    @admin.display(description="kind")
    def kind_label(self, obj):
        return item_kind_label(obj.kind)

    @admin.display(description="per")
    def period(self, obj):
        return obj.period_text

    @admin.display(description="held back now")
    def held_now(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        holds = RateLimitHold.objects.filter(kind=obj.kind, held__gt=0)
        total = holds.aggregate(n=Sum("held"))["n"] or 0
        if not total:
            return "nothing"
        owners = holds.filter(~Q(owner=None)).count()
        return f"{total} item(s) for {owners} owner(s)"
