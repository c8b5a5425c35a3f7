"""Shared admin building blocks: audited writes through services, record forms, badges, filters.

``AuditedAdmin`` is the base of every admin in the portal. Its ``save_model``/``delete_model``
wrap the write in ``audited(actor=request.user, reason="admin: …")`` so each history row says
who changed what from the admin, and hand the write to a service (``perform_save`` /
``perform_delete``); subclasses override those two to call their own services.
"""

from __future__ import annotations

import json
import math
import sys

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import models, transaction
from django.http import Http404
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from revops import services
from revops.access import reach, record_visibility_q
from revops.audit import audited
from revops.validation import (
    MAX_VALUE_DEPTH,
    REGION_REFERENCES,
    NestingTooDeep,
    NonFinite,
    safe_text,
    text_problem,
    unstorable_errors,
)

from .history import PlainHistoryHelper
from .versions import VersionsMixin

TIMESTAMP_FIELDS = ("created_at", "updated_at")


class ReadOnlyMixin:
    """Rows the portal writes itself (API, workers, engine): viewable and filterable, never edited here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Display helpers -------------------------------------------------------------------------


def _differs_from_stored(obj) -> list[str]:
    """Fields of ``obj`` whose value differs from the saved row (a revert's form compares to the old version)."""
    stored = type(obj)._default_manager.filter(pk=obj.pk).first()
    if stored is None:
        return []
    return [
        f.name
        for f in obj._meta.concrete_fields
        if f.name not in TIMESTAMP_FIELDS and getattr(obj, f.attname) != getattr(stored, f.attname)
    ]


def admin_change_reason(request, form, change: bool, obj=None) -> str:
    """The history reason for an admin save: what changed, or that it was created or reverted."""
    if not change:
        return "admin: created"
    match = getattr(request, "resolver_match", None)
    if match is not None and (match.url_name or "").endswith("_simple_history"):
        version = match.args[-1] if match.args else "?"
        fields = ", ".join(_differs_from_stored(obj)) if obj is not None else ""
        return f"admin: reverted to version {version} ({fields or 'no changes'})"
    fields = ", ".join(form.changed_data) if form is not None and form.changed_data else "saved without changes"
    return f"admin: changed {fields}"


def badge(text, tone: str = "neutral", title: str = ""):
    """A small coloured label. Tones: core, custom, ok, warn, danger, info, neutral."""
    return format_html('<span class="rv-badge rv-{}" title="{}">{}</span>', tone, title, text)


def admin_link(obj, text=None):
    """A link to ``obj``'s admin change page, or "—" when there is no object."""
    if obj is None:
        return "—"
    try:
        url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return str(obj)
    return format_html('<a href="{}">{}</a>', url, text if text is not None else str(obj))


def pretty_json(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def json_block(value):
    """A JSON value as an indented, read-only block."""
    if value in (None, {}, []):
        return "—"
    return format_html('<pre class="rv-json">{}</pre>', pretty_json(value))


def attributes_table(obj):
    """Custom attributes as a table labelled from the data dictionary; unknown keys are flagged."""
    from revops.models import FieldDefinition

    attributes = getattr(obj, "attributes", None) or {}
    if not attributes:
        return "—"
    definitions = {
        d.key: d for d in FieldDefinition.objects.filter(object_type=obj._meta.model_name, key__in=list(attributes))
    }
    rows = []
    for key in sorted(attributes):
        value = attributes[key]
        if isinstance(value, list):
            shown = ", ".join(map(str, value)) or "—"
        else:
            shown = "—" if value in (None, "") else value
        definition = definitions.get(key)
        if definition is None:
            note = badge("not in dictionary", "danger", "No dictionary entry defines this key.")
            label = key
        else:
            label = definition.label
            note = badge(definition.get_source_of_truth_display(), "info", "Source of truth")
            if definition.is_deprecated:
                note = format_html("{} {}", note, badge("deprecated", "warn"))
        rows.append((label, key, shown, note))
    body = format_html_join("", "<tr><th>{}<br><code>{}</code></th><td>{}</td><td>{}</td></tr>", rows)
    return format_html('<table class="rv-attributes"><tbody>{}</tbody></table>', body)


def raw_values_table(obj):
    """What the CRM sent for fields a dictionary normaliser rewrote, next to the stored value."""
    raw = getattr(obj, "raw_values", None) or {}
    if not raw:
        return "—"
    from revops.models import FieldDefinition

    labels = dict(
        FieldDefinition.objects.filter(object_type=obj._meta.model_name, key__in=list(raw)).values_list("key", "label")
    )
    attributes = getattr(obj, "attributes", None) or {}
    rows = []
    for key in sorted(raw):
        try:
            stored = getattr(obj, obj._meta.get_field(key).attname)
        except Exception:
            stored = attributes.get(key)
        rows.append((labels.get(key, key), key, raw[key], "—" if stored in (None, "") else stored))
    body = format_html_join("", "<tr><th>{}<br><code>{}</code></th><td>sent “{}”</td><td>stored {}</td></tr>", rows)
    return format_html('<table class="rv-attributes"><tbody>{}</tbody></table>', body)


def dictionary_problems(obj) -> list[str]:
    """What the data dictionary's validator says about a record's custom attributes and requirements."""
    from revops.validation import validator_for

    object_type = obj._meta.model_name
    validator = validator_for(object_type)
    existing = {}
    for key, spec in validator.specs.items():
        if not spec.is_core:
            continue
        try:
            existing[key] = getattr(obj, obj._meta.get_field(key).attname)
        except Exception:
            continue
    result = validator.validate(dict(getattr(obj, "attributes", None) or {}), existing=existing)
    gaps = [f"{key}: {message}" for key, messages in result.gaps.items() for message in messages]
    return result.messages() + gaps


def dictionary_check(obj):
    if obj is None or obj.pk is None:
        return "—"
    problems = dictionary_problems(obj)
    if not problems:
        return badge("✓ matches the data dictionary", "ok")
    items = format_html_join("", "<li>{}</li>", ((p,) for p in problems))
    return format_html('{}<ul class="rv-problems">{}</ul>', badge(f"{len(problems)} problem(s)", "danger"), items)


# --- Forms -----------------------------------------------------------------------------------


def _parse_float(text: str):
    value = float(text)
    return value if math.isfinite(value) else NonFinite(text)


class SafeJSONField(forms.JSONField):
    """A JSON form field that refuses, as a form error, what the database or JSON layer cannot carry.

    NUL characters (raw or escaped), lone surrogates, bare ``NaN``/``Infinity``, numbers too large
    for a float, nesting deeper than ``MAX_VALUE_DEPTH`` and integers too long to parse each become
    an error on the field saying what is accepted (the checks of ``revops.validation``).
    """

    def to_python(self, value):
        if self.disabled:
            return value
        if value in self.empty_values:
            return None
        if isinstance(value, list | dict | int | float | forms.fields.JSONString):
            return value
        text = str(value)
        problem = text_problem(text)
        if problem is not None and "\x00" in text:
            raise ValidationError("Enter valid JSON: the text may not contain NUL characters.", code="invalid")
        try:
            converted = json.loads(text, cls=self.decoder, parse_constant=NonFinite, parse_float=_parse_float)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"Enter valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.", code="invalid"
            ) from None
        except RecursionError:
            raise ValidationError(_TOO_DEEP, code="invalid") from None
        except ValueError:  # an integer of more than sys.get_int_max_str_digits() digits
            raise ValidationError(
                f"Enter valid JSON: a number has more than {sys.get_int_max_str_digits()} digits; use a shorter "
                "number.",
                code="invalid",
            ) from None
        if problem is not None:  # a lone surrogate in the raw text (it cannot arrive in a form's UTF-8 body)
            raise ValidationError(f"Enter valid JSON: the text {problem}.", code="invalid")
        try:
            errors = unstorable_errors({"value": converted})
        except (NestingTooDeep, RecursionError):
            raise ValidationError(_TOO_DEEP, code="invalid") from None
        if errors:
            messages = [
                ("a text value " if message.startswith("contains ") else "") + message.replace("; send ", "; use ")
                for message in next(iter(errors.values()))
            ]
            raise ValidationError([f"Enter valid JSON: {message}." for message in messages], code="invalid")
        if isinstance(converted, str):
            return forms.fields.JSONString(converted)
        return converted

    def bound_data(self, data, initial):
        if self.disabled:
            return initial
        if data is None:
            return None
        try:
            return self.to_python(data)
        except ValidationError:  # shown again as typed, with what cannot be rendered escaped
            return forms.fields.InvalidJSONInput(safe_text(str(data)))


_TOO_DEEP = (
    f"Enter valid JSON nested at most {MAX_VALUE_DEPTH} levels deep: this value is nested more than "
    f"{MAX_VALUE_DEPTH} levels."
)


class PrettyJSONField(SafeJSONField):
    """A JSON form field that shows its value indented."""

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, cls=self.encoder)


class RecordAdminForm(forms.ModelForm):
    """Record form whose custom ``attributes`` are checked against the data dictionary."""

    def clean_attributes(self):
        from revops.validation import validator_for

        value = self.cleaned_data.get("attributes")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise ValidationError('Custom attributes must be a JSON object, e.g. {"use_case": "…"}.')
        object_type = self._meta.model._meta.model_name
        validator = validator_for(object_type)
        problems = []
        custom = {}
        for key, raw in value.items():
            spec = validator.specs.get(key)
            if spec is None or spec.is_core:
                problems.append(f"{key}: the data dictionary defines no custom {object_type} field {key!r}")
            else:
                custom[key] = raw
        # The record's country (a contact's: its account's) is the region of national phone numbers.
        region_from = REGION_REFERENCES.get(object_type)
        holder = getattr(self.instance, region_from, None) if region_from else self.instance
        result = validator.validate(custom, existing={"country": getattr(holder, "country", None)})
        problems += [
            f"{key}: {message}" for key, messages in result.errors.items() if key in custom for message in messages
        ]
        if problems:
            raise ValidationError(problems)
        # Values a dictionary normaliser rewrote are stored in their normalised form, as the sync does.
        return {**value, **{key: result.attributes[key] for key in result.raw if key in result.attributes}}


def remap_form_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Add a model/service ``ValidationError`` to ``form``; errors on fields not in the form become form errors."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, messages in error.error_dict.items():
        target = name if name in form.fields else None
        for message in messages:
            text = " ".join(message.messages)
            form.add_error(target, text if target or name == NON_FIELD_ERRORS else f"{name}: {text}")


# --- List filters ----------------------------------------------------------------------------


class OwnerFilter(admin.SimpleListFilter):
    """Assigned / unassigned / owned by someone who cannot work it (inactive or out of office)."""

    title = "owner"
    parameter_name = "owner_state"
    owner_field = "owner"

    def lookups(self, request, model_admin):
        return [
            ("unassigned", "Unassigned"),
            ("assigned", "Assigned"),
            ("inactive", "Owner inactive"),
            ("ooo", "Owner out of office"),
        ]

    def queryset(self, request, queryset):
        owner = self.owner_field
        value = self.value()
        if value == "unassigned":
            return queryset.filter(**{f"{owner}__isnull": True})
        if value == "assigned":
            return queryset.filter(**{f"{owner}__isnull": False})
        if value == "inactive":
            return queryset.filter(**{f"{owner}__is_active": False})
        if value == "ooo":
            return queryset.filter(**{f"{owner}__out_of_office_until__gt": timezone.now()})
        return queryset


class CachedValuesFilter(admin.SimpleListFilter):
    """Filter by a column's distinct values, computed at most every few minutes (big tables)."""

    field_name = ""
    cache_seconds = 600

    def lookups(self, request, model_admin):
        from django.core.cache import cache

        model = model_admin.model
        key = f"admin-values:{model._meta.label_lower}:{self.field_name}"

        def compute():
            values = model._default_manager.exclude(**{self.field_name: ""}).values_list(self.field_name, flat=True)
            return sorted(set(values.distinct().order_by()))

        try:
            values = cache.get_or_set(key, compute, self.cache_seconds)
        except Exception:  # the cache is a convenience: without Redis, query every time
            values = compute()
        return [(value, value) for value in values]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(**{self.field_name: value}) if value else queryset


def values_filter(field_name: str, title: str | None = None) -> type[CachedValuesFilter]:
    """A ``CachedValuesFilter`` for ``field_name``."""
    return type(
        f"{field_name.title().replace('_', '')}ValuesFilter",
        (CachedValuesFilter,),
        {"field_name": field_name, "parameter_name": field_name, "title": title or field_name.replace("_", " ")},
    )


# --- Admin bases -----------------------------------------------------------------------------


class AuditedAdmin(VersionsMixin, SimpleHistoryAdmin):
    """Every admin write goes through a service inside ``audited(actor=request.user, reason=…)``."""

    list_per_page = 50
    object_history_form_template = "admin/revops/object_history_form.html"
    formfield_overrides = {
        models.JSONField: {"form_class": PrettyJSONField, "widget": forms.Textarea(attrs={"rows": 8, "cols": 80})}
    }

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        names = {f.name for f in self.model._meta.get_fields()}
        readonly += [name for name in TIMESTAMP_FIELDS if name in names and name not in readonly]
        return readonly

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method != "POST":
            return super().changeform_view(request, object_id, form_url, extra_context)
        # One block around the object and its inlines: one version per save (revops.versions).
        with audited(actor=request.user, reason="admin: saved"):
            return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        reason = admin_change_reason(request, form, change, obj)
        with audited(actor=request.user, reason=reason):
            self.perform_save(request, obj, form, change, reason=reason)

    def delete_model(self, request, obj):
        reason = "admin: deleted"
        with audited(actor=request.user, reason=reason):
            self.perform_delete(request, obj, reason=reason)

    def get_historical_record_context_helper(self, request, historical_record):
        return PlainHistoryHelper(self.model, historical_record)

    def history_view(self, request, object_id, extra_context=None):
        self._require_not_hidden(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        """simple-history's *Revert* form. Its POST saves the whole old version, fields this person may
        not change included, so it needs the right to change the history (``revert_disabled`` false)."""
        self._require_not_hidden(request, object_id)
        if request.method == "POST":
            obj = self.get_object(request, unquote(str(object_id)))
            if obj is None or self.revert_disabled(request, obj):
                raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def _require_not_hidden(self, request, object_id) -> None:
        """404 for an object that exists but ``get_queryset`` hides from this user (a manager and another
        team's queue): simple_history would otherwise fall back to the history table and show it."""
        object_id = unquote(str(object_id))
        if self.get_object(request, object_id) is not None:
            return
        try:
            exists = self.model._default_manager.filter(pk=object_id).exists()
        except (ValueError, TypeError, ValidationError):
            return  # a malformed id: simple_history answers it as any unknown id
        if exists:
            raise Http404(f"No {self.model._meta.verbose_name} with id {object_id}.")

    def delete_queryset(self, request, queryset):
        reason = "admin: deleted (bulk action)"
        with transaction.atomic(), audited(actor=request.user, reason=reason):
            for obj in queryset:
                self.perform_delete(request, obj, reason=reason)

    def perform_save(self, request, obj, form, change, *, reason: str) -> None:
        """Write ``obj`` through its service. CRM records use the record service; admins of other
        models override this with their own service (a plain save is the last resort)."""
        if isinstance(obj, services.RECORD_MODELS):
            services.record_save(instance=obj, actor=request.user, reason=reason)
        else:
            obj.save()

    def perform_delete(self, request, obj, *, reason: str) -> None:
        if isinstance(obj, services.RECORD_MODELS):
            services.record_delete(instance=obj, actor=request.user, reason=reason)
        else:
            obj.delete()


# The record types of ``revops.access`` by model name: what each role may read (a rep their own, a
# manager their teams' with sub-teams, RevOps everything), in the admin as in the API.
SCOPED_TYPES = {
    "team": "teams",
    "rep": "reps",
    "account": "accounts",
    "contact": "contacts",
    "lead": "leads",
    "opportunity": "opportunities",
    "activity": "activities",
    "task": "tasks",
}


class RowScopedMixin:
    """For an admin whose ``get_queryset`` narrows the rows to what the user may read: an object outside
    them is not viewable either, so its pages are hidden and the permission says the same."""

    def has_view_permission(self, request, obj=None):
        if not super().has_view_permission(request, obj):
            return False
        return obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()


class TeamScopedFilter(admin.RelatedFieldListFilter):
    """A team filter on a scoped list: a manager chooses among their own teams only (RevOps every team)."""

    def field_choices(self, field, request, model_admin):
        choices = super().field_choices(field, request, model_admin)
        scope = reach(request.user)
        if scope is None:
            return choices
        return [(pk, label) for pk, label in choices if pk in scope[1]]


class RecordAdmin(AuditedAdmin):
    """Admin for a CRM mirror record: dictionary-checked custom attributes shown as a table. Rows are
    scoped like the read API: another team's record is not listed, and its pages are a 404."""

    form = RecordAdminForm

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        object_type = SCOPED_TYPES.get(self.model._meta.model_name)
        condition = record_visibility_q(user=request.user, object_type=object_type) if object_type else None
        return queryset if condition is None else queryset.filter(condition)

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return readonly if "raw_values_display" in readonly else [*readonly, "raw_values_display"]

    @admin.display(description="custom attributes")
    def attributes_display(self, obj):
        return attributes_table(obj)

    @admin.display(description="values as sent")
    def raw_values_display(self, obj):
        return raw_values_table(obj)

    @admin.display(description="dictionary check")
    def dictionary_check(self, obj):
        return dictionary_check(obj)


class BigTableAdmin(RecordAdmin):
    """For tables with many rows: no full ``COUNT(*)`` on filtered lists."""

    show_full_result_count = False
