"""Email notifications for the exception queue: scarce and actionable (DESIGN §1 principle 5).

- **Immediate** emails go to an item's owner when a critical item opens, when an item is escalated
  to them and when their snoozed item wakes up. They are sent by an RQ job enqueued after commit.
- **Daily digest** per queue manager: counts per queue, the oldest open item, overdue items and
  approvals waiting, with a link to the triage page. Nobody gets an empty digest.
- **No repeat**: every email (or deliberate non-email) is a ``Notification`` row unique on
  (recipient, key), the key naming the item and the reason, or the digest's date.
- **Rate limit**: at most ``EXCEPTION_NOTIFY_MAX_PER_HOUR`` (default 10) immediate emails per
  recipient per rolling hour; beyond that the row is kept as ``rate_limited`` and the item waits
  for the digest. (Two emails racing for the last slot may both go: the limit is a courtesy, not a
  security boundary.)

Links use ``PORTAL_BASE_URL`` (default ``http://localhost:8000``) when settings define it.
"""

from __future__ import annotations

import datetime as dt
import logging

import django_rq
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Count, Min, Q
from django.template.loader import render_to_string
from django.utils import timezone

from .models import ExceptionItem, Notification, Queue
from .registry import approval_kinds

logger = logging.getLogger(__name__)

OPEN = tuple(ExceptionItem.OPEN_STATUSES)
TRIAGE_PATH = "/admin/exceptions/exceptionitem/"
SUBJECTS = {
    "critical": "[critical] {title}",
    "escalated": "Escalated to you: {title}",
    "woke": "Back from snooze: {title}",
}
WHY = {
    "critical": "A critical exception item was opened and you own it.",
    "escalated": "This item is overdue and has been escalated to you.",
    "woke": "An item you snoozed is back in your queue.",
}


def max_per_hour() -> int:
    return int(getattr(settings, "EXCEPTION_NOTIFY_MAX_PER_HOUR", 10))


def base_url() -> str:
    return str(getattr(settings, "PORTAL_BASE_URL", "http://localhost:8000")).rstrip("/")


def _family(reason: str) -> str:
    return reason.split("_", 1)[0]


def notify_after_commit(*, item: ExceptionItem, reason: str) -> None:
    """Once the current transaction commits, enqueue the email about ``item`` for ``reason``.

    If Redis cannot take the job the email is sent inline instead, so it is delayed, not lost.
    """
    item_id = item.pk

    def enqueue():
        try:
            # By name: the job module calls back into this one (``exceptions.jobs.send_item_notification``).
            django_rq.get_queue("default").enqueue("exceptions.jobs.send_item_notification", item_id, reason)
        except Exception:  # noqa: BLE001 - Redis down: deliver now rather than never
            logger.warning("could not enqueue notification for item %s; sending inline", item_id, exc_info=True)
            exception_item_notify(item_id=item_id, reason=reason)

    transaction.on_commit(enqueue)


def exception_item_notify(*, item_id: int, reason: str, now: dt.datetime | None = None) -> str | None:
    """Email the owner of item ``item_id`` about ``reason`` (``critical``, ``escalated_<level>``, ``woke_…``).

    Returns the ``Notification`` status (``sent``, ``rate_limited``, ``no_address``, ``failed``),
    ``"duplicate"`` when this recipient already had this item and reason, or None when the item
    has no owner (or no longer exists).
    """
    now = now or timezone.now()
    item = ExceptionItem.objects.select_related("owner", "queue").filter(pk=item_id).first()
    if item is None or item.owner is None:
        return None
    recipient = item.owner
    family = _family(reason)
    subject = SUBJECTS.get(family, "Exception item: {title}").format(title=item.title)[:200]
    recent = Notification.objects.filter(
        recipient=recipient,
        item__isnull=False,
        status=Notification.Status.SENT,
        sent_at__gte=now - dt.timedelta(hours=1),
    ).count()
    if not recipient.email:
        status = Notification.Status.NO_ADDRESS
    elif recent >= max_per_hour():
        status = Notification.Status.RATE_LIMITED
    else:
        status = Notification.Status.SENT
    try:
        with transaction.atomic():
            note = Notification.objects.create(
                recipient=recipient,
                item=item,
                key=f"item:{item.pk}:{reason}"[:120],
                reason=family,
                subject=subject,
                status=status,
            )
    except IntegrityError:
        return "duplicate"
    if status != Notification.Status.SENT:
        logger.info("notification %s for item %s not sent: %s", reason, item.pk, status)
        return status
    context = {
        "item": item,
        "recipient": recipient,
        "why": WHY.get(family, "An exception item needs your attention."),
        "item_url": f"{base_url()}{TRIAGE_PATH}{item.pk}/change/",
        "triage_url": f"{base_url()}{TRIAGE_PATH}",
    }
    return notification_send(note, subject, "exceptions/email/item", context, recipient.email)


def notification_send(note: Notification, subject: str, template: str, context: dict, to: str) -> str:
    """Render ``template`` (``.txt`` and ``.html``) with ``context`` and e-mail it to ``to`` for the recorded
    ``note``; on failure mark the row failed (no retry: digests still cover the items). Returns the status."""
    try:
        message = EmailMultiAlternatives(
            subject=subject,
            body=render_to_string(f"{template}.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[to],
        )
        message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
        message.send()
    except Exception:  # noqa: BLE001 - keep the row, say it failed; the digest still covers the item
        logger.exception("sending %r to %s failed", subject, to)
        Notification.objects.filter(pk=note.pk).update(status=Notification.Status.FAILED)
        return Notification.Status.FAILED
    return Notification.Status.SENT


def digest_for(*, manager, now: dt.datetime | None = None) -> dict:
    """What a manager's digest says: one row per managed queue, totals and the oldest open item."""
    now = now or timezone.now()
    queues = {q.pk: q for q in Queue.objects.filter(manager=manager).order_by("name")}
    items = ExceptionItem.objects.filter(queue_id__in=list(queues), status__in=OPEN)
    counts = {
        row["queue_id"]: row
        for row in items.values("queue_id")
        .annotate(
            open=Count("id"),
            unclaimed=Count("id", filter=Q(status=ExceptionItem.Status.OPEN, claimed_at__isnull=True)),
            escalated=Count("id", filter=Q(status=ExceptionItem.Status.ESCALATED)),
            snoozed=Count("id", filter=Q(status=ExceptionItem.Status.SNOOZED)),
            overdue=Count("id", filter=Q(due_at__lt=now) & ~Q(status=ExceptionItem.Status.SNOOZED)),
            approvals=Count("id", filter=Q(kind__in=approval_kinds(), decision="")),
            oldest=Min("first_seen_at"),
        )
        .order_by()
    }
    rows = []
    for pk, queue in queues.items():
        row = counts.get(pk)
        if row is None:
            continue
        rows.append(
            {
                "queue": queue,
                "url": f"{base_url()}{TRIAGE_PATH}?queue__id__exact={pk}",
                **{k: row[k] for k in ("open", "unclaimed", "escalated", "snoozed", "overdue", "approvals", "oldest")},
            }
        )
    oldest = items.order_by("first_seen_at", "id").select_related("queue", "owner").first() if rows else None
    return {
        "manager": manager,
        "date": timezone.localdate(now),
        "queues": rows,
        "totals": {
            key: sum(r[key] for r in rows) for key in ("open", "unclaimed", "escalated", "overdue", "approvals")
        },
        "oldest": oldest,
        "oldest_url": f"{base_url()}{TRIAGE_PATH}{oldest.pk}/change/" if oldest else "",
        "triage_url": f"{base_url()}{TRIAGE_PATH}",
    }


def exception_send_daily_digests(*, now: dt.datetime | None = None) -> int:
    """Send each queue manager the day's digest (job, daily). Sent at most once per manager per day;
    a manager with nothing open gets nothing. Returns how many digests were sent."""
    now = now or timezone.now()
    sent = 0
    managers = get_user_model().objects.filter(managed_queues__isnull=False, is_active=True).distinct()
    for manager in managers:
        digest = digest_for(manager=manager, now=now)
        if not digest["queues"] or not digest["totals"]["open"]:
            continue
        totals = digest["totals"]
        subject = (
            f"Exception queue digest {digest['date'].isoformat()}: {totals['open']} open, "
            f"{totals['overdue']} overdue, {totals['approvals']} approvals waiting"
        )
        status = Notification.Status.SENT if manager.email else Notification.Status.NO_ADDRESS
        try:
            with transaction.atomic():
                note = Notification.objects.create(
                    recipient=manager,
                    key=f"digest:{digest['date'].isoformat()}",
                    reason="digest",
                    subject=subject[:200],
                    status=status,
                )
        except IntegrityError:
            continue  # already sent today
        if status == Notification.Status.SENT:
            sent += (
                notification_send(note, subject, "exceptions/email/digest", digest, manager.email)
                == Notification.Status.SENT
            )
    return sent
