"""Admin for the revenue data dictionary.

The list makes the governance visible at a glance: whether an entry is a core column or a
custom attribute, its source of truth, owning team, requirement and PII/deprecated flags.
Core entries mirror a table column, so their object, key and type are read-only and they
cannot be deleted; edits and deletions go through ``revops.services``.
"""

from __future__ import annotations

import contextvars

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from revops import selectors, services
from revops.models import Enforcement, FieldDefinition, FieldType, Normaliser, Required, Team
from revops.normalise import EXAMPLES
from revops.plugins import field_users
from revops.validation import text_problem

from .base import AuditedAdmin, badge, remap_form_errors

SOURCE_TONES = {
    "crm": "info",
    "billing": "warn",
    "product_usage": "custom",
    "marketing_automation": "core",
    "enrichment": "neutral",
    "portal": "ok",
    "manual": "neutral",
}
CORE_READONLY = ("object_type", "key", "field_type", "is_core", "reference_to", "allowed_values")

# The changelist computes "which automations use which field" once per request (see ``changelist_view``).
_automation_usage: contextvars.ContextVar[dict | None] = contextvars.ContextVar("automation_usage", default=None)


def automation_usage_map() -> dict[str, list]:
    """``{"lead.country": [automation, …]}`` from every automation's derived ``fields_used`` (one query).

    The registry is small (tens to hundreds of rules), so reading it whole beats a per-row JSON
    containment query and works on every database.
    """
    from revops.models import Automation

    usage: dict[str, list] = {}
    for automation in Automation.objects.only("pk", "name", "mode", "fields_used").order_by("name"):
        for path in automation.fields_used or []:
            usage.setdefault(path, []).append(automation)
    return usage


class ValueListField(forms.CharField):
    """A list of strings edited as one value per line."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 40})

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value):
        if isinstance(value, list | tuple):
            return list(value)
        text = super().to_python(value) or ""
        problem = text_problem(text)
        if problem is not None:
            raise ValidationError(f"The text {problem}.")
        values = [line.strip() for line in text.splitlines() if line.strip()]
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            raise ValidationError(f"Listed more than once: {', '.join(duplicates)}.")
        return values

    def has_changed(self, initial, data):
        try:
            return list(initial or []) != self.to_python(data)
        except ValidationError:
            return True


class DatalistInput(forms.TextInput):
    """A text input suggesting existing values (an HTML ``<datalist>``), free text still allowed."""

    def __init__(self, options, attrs=None):
        super().__init__(attrs)
        self.options = options

    def render(self, name, value, attrs=None, renderer=None):
        list_id = f"{name}-suggestions"
        attrs = {**(attrs or {}), "list": list_id, "autocomplete": "off"}
        html = super().render(name, value, attrs, renderer)
        options = format_html_join("", '<option value="{}">', ((option,) for option in self.options()))
        return format_html('{}<datalist id="{}">{}</datalist>', html, list_id, options)


def owning_team_options() -> list[str]:
    names = set(FieldDefinition.objects.values_list("owning_team", flat=True).distinct())
    names |= set(Team.objects.filter(parent__isnull=True).values_list("name", flat=True))
    return sorted(name for name in names if name)


class FieldDefinitionForm(forms.ModelForm):
    allowed_values = ValueListField(
        required=False, help_text="Choice and multiple-choice fields only: one allowed value per line."
    )
    required_from = ValueListField(
        required=False,
        label="Required from",
        help_text="With 'from given stages/statuses on': one stage or status value per line, e.g. closed_won.",
    )

    class Meta:
        model = FieldDefinition
        fields = services.DICTIONARY_EDITABLE_FIELDS
        widgets = {
            "owning_team": DatalistInput(owning_team_options),
            "definition": forms.Textarea(attrs={"rows": 3, "cols": 80}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "enforcement" in self.fields:
            self.fields["enforcement"].required = False  # left out: reject, as before the mode existed
        if "normalise" in self.fields:
            self.fields["normalise"].required = False  # left out: trimmed text only
            examples = "; ".join(
                f'{Normaliser(kind).label.split(" →")[0]}: "{raw.strip()}" → {stored}'
                for kind, (raw, stored) in EXAMPLES.items()
                if kind != Normaliser.NONE
            )
            self.fields["normalise"].help_text += f" Examples — {examples}."

    def clean_normalise(self):
        return self.cleaned_data.get("normalise") or Normaliser.NONE

    def clean_enforcement(self):
        return self.cleaned_data.get("enforcement") or Enforcement.REJECT

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        stored = FieldDefinition.objects.filter(pk=self.instance.pk).first() if self.instance.pk else None
        try:
            services.dictionary_field_validate(field=self.instance, stored=stored)
        except ValidationError as error:
            remap_form_errors(self, error)


class KindFilter(admin.SimpleListFilter):
    title = "core or custom"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [("core", "Core column"), ("custom", "Custom attribute")]

    def queryset(self, request, queryset):
        if self.value() == "core":
            return queryset.filter(is_core=True)
        if self.value() == "custom":
            return queryset.filter(is_core=False)
        return queryset


@admin.register(FieldDefinition)
class FieldDefinitionAdmin(AuditedAdmin):
    form = FieldDefinitionForm
    list_display = (
        "field_key",
        "kind",
        "type_display",
        "source",
        "required_display",
        "flags",
        "automation_count",
    )
    list_display_links = ("field_key",)
    list_filter = (
        "object_type",
        KindFilter,
        "field_type",
        "source_of_truth",
        ("owning_team", admin.AllValuesFieldListFilter),
        "required",
        "enforcement",
        "normalise",
        "is_pii",
        "is_deprecated",
    )
    search_fields = ("key", "label", "definition", "owning_team")
    search_help_text = "Search by key, label, definition or owning team."
    ordering = ("object_type", "-is_core", "key")
    list_per_page = 100
    fieldsets = (
        (None, {"fields": ("object_type", "key", "label", "definition")}),
        ("Type", {"fields": ("is_core", "field_type", "allowed_values", "reference_to", "normalise")}),
        (
            "Governance",
            {
                "fields": (
                    "source_of_truth",
                    "owning_team",
                    ("required", "required_from"),
                    "enforcement",
                    ("is_pii", "is_deprecated"),
                )
            },
        ),
        ("Usage", {"fields": ("usage", "used_by_automations", "created_at", "updated_at")}),
    )

    # Read-only rules ------------------------------------------------------------------------

    def get_readonly_fields(self, request, obj=None):
        readonly = [*super().get_readonly_fields(request, obj), "usage", "used_by_automations", "kind"]
        if obj is not None and obj.pk and obj.is_core:
            readonly = [*CORE_READONLY, *readonly]
        return readonly

    def get_fieldsets(self, request, obj=None):
        if obj is None:  # nothing to show about usage yet
            return self.fieldsets[:-1]
        (name, options), *rest = self.fieldsets
        return ((name, {**options, "fields": ("kind", *options["fields"])}), *rest)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_core:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        # Entries are deleted one at a time, after the delete page says what depends on them.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and not obj.is_core:
            blockers = services.dictionary_field_delete_blockers(field=obj)
            if blockers:
                for message in blockers:
                    self.message_user(request, message, messages.ERROR)
                return HttpResponseRedirect(reverse("admin:revops_fielddefinition_change", args=[obj.pk]))
        return super().delete_view(request, object_id, extra_context)

    def changelist_view(self, request, extra_context=None):
        token = _automation_usage.set(automation_usage_map())
        try:
            response = super().changelist_view(request, extra_context)
            if hasattr(response, "render"):
                response.render()  # columns read the map while rendering
            return response
        finally:
            _automation_usage.reset(token)

    # Writes go through the dictionary services ----------------------------------------------

    def perform_save(self, request, obj, form, change, *, reason):
        if change:
            changes = {
                name: getattr(obj, name) for name in form.changed_data if name in services.DICTIONARY_EDITABLE_FIELDS
            }
            services.dictionary_field_update(field=obj, actor=request.user, reason=reason, **changes)
            return
        values = {name: getattr(obj, name) for name in services.DICTIONARY_EDITABLE_FIELDS}
        created = services.dictionary_field_create(actor=request.user, reason=reason, **values)
        obj.pk = created.pk
        obj.created_at, obj.updated_at = created.created_at, created.updated_at
        obj._state.adding = False
        obj._state.db = created._state.db

    def perform_delete(self, request, obj, *, reason):
        services.dictionary_field_delete(field=obj, actor=request.user, reason=reason)

    # Columns --------------------------------------------------------------------------------

    @admin.display(description="field", ordering="key")
    def field_key(self, obj):
        return format_html(
            '<code><span class="rv-object">{}.</span>{}</code><br><span class="rv-label">{}</span>',
            obj.object_type,
            obj.key,
            obj.label,
        )

    @admin.display(description="core/custom", ordering="-is_core")
    def kind(self, obj):
        if obj is None:
            return "—"
        if obj.is_core:
            return badge("Core column", "core", "A column of the record's table")
        return badge("Custom attribute", "custom", "Stored in the record's attributes JSON")

    @admin.display(description="type", ordering="field_type")
    def type_display(self, obj):
        label = obj.get_field_type_display()
        if obj.field_type == FieldType.REFERENCE and obj.reference_to:
            return f"{label} → {obj.reference_to}"
        if obj.field_type in (FieldType.CHOICE, FieldType.MULTI_CHOICE) and obj.allowed_values:
            values = ", ".join(obj.allowed_values)
            return format_html(
                '{} <span class="rv-muted" title="{}">({} values)</span>', label, values, len(obj.allowed_values)
            )
        if obj.normalise and obj.normalise != Normaliser.NONE:
            return format_html(
                '{} <span class="rv-muted" title="Normalised on ingest">· {}</span>', label, obj.get_normalise_display()
            )
        return label

    @admin.display(description="source of truth", ordering="source_of_truth")
    def source(self, obj):
        return badge(obj.get_source_of_truth_display(), SOURCE_TONES.get(obj.source_of_truth, "neutral"))

    @admin.display(description="required", ordering="required")
    def required_display(self, obj):
        prompt = " (store and raise)" if obj.enforcement == Enforcement.PROMPT else ""
        if obj.required == Required.ALWAYS:
            return badge(f"Always{prompt}", "danger")
        if obj.required == Required.FROM_STAGES:
            return badge(f"From {', '.join(obj.required_from or [])}{prompt}", "warn")
        return format_html('<span class="rv-muted">{}</span>', "Optional")

    @admin.display(description="flags")
    def flags(self, obj):
        shown = []
        if obj.is_pii:
            shown.append(badge("PII", "danger", "Personal data: handle under the privacy policy"))
        if obj.is_deprecated:
            shown.append(badge("Deprecated", "warn", "Do not use in new rules or integrations"))
        return format_html_join(" ", "{}", ((item,) for item in shown)) if shown else ""

    @admin.display(description="used by")
    def usage(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        model = selectors.record_model(obj.object_type)
        if obj.is_core:
            return f"Every {model._meta.verbose_name} (a table column)."
        count = selectors.dictionary_field_usage(object_type=obj.object_type, key=obj.key)
        return f"{count} {model._meta.verbose_name if count == 1 else model._meta.verbose_name_plural} hold a value."

    @admin.display(description="automations")
    def automation_count(self, obj):
        usage = _automation_usage.get()
        if usage is None:
            usage = automation_usage_map()
        using = usage.get(f"{obj.object_type}.{obj.key}", [])
        if not using:
            return ""
        names = ", ".join(automation.name for automation in using)
        url = reverse("admin:revops_automation_changelist") + f"?uses={obj.object_type}.{obj.key}"
        return format_html('<a href="{}" title="Used by: {}">{}</a>', url, names, len(using))

    @admin.display(description="used by")
    def used_by_automations(self, obj):
        """Everything that reads the field: automations, routing rules, SLA policies, checklists, scoring
        models, stages, duplicate rules (``revops.plugins.field_users``); active ones block deleting,
        deprecating or retyping it."""
        if obj is None or obj.pk is None:
            return "—"
        users = field_users(obj.object_type, obj.key)
        if not users:
            return "Nothing configured reads this field."
        items = format_html_join(
            "",
            "<li>{}: {} {}</li>",
            (
                (
                    user.kind,
                    format_html('<a href="{}">{}</a>', user.url, user.name) if user.url else user.name,
                    badge("Active", "ok") if user.active else badge("Not active"),
                )
                for user in users
            ),
        )
        return format_html('<ul class="rv-used-by">{}</ul>', items)


AUTOMATION_MODE_TONES = {"live": "ok", "shadow": "info", "draft": "neutral", "paused": "warn", "retired": "neutral"}
