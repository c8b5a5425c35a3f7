"""Admin for handoffs: checklists (RevOps) and the handoffs of deals (read-only here; they move by
themselves as the CRM fills the deal in)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from revops.admin.base import AuditedAdmin, PrettyJSONField, ReadOnlyMixin
from revops.admin.links import why_url

from .models import Checklist, Handoff
from .services import checklist_save, checklist_validate


class ChecklistForm(forms.ModelForm):
    class Meta:
        model = Checklist
        fields = (
            "name",
            "description",
            "is_active",
            "trigger_stage",
            "conditions",
            "required_fields",
            "attestations",
            "receiving_team",
            "owner_rule",
            "owner_rep",
            "owner_field",
            "accept_within_hours",
            "tasks",
        )

    def clean(self):
        cleaned = super().clean()
        for name, empty in (("conditions", dict), ("required_fields", list), ("attestations", list), ("tasks", list)):
            if cleaned.get(name) is None:
                cleaned[name] = empty()  # a blank box means "none"
        return cleaned

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        try:
            checklist_validate(self.instance)
        except ValidationError as exc:
            self._update_errors(exc)


@admin.register(Checklist)
class ChecklistAdmin(AuditedAdmin):
    form = ChecklistForm
    list_display = (
        "name",
        "trigger_stage",
        "field_count",
        "attestation_count",
        "receiving_team",
        "owner_rule",
        "is_active",
    )
    list_filter = ("is_active", "owner_rule")
    search_fields = ("name", "description")
    formfield_overrides = {**AuditedAdmin.formfield_overrides}
    fieldsets = (
        (None, {"fields": ("name", "description", "is_active")}),
        ("When it applies", {"fields": ("trigger_stage", "conditions")}),
        ("What must be there", {"fields": ("required_fields", "attestations")}),
        (
            "Who receives it",
            {"fields": ("receiving_team", "owner_rule", "owner_rep", "owner_field", "accept_within_hours")},
        ),
        ("Downstream work", {"fields": ("tasks",)}),
    )

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        for name in ("conditions", "required_fields", "attestations", "tasks"):
            if name in form.base_fields:
                field = form.base_fields[name]
                form.base_fields[name] = PrettyJSONField(
                    required=False, help_text=field.help_text, widget=field.widget, label=field.label
                )
        return form

    @admin.display(description="fields")
    def field_count(self, obj):
        return len(obj.required_fields or [])

    @admin.display(description="attestations")
    def attestation_count(self, obj):
        return len(obj.attestations or [])

    def perform_save(self, request, obj, form, change, *, reason: str) -> None:
        checklist_save(checklist=obj, actor=request.user, reason=reason)


@admin.register(Handoff)
class HandoffAdmin(ReadOnlyMixin, AuditedAdmin):
    list_display = ("deal", "checklist", "status", "missing_summary", "receiver", "ready_at", "sent_at")
    list_filter = ("status", "checklist")
    search_fields = ("opportunity__name", "opportunity__external_id")
    list_select_related = ("opportunity", "checklist", "receiver")

    @admin.display(description="deal", ordering="opportunity__name")
    def deal(self, obj):
        return format_html('<a href="{}">{}</a>', why_url("opportunity", obj.opportunity_id), obj.opportunity)

    @admin.display(description="missing")
    def missing_summary(self, obj):
        return ", ".join(m.get("label") or m.get("key", "?") for m in obj.missing or []) or "—"
