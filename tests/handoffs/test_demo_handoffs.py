"""The demo's handoffs come from the real services: won deals at every state, renewals due in 90 days."""

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
