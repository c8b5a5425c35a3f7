"""Admin for webhooks: subscriptions (RevOps creates, edits, pauses, resumes, rotates the secret) and the
delivery log (read-only, with replay). The signing secret is shown once, in the message after it is made."""

from __future__ import annotations

from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html

from revops.admin.base import AuditedAdmin, ReadOnlyMixin, badge
from revops.models import ChangeEntry
from revops.values import datetime_text

from .models import WebhookDelivery, WebhookSubscription
from .services import (
    delivery_replay,
    secret_rotate,
    subscription_create,
    subscription_pause,
    subscription_resume,
    subscription_save,
)


class SubscriptionForm(forms.ModelForm):
    url = forms.URLField(
        assume_scheme="https",
        max_length=500,
        label="Receiver URL",
        help_text="Where the entries are POSTed: https://… (or http://… inside your own network).",
    )
    kinds = forms.MultipleChoiceField(
        choices=ChangeEntry.Kind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Which decisions to push; none ticked: every kind.",
    )

    class Meta:
        model = WebhookSubscription
        fields = ["name", "url", "token", "kinds", "owner"]


def _kinds_text(kinds) -> str:
    labels = dict(ChangeEntry.Kind.choices)
    return ", ".join(labels.get(k, k) for k in kinds) if kinds else "Every kind"


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(AuditedAdmin):
    form = SubscriptionForm
    list_display = ["name", "receiver", "token", "kinds_display", "state", "last_success", "failures"]
    list_filter = ["status"]
    list_select_related = ["token"]
    search_fields = ["name", "url"]
    actions = ["pause", "resume", "rotate_secret"]
    readonly_fields = ["state", "paused_reason", "cursor", "consecutive_failures", "last_success_at", "created_at"]

    @admin.display(description="receiver", ordering="url")
    def receiver(self, obj):
        return urlsplit(obj.url).netloc or obj.url

    @admin.display(description="kinds")
    def kinds_display(self, obj):
        return _kinds_text(obj.kinds)

    @admin.display(description="state", ordering="status")
    def state(self, obj):
        if obj.token_id and obj.token.revoked_at:
            return badge("token revoked", "danger")
        if obj.status == WebhookSubscription.Status.PAUSED:
            return badge("paused", "warn", obj.paused_reason)
        return badge("active", "ok")

    @admin.display(description="last delivered", ordering="last_success_at")
    def last_success(self, obj):
        return datetime_text(obj.last_success_at) if obj.last_success_at else "never"

    @admin.display(description="failures in a row", ordering="consecutive_failures")
    def failures(self, obj):
        return obj.consecutive_failures or "—"

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is not None:
            form.base_fields["kinds"].initial = obj.kinds
        return form

    def perform_save(self, request, obj, form, change, *, reason: str) -> None:
        data = form.cleaned_data
        if change:
            obj.kinds = list(data.get("kinds") or [])
            subscription_save(subscription=obj, actor=request.user, reason=reason)
            return
        sub, secret = subscription_create(
            name=data["name"],
            url=data["url"],
            token=data["token"],
            kinds=list(data.get("kinds") or []),
            owner=data.get("owner"),
            actor=request.user,
        )
        for field in WebhookSubscription._meta.concrete_fields:
            setattr(obj, field.attname, getattr(sub, field.attname))
        obj._state.adding = False
        messages.warning(request, _secret_message(sub, secret))

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("webhooks.delete_webhooksubscription")

    @admin.action(description="Pause selected subscriptions", permissions=["change"])
    def pause(self, request, queryset):
        for sub in queryset.filter(status=WebhookSubscription.Status.ACTIVE):
            subscription_pause(subscription=sub, actor=request.user, reason=f"paused by {request.user}")
        self.message_user(request, "Paused. Entries wait in order and go out when you resume.", messages.SUCCESS)

    @admin.action(description="Resume selected subscriptions (send what waited)", permissions=["change"])
    def resume(self, request, queryset):
        for sub in queryset.filter(status=WebhookSubscription.Status.PAUSED):
            subscription_resume(subscription=sub, actor=request.user)
        self.message_user(request, "Resumed: waiting deliveries are sent first, in order.", messages.SUCCESS)

    @admin.action(description="Rotate the signing secret", permissions=["change"])
    def rotate_secret(self, request, queryset):
        for sub in queryset:
            messages.warning(request, _secret_message(sub, secret_rotate(subscription=sub, actor=request.user)))


def _secret_message(sub, secret: str):
    return format_html(
        "Signing secret for “{}”. Copy it into the receiver now — it is not shown again: <code>{}</code>",
        sub.name,
        secret,
    )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["number", "subscription", "entries", "outcome", "attempts", "answer", "sent", "next_try"]
    list_filter = ["status", "subscription"]
    list_select_related = ["subscription"]
    actions = ["replay"]
    list_per_page = 100

    @admin.display(description="delivery", ordering="pk")
    def number(self, obj):
        return f"#{obj.pk}"

    @admin.display(description="feed entries")
    def entries(self, obj):
        span = f"{obj.first_entry_id}–{obj.last_entry_id}" if obj.entry_count > 1 else str(obj.first_entry_id)
        text = f"{obj.entry_count} ({span})"
        return f"{text}, replay of {obj.replay_of_id}" if obj.replay_of_id else text

    @admin.display(description="outcome", ordering="status")
    def outcome(self, obj):
        if obj.status == WebhookDelivery.Status.DELIVERED:
            return badge("delivered", "ok")
        if obj.attempts:
            return badge("retrying", "warn", obj.last_error)
        return badge("waiting", "info")

    @admin.display(description="receiver answered")
    def answer(self, obj):
        if obj.last_error:
            return obj.last_error[:120]
        return f"HTTP {obj.response_status} in {obj.response_ms} ms" if obj.response_status else "—"

    @admin.display(description="last sent", ordering="last_attempt_at")
    def sent(self, obj):
        return datetime_text(obj.last_attempt_at) if obj.last_attempt_at else "—"

    @admin.display(description="next try", ordering="next_attempt_at")
    def next_try(self, obj):
        if obj.status != WebhookDelivery.Status.PENDING:
            return "—"
        when = obj.next_attempt_at
        return "now" if when is None or when <= timezone.now() else datetime_text(when)

    def has_replay_permission(self, request):
        return request.user.has_perm("webhooks.change_webhooksubscription")

    @admin.action(description="Replay selected deliveries", permissions=["replay"])
    def replay(self, request, queryset):
        count = 0
        for delivery in queryset.select_related("subscription").order_by("pk"):
            delivery_replay(delivery=delivery, actor=request.user)
            count += 1
        self.message_user(request, f"Queued {count} replay(s); they go out after anything already waiting.")
