"""The demo's handoffs come from the real services: won deals at every state, renewals due in 90 days."""

import datetime as dt

import pytest
from django.utils import timezone

from exceptions.models import ExceptionItem
from handoffs.models import Handoff
from revops.demo import demo_load

pytestmark = pytest.mark.django_db


def test_the_demo_shows_every_handoff_state_and_renewals():
    demo_load(seed=42)
    onboarding = Handoff.objects.filter(checklist__name="Sales → Onboarding")
    assert {"waiting", "sent", "accepted", "rejected"} <= set(onboarding.values_list("status", flat=True))
    # evaluated as each deal closed: some have waited for days, their items overdue
    now = timezone.now()
    days_waiting = [(now - h.created_at).days for h in onboarding.filter(status="waiting")]
    assert max(days_waiting) >= 5
    overdue = ExceptionItem.objects.filter(kind="handoff_incomplete", status="open", due_at__lt=now)
    assert overdue.filter(object_type="opportunity").exists()
    # accepted within a day of being sent; one left unanswered is raised to the CS team's manager
    for handoff in onboarding.filter(status="accepted"):
        assert handoff.sent_at < handoff.accepted_at < handoff.sent_at + dt.timedelta(days=1)
    assert ExceptionItem.objects.filter(kind="handoff_not_accepted", status="open").count() == 1
    renewals = Handoff.objects.filter(checklist__name="CS → Renewal")
    assert {"waiting", "sent"} <= set(renewals.values_list("status", flat=True))
    today = timezone.localdate()
    for handoff in renewals:
        assert handoff.opportunity_id is None and 0 <= (handoff.renewal_date - today).days <= 90
        assert handoff.renewal_date.isoformat() == handoff.account.attributes["renewal_date"]
    waiting = renewals.filter(status="waiting")
    items = ExceptionItem.objects.filter(kind="handoff_incomplete", object_type="account", status="open")
    assert items.count() == waiting.count()
    assert all(h.receiver == h.account.owner for h in renewals.filter(status="sent"))
