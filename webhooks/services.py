"""Writes of the webhooks app: subscriptions (create, rotate, pause, resume), sending, replaying."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time

import django_rq
import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from exceptions.services import exception_item_open
from revops.audit import audited
from revops.models import ChangeEntry

from .models import WebhookDelivery, WebhookSubscription
from .selectors import entries_to_send, next_pending
from .signing import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, new_secret, signature

logger = logging.getLogger(__name__)

ITEM_KIND = "webhook_paused"
EXPECTED = (
    "Fix the receiver (its answer is in the delivery log), then resume the subscription in the admin: "
    "it sends what waited, in order."
)
DISPATCH_JOB = "webhooks.jobs.webhooks_dispatch"


def _kinds_clean(kinds) -> list[str]:
    known = dict(ChangeEntry.Kind.choices)
    if not isinstance(kinds, list) or any(k not in known for k in kinds):
        raise ValidationError({"kinds": f"Choose among: {', '.join(known.values())}."})
    return sorted(set(kinds))


@transaction.atomic
def subscription_create(*, name: str, url: str, token, kinds=(), owner=None, actor) -> tuple[WebhookSubscription, str]:
    """Create an active subscription starting at the feed's current end; returns it and its secret
    (shown once). ``ValidationError`` names the field that is wrong."""
    if token is not None and token.revoked_at is not None:
        raise ValidationError({"token": f"The token {token.name} is revoked; choose an active one."})
    start = ChangeEntry.objects.aggregate(last=Max("id"))["last"] or 0
    sub = WebhookSubscription(
        name=name, url=url, token=token, kinds=_kinds_clean(list(kinds)), owner=owner, secret=new_secret(), cursor=start
    )
    sub.full_clean()
    with audited(actor=actor, reason=f"webhook subscription {name} created"):
        sub.save()
    return sub, sub.secret


@transaction.atomic
def subscription_save(*, subscription: WebhookSubscription, actor, reason: str = "") -> WebhookSubscription:
    """Validate and save an edited subscription (URL, kinds, owner, token)."""
    subscription.kinds = _kinds_clean(list(subscription.kinds or []))
    subscription.full_clean()
    with audited(actor=actor, reason=reason or f"webhook subscription {subscription.name} changed"):
        subscription.save()
    return subscription


@transaction.atomic
def secret_rotate(*, subscription: WebhookSubscription, actor) -> str:
    """A new signing secret, effective for the next delivery; returns it (shown once)."""
    subscription.secret = new_secret()
    with audited(actor=actor, reason=f"webhook subscription {subscription.name}: secret rotated"):
        subscription.save(update_fields=["secret"])
    return subscription.secret


@transaction.atomic
def subscription_pause(*, subscription: WebhookSubscription, actor, reason: str) -> None:
    """Stop sending (entries keep their place: resuming sends them, in order)."""
    subscription.status, subscription.paused_reason = WebhookSubscription.Status.PAUSED, reason[:255]
    with audited(actor=actor, reason=f"webhook subscription {subscription.name} paused: {reason}"):
        subscription.save(update_fields=["status", "paused_reason"])


@transaction.atomic
def subscription_resume(*, subscription: WebhookSubscription, actor) -> None:
    """Send again from where it stopped: waiting deliveries first, retried at once."""
    subscription.status, subscription.paused_reason = WebhookSubscription.Status.ACTIVE, ""
    subscription.consecutive_failures = 0
    with audited(actor=actor, reason=f"webhook subscription {subscription.name} resumed"):
        subscription.save(update_fields=["status", "paused_reason", "consecutive_failures"])
    subscription.deliveries.filter(status=WebhookDelivery.Status.PENDING).update(next_attempt_at=None)
    transaction.on_commit(lambda: dispatch_enqueue(subscription.pk))


@transaction.atomic
def delivery_replay(*, delivery: WebhookDelivery, actor) -> WebhookDelivery:
    """Send ``delivery``'s body again, as a new delivery after whatever waits (the receiver de-duplicates by
    entry id)."""
    replay = WebhookDelivery.objects.create(
        subscription=delivery.subscription,
        first_entry_id=delivery.first_entry_id,
        last_entry_id=delivery.last_entry_id,
        entry_count=delivery.entry_count,
        body=delivery.body,
        replay_of=delivery.replay_of or delivery,
    )
    logger.info("delivery %s replayed as %s by %s", delivery.pk, replay.pk, actor)
    sub_id = delivery.subscription_id
    transaction.on_commit(lambda: dispatch_enqueue(sub_id))
    return replay


def dispatch_enqueue(subscription_id: int) -> bool:
    """Queue a dispatch of ``subscription_id`` (one at a time); False (logged) when Redis is down: the
    minute sweep sends it."""
    try:
        django_rq.get_queue("default").enqueue(
            DISPATCH_JOB, subscription_id, job_id=f"webhooks-dispatch-{subscription_id}"
        )
    except Exception:
        logger.exception("could not queue the webhook dispatch; the minute sweep will send it")
        return False
    return True


# The active subscriptions' ids, read again after ``ACTIVE_TTL_SECONDS`` or when a subscription is saved in
# this process: feed writes are on the hot path (a lead's routing, its score), so they do not pay a query each.
# A subscription activated elsewhere is found by the minute sweep at worst; a dispatch checks the status itself.
ACTIVE_TTL_SECONDS = 5.0
_active: tuple[float, list[int]] | None = None


def _active_ids() -> list[int]:
    global _active
    if _active is None or time.monotonic() >= _active[0]:
        ids = list(
            WebhookSubscription.objects.filter(status=WebhookSubscription.Status.ACTIVE).values_list("pk", flat=True)
        )
        _active = (time.monotonic() + ACTIVE_TTL_SECONDS, ids)
    return _active[1]


def _forget_active(**kwargs) -> None:
    global _active
    _active = None


post_save.connect(_forget_active, sender=WebhookSubscription, dispatch_uid="webhooks-forget-active")
post_delete.connect(_forget_active, sender=WebhookSubscription, dispatch_uid="webhooks-forget-active-delete")


def feed_written() -> None:
    """The feed listener: after a commit that added entries, queue a dispatch of every active subscription."""
    for pk in _active_ids():
        dispatch_enqueue(pk)


# --- sending --------------------------------------------------------------------------------------


def _entry_json(entry: ChangeEntry) -> dict:
    return {
        "id": entry.pk,
        "kind": entry.kind,
        "object_type": entry.object_type,
        "external_id": entry.external_id,
        "payload": entry.payload,
        "reason": entry.reason,
        "created_at": entry.created_at.isoformat(),
    }


def backoff(attempts: int) -> dt.timedelta:
    """How long to wait after the ``attempts``-th failure: the base doubling, at most the cap."""
    base, cap = settings.WEBHOOK_RETRY_BASE_SECONDS, settings.WEBHOOK_RETRY_MAX_SECONDS
    return dt.timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def _post(sub: WebhookSubscription, delivery: WebhookDelivery) -> tuple[int | None, str, int]:
    """POST the delivery; (HTTP status or None, error text, milliseconds)."""
    body = json.dumps(delivery.body, separators=(",", ":"), sort_keys=True).encode()
    stamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "revops-portal-webhooks/1",
        DELIVERY_HEADER: str(delivery.pk),
        TIMESTAMP_HEADER: str(stamp),
        SIGNATURE_HEADER: signature(sub.secret, stamp, body),
    }
    started = time.perf_counter()
    try:
        response = requests.post(
            sub.url, data=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS, allow_redirects=False
        )
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500], round((time.perf_counter() - started) * 1000)
    ms = round((time.perf_counter() - started) * 1000)
    if 200 <= response.status_code < 300:
        return response.status_code, "", ms
    return response.status_code, f"HTTP {response.status_code}: {response.text[:300]}", ms


def _next_delivery(sub: WebhookSubscription) -> WebhookDelivery | None:
    pending = next_pending(sub)
    if pending is not None:
        return pending
    entries = entries_to_send(sub, limit=settings.WEBHOOK_BATCH_SIZE)
    if not entries:
        if sub.kinds:  # nothing of its kinds: skip what it does not want (ids up to the end are committed)
            last = ChangeEntry.objects.aggregate(last=Max("id"))["last"] or 0
            if last > sub.cursor:
                sub.cursor = last
                sub.save(update_fields=["cursor"])
        return None
    sub.cursor = entries[-1].pk
    sub.save(update_fields=["cursor"])
    return WebhookDelivery.objects.create(
        subscription=sub,
        first_entry_id=entries[0].pk,
        last_entry_id=entries[-1].pk,
        entry_count=len(entries),
        body={
            "subscription": sub.name,
            "entries": [_entry_json(e) for e in entries],
            "next_cursor": entries[-1].pk,
        },
    )


def _failed(sub: WebhookSubscription, delivery: WebhookDelivery, error: str, now: dt.datetime) -> None:
    delivery.next_attempt_at = now + backoff(delivery.attempts)
    sub.consecutive_failures += 1
    sub.save(update_fields=["consecutive_failures"])
    if sub.consecutive_failures < settings.WEBHOOK_MAX_FAILURES:
        return
    sub.status = WebhookSubscription.Status.PAUSED
    sub.paused_reason = f"Paused after {sub.consecutive_failures} failed deliveries in a row: {error}"[:255]
    with audited(actor=None, reason="webhook subscription paused itself after repeated failures"):
        sub.save(update_fields=["status", "paused_reason"])
    exception_item_open(
        dedupe_key=f"{ITEM_KIND}:{sub.pk}",
        kind=ITEM_KIND,
        title=f"Webhook {sub.name} paused: its receiver keeps failing",
        reason=(
            f"The last {sub.consecutive_failures} deliveries to {sub.url} failed; the last answer was: {error}. "
            f"Nothing is lost: {delivery.entry_count} entries and everything after them wait, and the CRM can "
            f"still read them from the changes feed after entry {delivery.first_entry_id - 1}."
        ),
        owner=sub.owner or sub.token.created_by,
        severity="high",
        object_type="webhook_subscription",
        object_id=sub.pk,
        external_id=sub.name,
    )


def deliver_next(subscription_id: int, *, now: dt.datetime | None = None) -> str:
    """Send ``subscription_id``'s next delivery, if any is due: ``"sent"``, ``"failed"``, ``"waiting"`` (a
    retry not due yet), ``"idle"`` (nothing to send), ``"paused"`` or ``"busy"`` (another worker sends).

    The subscription's row is locked while sending, so one delivery at a time goes out, in order."""
    now = now or timezone.now()
    with transaction.atomic():
        sub = (
            WebhookSubscription.objects.select_for_update(skip_locked=True)
            .select_related("token")
            .filter(pk=subscription_id)
            .first()
        )
        if sub is None:
            return "busy" if WebhookSubscription.objects.filter(pk=subscription_id).exists() else "idle"
        if sub.status != WebhookSubscription.Status.ACTIVE or sub.token.revoked_at is not None:
            return "paused"
        delivery = _next_delivery(sub)
        if delivery is None:
            return "idle"
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
            return "waiting"
        code, error, ms = _post(sub, delivery)
        delivery.attempts += 1
        delivery.last_attempt_at, delivery.response_status, delivery.response_ms = now, code, ms
        delivery.last_error = error
        if not error:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                WebhookDelivery.Status.DELIVERED,
                now,
                None,
            )
            sub.consecutive_failures, sub.last_success_at = 0, now
            sub.save(update_fields=["consecutive_failures", "last_success_at"])
        else:
            _failed(sub, delivery, error, now)
        delivery.save()
        return "failed" if error else "sent"
