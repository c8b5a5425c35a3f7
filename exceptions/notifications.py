"""Notifications for the exception queue: scarce and actionable (DESIGN §1 principle 5), sent to
the channels each person chose (``exceptions.channels``).

- **Immediate** notices go to an item's owner when a critical item opens, when an item of a kind
  registered with ``notify_on_open`` opens (an SLA breach, for the rep's manager), when an item is
  escalated to them and when their snoozed item wakes up. They are sent by an RQ job enqueued after
  commit. Inside the person's quiet hours a notice is held (``held``) and goes out when they end,
  unless the item was closed meanwhile (``skipped``); ``exception_release_held`` runs every minute.
- **Daily digest** per queue manager at their local ``digest_hour`` (the job runs every 15 minutes
  and sends each manager's digest once per local day, at or after that hour): counts per queue, the
  oldest open item, overdue items and approvals waiting, with a link to the triage page. Nobody gets
  an empty digest.
- **No repeat**: every notice (or deliberate non-notice) is a ``Notification`` row unique on
  (recipient, key), the key naming the item and the reason, or the digest's local date.
- **Rate limit**: at most ``NotificationLimits.per_person_per_hour`` (edited in the admin; default
  ``EXCEPTION_NOTIFY_MAX_PER_HOUR``, 10) immediate notices per recipient per rolling hour; beyond that
  the row is kept as ``rate_limited`` and the item waits for the digest. (Two notices racing for the
  last slot may both go: the limit is a courtesy, not a security boundary.)

Links use ``PORTAL_BASE_URL`` (default ``http://localhost:8000``) when settings define it.
"""

from __future__ import annotations

import datetime as dt
import logging

import django_rq
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Min, Q
from django.template.loader import render_to_string
from django.utils import timezone

from .channels import TRANSPORTS, Target, person_zone, preference_of, quiet_until, targets_for
from .models import ExceptionItem, Notification, NotificationChannel, NotificationLimits, NotificationPreference, Queue
from .registry import approval_kinds, notification_event

logger = logging.getLogger(__name__)

OPEN = tuple(ExceptionItem.OPEN_STATUSES)
TRIAGE_PATH = "/admin/exceptions/exceptionitem/"
SUBJECTS = {
    "critical": "[critical] {title}",
    "escalated": "Escalated to you: {title}",
    "woke": "Back from snooze: {title}",
    "opened": "{title}",
}
WHY = {
    "opened": "This item needs action at once and it is yours.",
    "critical": "A critical exception item was opened and you own it.",
    "escalated": "This item is overdue and has been escalated to you.",
    "woke": "An item you snoozed is back in your queue.",
}


def max_per_hour() -> int:
    """Immediate notices one person gets per rolling hour: the admin's ``NotificationLimits`` row, or
    the ``EXCEPTION_NOTIFY_MAX_PER_HOUR`` setting (default 10) until RevOps saves one."""
    limits = NotificationLimits.objects.first()
    if limits is not None:
        return limits.per_person_per_hour
    return int(getattr(settings, "EXCEPTION_NOTIFY_MAX_PER_HOUR", 10))


def digest_hour_default() -> int:
    return int(getattr(settings, "EXCEPTION_DIGEST_HOUR", 7))


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


def _event(reason: str, item: ExceptionItem) -> str:
    family = _family(reason)
    return f"opened:{item.kind}" if family == "opened" else family


def _recent_sent(recipient, now: dt.datetime) -> int:
    return Notification.objects.filter(
        recipient=recipient,
        status=Notification.Status.SENT,
        sent_at__gte=now - dt.timedelta(hours=1),
    ).count()


def notification_open(
    *,
    recipient,
    key: str,
    reason: str,
    event: str,
    subject: str,
    item: ExceptionItem | None = None,
    immediate: bool | None = None,
    hold: bool | None = None,
    now: dt.datetime | None = None,
) -> Notification | None:
    """Record the notice ``key`` for ``recipient`` (once: None if it was already recorded) with what
    will happen to it: ``sent`` (deliver it now with ``notification_deliver``), ``held`` until their
    quiet hours end, ``rate_limited``, ``off`` (they route this kind of notice nowhere) or
    ``no_address``. The hourly limit applies to immediate notices (by default, as the ``event`` was
    registered), and so do quiet hours unless ``hold`` is False (a held notice must be one
    ``exception_release_held`` can rebuild: an item's)."""
    now = now or timezone.now()
    if immediate is None:
        spec = notification_event(event)
        immediate = spec.immediate if spec is not None else True
    hold = immediate if hold is None else hold
    preference = preference_of(recipient)
    targets, chosen = targets_for(recipient, event, preference)
    deliver_after = None
    if not targets:
        status = Notification.Status.OFF if chosen else Notification.Status.NO_ADDRESS
    elif hold and (deliver_after := quiet_until(recipient, now, preference)) is not None:
        status = Notification.Status.HELD
    elif immediate and _recent_sent(recipient, now) >= max_per_hour():
        status = Notification.Status.RATE_LIMITED
    else:
        status = Notification.Status.SENT
    try:
        with transaction.atomic():
            note = Notification.objects.create(
                recipient=recipient,
                item=item,
                key=key[:120],
                reason=reason[:40],
                subject=subject[:200],
                status=status,
                deliver_after=deliver_after,
            )
    except IntegrityError:
        return None
    note.event, note.targets, note.preference = event, targets, preference
    return note


def notification_deliver(
    note: Notification, *, template: str = "", context: dict | None = None, text: str = "", event: str = ""
) -> str:
    """Render ``template`` (``.txt`` and ``.html``) in the recipient's time zone — or take ``text`` as it
    is — and send it to each of their channels for the notice's event. ``sent`` when one channel took
    it, ``failed`` when none did (no retry: digests still cover the items); each channel keeps its
    last error."""
    recipient = note.recipient
    event = event or getattr(note, "event", "") or note.reason
    preference = getattr(note, "preference", None) or preference_of(recipient)
    targets = getattr(note, "targets", None)
    if targets is None:
        targets = targets_for(recipient, event, preference)[0]
    html = ""
    if template:
        with timezone.override(person_zone(recipient, preference)):
            text = render_to_string(f"{template}.txt", context)
            html = render_to_string(f"{template}.html", context)
    now = timezone.now()
    delivered, failed = [], []
    for target in targets:
        try:
            TRANSPORTS[target.kind](target, note.subject, text, html)
        except Exception as exc:  # noqa: BLE001 - one channel down must not stop the others
            logger.warning("sending %r to %s failed: %s", note.subject, target.label, exc)
            failed.append(target.label)
            if target.channel_id:
                NotificationChannel.objects.filter(pk=target.channel_id).update(
                    last_failed_at=now, last_error=str(exc)[:300]
                )
            continue
        delivered.append(target.label)
        if target.channel_id:
            NotificationChannel.objects.filter(pk=target.channel_id).update(last_sent_at=now)
    status = Notification.Status.SENT if delivered else Notification.Status.FAILED
    where = ", ".join(delivered) + (f" (failed: {', '.join(failed)})" if failed else "")
    Notification.objects.filter(pk=note.pk).update(status=status, channels=where[:200])
    return status


def _item_context(item: ExceptionItem, recipient, reason: str) -> dict:
    return {
        "item": item,
        "recipient": recipient,
        "why": WHY.get(_family(reason), "An exception item needs your attention."),
        "item_url": f"{base_url()}{TRIAGE_PATH}{item.pk}/change/",
        "triage_url": f"{base_url()}{TRIAGE_PATH}",
    }


def exception_item_notify(*, item_id: int, reason: str, now: dt.datetime | None = None) -> str | None:
    """Tell the owner of item ``item_id`` about ``reason`` (``critical``, ``opened``, ``escalated_<level>``,
    ``woke_…``) on the channels they chose for it.

    Returns the ``Notification`` status (``sent``, ``held``, ``rate_limited``, ``off``, ``no_address``,
    ``failed``), ``"duplicate"`` when this recipient already had this item and reason, or None when the
    item has no owner (or no longer exists).
    """
    now = now or timezone.now()
    item = ExceptionItem.objects.select_related("owner", "owner__rep", "queue").filter(pk=item_id).first()
    if item is None or item.owner is None:
        return None
    family = _family(reason)
    subject = SUBJECTS.get(family, "Exception item: {title}").format(title=item.title)
    note = notification_open(
        recipient=item.owner,
        key=f"item:{item.pk}:{reason}",
        reason=family,
        event=_event(reason, item),
        subject=subject,
        item=item,
        now=now,
    )
    if note is None:
        return "duplicate"
    if note.status != Notification.Status.SENT:
        logger.info("notification %s for item %s not sent: %s", reason, item.pk, note.status)
        return note.status
    return notification_deliver(note, template="exceptions/email/item", context=_item_context(item, item.owner, reason))


def exception_release_held(*, now: dt.datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Send the notices held for quiet hours that have ended (job, every minute): an item closed
    meanwhile is ``skipped``; the hourly limit and the person's channels are read again now.
    Returns how many notices ended in each status."""
    now = now or timezone.now()
    done: dict[str, int] = {}
    held = Notification.objects.filter(status=Notification.Status.HELD, deliver_after__lte=now)
    for note in held.select_related("item", "recipient").order_by("deliver_after", "pk")[:limit]:
        item = note.item
        if item is None or item.status not in OPEN or item.owner_id != note.recipient_id:
            status = Notification.Status.SKIPPED
        elif _recent_sent(note.recipient, now) >= max_per_hour():
            status = Notification.Status.RATE_LIMITED
        else:
            event = _event(note.key.rsplit(":", 1)[-1], item)
            targets, chosen = targets_for(note.recipient, event, preference_of(note.recipient))
            if not targets:
                status = Notification.Status.OFF if chosen else Notification.Status.NO_ADDRESS
            else:
                status = Notification.Status.SENT
        # Claim the row: a second sweep running at once finds it no longer held.
        claimed = Notification.objects.filter(pk=note.pk, status=Notification.Status.HELD).update(
            status=status, sent_at=now if status == Notification.Status.SENT else F("sent_at")
        )
        if not claimed:
            continue
        if status == Notification.Status.SENT:
            note.targets = targets
            context = _item_context(item, note.recipient, note.reason)
            status = notification_deliver(note, template="exceptions/email/item", context=context, event=event)
        done[status] = done.get(status, 0) + 1
    return done


def notification_send(note: Notification, subject: str, template: str, context: dict, to: str) -> str:
    """Render ``template`` (``.txt`` and ``.html``) with ``context`` and e-mail it to the address ``to``
    (not a person: e.g. a renewal's finance notice) for the recorded ``note``; on failure mark the row
    failed. Returns the status."""
    text = render_to_string(f"{template}.txt", context)
    html = render_to_string(f"{template}.html", context)
    try:
        TRANSPORTS[NotificationChannel.Kind.EMAIL](
            Target(NotificationChannel.Kind.EMAIL, "E-mail", to), subject, text, html
        )
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
    """Send each queue manager today's digest once their local digest hour has come (job, every 15
    minutes). Sent at most once per manager per local day; a manager with nothing open gets nothing.
    Returns how many digests were sent."""
    now = now or timezone.now()
    sent = 0
    managers = list(
        get_user_model().objects.filter(managed_queues__isnull=False, is_active=True).select_related("rep").distinct()
    )
    preferences = {p.person_id: p for p in NotificationPreference.objects.filter(person__in=managers)}
    done = set(
        Notification.objects.filter(
            recipient__in=managers, key__startswith="digest:", sent_at__gte=now - dt.timedelta(days=2)
        ).values_list("recipient_id", "key")
    )
    for manager in managers:
        preference = preferences.get(manager.pk)
        zone = person_zone(manager, preference)
        local = now.astimezone(zone)
        hour = preference.digest_hour if preference is not None else digest_hour_default()
        key = f"digest:{local.date().isoformat()}"
        if local.hour < hour or (manager.pk, key) in done:
            continue
        with timezone.override(zone):
            digest = digest_for(manager=manager, now=now)
        if not digest["queues"] or not digest["totals"]["open"]:
            continue
        totals = digest["totals"]
        subject = (
            f"Exception queue digest {digest['date'].isoformat()}: {totals['open']} open, "
            f"{totals['overdue']} overdue, {totals['approvals']} approvals waiting"
        )
        note = notification_open(
            recipient=manager, key=key, reason="digest", event="digest", subject=subject, immediate=False, now=now
        )
        if note is not None and note.status == Notification.Status.SENT:
            sent += (
                notification_deliver(note, template="exceptions/email/digest", context=digest)
                == Notification.Status.SENT
            )
    return sent
