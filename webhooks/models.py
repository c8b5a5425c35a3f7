"""Outbound webhooks: the changes feed pushed to the CRM's receivers, signed, in order, retried."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from revops.models import ApiToken


class WebhookSubscription(models.Model):
    """A receiver URL that gets the changes feed's entries of the kinds it wants, in feed order.

    Entries go out in batches (``WebhookDelivery``), each POSTed as JSON and signed with HMAC-SHA256 over
    ``"<timestamp>.<body>"`` with the subscription's secret. ``cursor`` is the last feed id handed to a
    delivery. A failed delivery is retried with exponential backoff, and nothing later is sent before it
    (the receiver never sees entries out of order); after ``WEBHOOK_MAX_FAILURES`` failures in a row the
    subscription pauses itself and its owner gets an exception item. The pull feed stays the source of
    truth: a receiver that lost something can always read ``GET /api/v1/changes/?after=<cursor>``.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"

    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(max_length=500, help_text="The receiver: an https:// (or http:// inside your network) URL.")
    token = models.ForeignKey(
        ApiToken,
        on_delete=models.PROTECT,
        related_name="webhook_subscriptions",
        help_text="The integration this push belongs to; revoking the token stops the push.",
    )
    kinds = models.JSONField(
        default=list, blank=True, help_text="The feed entry kinds to push; none ticked means every kind."
    )
    secret = models.CharField(max_length=80, help_text="The signing secret (shown once when created or rotated).")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    paused_reason = models.CharField(max_length=255, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who looks after this integration: the person told when it pauses itself.",
    )
    cursor = models.BigIntegerField(default=0, help_text="The last feed entry id handed to a delivery.")
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["cursor", "consecutive_failures", "last_success_at"])

    class Meta:
        ordering = ["name"]
        verbose_name = "webhook subscription"

    def __str__(self):
        return self.name


class WebhookDelivery(models.Model):
    """One POST of a batch of feed entries (or a replay of an earlier one) and what the receiver answered."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        DELIVERED = "delivered", "Delivered"

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    first_entry_id = models.BigIntegerField()
    last_entry_id = models.BigIntegerField()
    entry_count = models.PositiveIntegerField()
    body = models.JSONField(help_text="What is POSTed (replays send it again as it was).")
    replay_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(
                fields=["subscription", "id"],
                condition=models.Q(status="pending"),
                name="webhook_delivery_pending",
            )
        ]

    def __str__(self):
        return f"Delivery {self.pk} to {self.subscription}"
