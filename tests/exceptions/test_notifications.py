"""Notifications: immediate email for critical items through a real worker, no repeat for the same
item and reason, a per-recipient rate limit, and the daily digest's contents."""

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from exceptions.models import ExceptionItem, Notification
from exceptions.notifications import exception_item_notify, exception_send_daily_digests
from exceptions.services import exception_item_claim, exception_item_dismiss
from tests.factories import UserFactory

from .support import make_queue, open_item

pytestmark = pytest.mark.django_db


def test_critical_item_emails_its_owner_once_through_the_worker(django_capture_on_commit_callbacks, run_worker):
    make_queue("RevOps")
    owner = UserFactory(username="fixer", email="fixer@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        item = open_item("c", severity="critical", queue_name="RevOps", owner=owner)
    assert run_worker("default") == 0
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["fixer@example.com"] and message.subject == f"[critical] {item.title}"
    assert item.reason in message.body and item.expected_action in message.body
    assert f"/admin/exceptions/exceptionitem/{item.pk}/change/" in message.body
    assert message.alternatives and "text/html" == message.alternatives[0][1]
    assert exception_item_notify(item_id=item.pk, reason="critical") == "duplicate"
    assert len(mail.outbox) == 1 and Notification.objects.get().status == "sent"


def test_rate_limit_per_recipient_per_hour(settings):
    settings.EXCEPTION_NOTIFY_MAX_PER_HOUR = 3
    make_queue("RevOps")
    owner = UserFactory(username="busy", email="busy@example.com")
    items = [open_item(f"k{i}", queue_name="RevOps", owner=owner) for i in range(5)]
    statuses = [exception_item_notify(item_id=item.pk, reason="critical") for item in items]
    assert statuses == ["sent", "sent", "sent", "rate_limited", "rate_limited"]
    assert len(mail.outbox) == 3
    # an hour later the window has room again, but the limited ones are never repeated
    later = timezone.now() + dt.timedelta(hours=1, minutes=1)
    assert exception_item_notify(item_id=items[3].pk, reason="critical", now=later) == "duplicate"
    assert exception_item_notify(item_id=items[3].pk, reason="escalated_1", now=later) == "sent"
    other = UserFactory(username="calm", email="calm@example.com")
    assert exception_item_notify(item_id=open_item("o", owner=other).pk, reason="critical") == "sent"


def test_no_owner_or_no_address_sends_nothing():
    assert exception_item_notify(item_id=open_item("a").pk, reason="critical") is None  # Unrouted: no manager
    mute = UserFactory(username="mute", email="")
    assert exception_item_notify(item_id=open_item("b", owner=mute).pk, reason="critical") == "no_address"
    assert mail.outbox == []


def test_daily_digest_per_manager_with_counts_oldest_overdue_and_approvals():
    boss = UserFactory(username="boss", email="boss@example.com", first_name="Bea")
    ops = make_queue("RevOps", manager=boss)
    make_queue("Sales ops", manager=boss)
    idle_manager = UserFactory(username="idle", email="idle@example.com")
    make_queue("Quiet", manager=idle_manager)
    ana = UserFactory(username="ana")
    now = timezone.now().replace(hour=12)  # after the managers' digest hour (07:00 in the portal's zone)
    oldest = open_item("old", queue_name="RevOps", due_at=now - dt.timedelta(hours=2))
    ExceptionItem.objects.filter(pk=oldest.pk).update(first_seen_at=now - dt.timedelta(days=3))
    open_item("new", queue_name="RevOps")
    claimed = open_item("claimed", queue_name="Sales ops")
    exception_item_claim(item=claimed, actor=ana)
    open_item("approve", kind="approval_required", queue_name="Sales ops", proposal={"action": "assign_owner"})
    gone = open_item("gone", queue_name="RevOps")
    exception_item_dismiss(item=gone, reason="noise", actor=ana)

    assert exception_send_daily_digests(now=now) == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["boss@example.com"]
    assert message.subject.endswith("4 open, 1 overdue, 1 approvals waiting")
    body = message.body
    assert "- RevOps: 2 open, 2 unclaimed, 1 overdue, 0 escalated, 0 snoozed, 0 approvals waiting" in body
    assert "- Sales ops: 2 open, 1 unclaimed, 0 overdue, 0 escalated, 0 snoozed, 1 approvals waiting" in body
    assert f"Oldest open item: {oldest.title}" in body
    assert "/admin/exceptions/exceptionitem/" in body and f"?queue__id__exact={ops.pk}" in body
    assert "text/html" == message.alternatives[0][1] and "RevOps" in message.alternatives[0][0]
    # the job running again the same day sends nothing new; the quiet manager never gets one
    assert exception_send_daily_digests(now=now) == 0 and len(mail.outbox) == 1
    assert not Notification.objects.filter(recipient=idle_manager).exists()
