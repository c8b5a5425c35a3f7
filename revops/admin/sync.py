"""Admin for the sync area: API tokens, sync batches and failures, idempotency records, outbox, changes feed.

Everything but tokens is read-only: these rows are written by the API and the workers. A token's
secret is shown once, in the message after it is created; its hash is never shown.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from revops.models import ApiToken, ChangeEntry, IdempotencyRecord, OutboxEvent, Scope, SyncBatch, SyncFailure
from revops.sync_review import sync_failure_resolve
from revops.tokens import api_token_create, api_token_revoke

from .base import AuditedAdmin, ReadOnlyMixin, admin_link, badge, json_block


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Rows written by the API and the workers: viewable and filterable, never edited here."""

    list_per_page = 100


# --- API tokens ------------------------------------------------------------------------------


class ApiTokenCreateForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Give an integration only what it needs: a CRM connector needs sync:write and read.",
    )

    class Meta:
        model = ApiToken
        fields = ["name"]


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdmin):
    list_display = ["name", "prefix_display", "scopes_display", "created_at", "created_by", "last_used_at", "state"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["created_by"]
    search_fields = ["name", "prefix"]
    actions = ["revoke"]
    readonly_fields = [
        "name",
        "prefix_display",
        "scopes_display",
        "user",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    fields = readonly_fields

    @admin.display(description="token", ordering="prefix")
    def prefix_display(self, obj):
        return format_html("<code>{}…</code>", obj.prefix)

    @admin.display(description="scopes")
    def scopes_display(self, obj):
        return format_html_join(" ", "{}", ((badge(scope, "info"),) for scope in obj.scopes)) or "—"

    @admin.display(description="state", ordering="revoked_at")
    def state(self, obj):
        if obj.revoked_at:
            return badge("revoked", "danger", f"Revoked {obj.revoked_at:%Y-%m-%d %H:%M}")
        return badge("active", "ok")

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiTokenCreateForm
            kwargs["fields"] = ["name", "scopes"]
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return ["name", "scopes"] if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def has_change_permission(self, request, obj=None):
        return False  # tokens are created and revoked, never edited

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: batches and history keep pointing at the token

    def has_revoke_permission(self, request):
        return request.user.has_perm("revops.change_apitoken")

    def perform_save(self, request, obj, form, change, *, reason: str) -> None:
        token, raw = api_token_create(
            name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"], actor=request.user
        )
        # The admin continues with ``obj`` (log entry, redirect), so give it the created row.
        for field in ApiToken._meta.concrete_fields:
            setattr(obj, field.attname, getattr(token, field.attname))
        obj._state.adding = False
        messages.warning(
            request,
            format_html(
                "Token for “{}” created. Copy it now — it is shown only this once: <code>{}</code>",
                token.name,
                raw,
            ),
        )

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke(self, request, queryset):
        count = 0
        for token in queryset.filter(revoked_at=None):
            api_token_revoke(token=token, actor=request.user)
            count += 1
        self.message_user(request, f"Revoked {count} token(s). Requests using them now get 401.", messages.SUCCESS)


# --- Sync batches and failures ---------------------------------------------------------------


@admin.register(SyncBatch)
class SyncBatchAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "object_type", "token", "record_count", "counts_display", "duration_ms", "received_at"]
    list_filter = ["object_type", "token", "received_at"]
    list_select_related = ["token"]
    search_fields = ["idempotency_key"]
    date_hierarchy = "received_at"
    show_full_result_count = False

    @admin.display(description="results")
    def counts_display(self, obj):
        tones = {"created": "ok", "updated": "info", "unchanged": "neutral", "stale": "warn", "rejected": "danger"}
        items = [(badge(f"{status} {n}", tones.get(status, "neutral")),) for status, n in obj.counts.items() if n]
        if obj.normalised:  # values a dictionary normaliser rewrote, per field
            rewritten = ", ".join(f"{key} {n}" for key, n in sorted(obj.normalised.items()))
            items.append((badge(f"normalised: {rewritten}", "neutral", "Values rewritten on ingest, per field"),))
        return format_html_join(" ", "{}", items) or "—"


class ResolvedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "resolved"

    def lookups(self, request, model_admin):
        return [("no", "Open"), ("yes", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(resolved_at=None)
        if self.value() == "yes":
            return queryset.exclude(resolved_at=None)
        return queryset


class SyncFailureResolveForm(forms.ModelForm):
    resolved_note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        required=True,
        help_text="What was done about it (fixed in the CRM, re-sent, dictionary changed…). Saving marks it resolved.",
    )

    class Meta:
        model = SyncFailure
        fields = ["resolved_note"]


@admin.register(SyncFailure)
class SyncFailureAdmin(admin.ModelAdmin):
    """Records the CRM sent that were rejected; resolve one by writing what was done about it."""

    list_display = ["object_type", "external_id", "errors_display", "token", "batch_link", "created_at", "state"]
    list_filter = [ResolvedFilter, "object_type", "token", "created_at"]
    list_select_related = ["token", "batch"]
    search_fields = ["external_id"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = ["mark_resolved"]
    form = SyncFailureResolveForm
    readonly_fields = [
        "object_type",
        "external_id",
        "errors_display",
        "payload_display",
        "token",
        "batch_link",
        "created_at",
        "resolved_at",
    ]
    fields = [*readonly_fields, "resolved_note"]

    @admin.display(description="errors")
    def errors_display(self, obj):
        rows = (
            (field, "; ".join(map(str, msgs if isinstance(msgs, list) else [msgs])))
            for field, msgs in obj.errors.items()
        )
        return format_html('<ul class="rv-problems">{}</ul>', format_html_join("", "<li><b>{}</b>: {}</li>", rows))

    @admin.display(description="payload")
    def payload_display(self, obj):
        return json_block(obj.payload)

    @admin.display(description="batch")
    def batch_link(self, obj):
        return admin_link(obj.batch)

    @admin.display(description="state", ordering="resolved_at")
    def state(self, obj):
        return badge("resolved", "ok", obj.resolved_note) if obj.resolved_at else badge("open", "warn")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        sync_failure_resolve(failure=obj, note=form.cleaned_data["resolved_note"], actor=request.user)

    @admin.action(description="Mark selected failures resolved", permissions=["change"])
    def mark_resolved(self, request, queryset):
        note = f"Marked resolved from the list by {request.user.get_username()} on {timezone.localdate():%Y-%m-%d}."
        count = 0
        for failure in queryset.filter(resolved_at=None):
            sync_failure_resolve(failure=failure, note=note, actor=request.user)
            count += 1
        self.message_user(request, f"Marked {count} failure(s) resolved. Open one to write a specific note.")


# --- Idempotency, outbox, changes feed -------------------------------------------------------


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ["key", "token", "user", "state", "response_status", "created_at"]
    list_filter = ["state", "response_status", "token"]
    list_select_related = ["token", "user"]
    search_fields = ["key"]
    show_full_result_count = False
    exclude = ["response_body"]
    readonly_fields = ["response_size"]

    @admin.display(description="stored response")
    def response_size(self, obj):
        size = len(obj.response_body) if obj.response_body is not None else 0
        return f"{size} bytes ({obj.response_content_type or '—'})"


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "object_type", "external_id", "kind", "changed_fields", "status", "attempts", "created_at"]
    list_filter = ["status", "object_type", "kind"]
    list_select_related = ["batch"]
    search_fields = ["external_id"]
    show_full_result_count = False
    readonly_fields = ["changes_display"]

    @admin.display(description="changes")
    def changes_display(self, obj):
        return json_block(obj.changes)


@admin.register(ChangeEntry)
class ChangeEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "object_type", "external_id", "reason", "created_at"]
    list_filter = ["kind", "object_type"]
    search_fields = ["external_id", "dedupe_key"]
    show_full_result_count = False
    readonly_fields = ["payload_display"]

    @admin.display(description="payload")
    def payload_display(self, obj):
        return json_block(obj.payload)
