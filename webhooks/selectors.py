"""Reads of the webhooks app: what a subscription has to send next."""

from __future__ import annotations

from revops.models import ChangeEntry

from .models import WebhookDelivery, WebhookSubscription


def next_pending(subscription: WebhookSubscription) -> WebhookDelivery | None:
    """The oldest delivery still to send (a retry, or a replay); later entries wait behind it."""
    return subscription.deliveries.filter(status=WebhookDelivery.Status.PENDING).order_by("pk").first()


def entries_to_send(subscription: WebhookSubscription, *, limit: int) -> list[ChangeEntry]:
    """Up to ``limit`` feed entries after the subscription's cursor, of the kinds it wants, in feed order."""
    entries = ChangeEntry.objects.filter(id__gt=subscription.cursor)
    if subscription.kinds:
        entries = entries.filter(kind__in=subscription.kinds)
    return list(entries.order_by("id")[:limit])


def subscriptions_with_work(now) -> list[int]:
    """Active subscriptions with a due delivery or feed entries after their cursor (ids)."""
    from django.db.models import Exists, OuterRef, Q

    pending = WebhookDelivery.objects.filter(subscription=OuterRef("pk"), status=WebhookDelivery.Status.PENDING).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    newer = ChangeEntry.objects.filter(id__gt=OuterRef("cursor"))
    return list(
        WebhookSubscription.objects.filter(status=WebhookSubscription.Status.ACTIVE, token__revoked_at__isnull=True)
        .filter(Exists(pending) | Exists(newer))
        .values_list("pk", flat=True)
    )
