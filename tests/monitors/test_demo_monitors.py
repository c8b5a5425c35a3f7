"""The monitors' demo: past pipeline movement synced through the CRM API at the times it happened, and a
pre-forecast queue for the NA manager produced by the hygiene scan from it."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from exceptions.models import ExceptionItem
from monitors.hygiene import ITEM_KIND
from monitors.models import DealMovement, ForecastSnapshot, HygieneFinding
from revops.demo import demo_load
from revops.models import Opportunity, SyncFailure

pytestmark = pytest.mark.django_db


def test_the_demo_replays_past_movement_and_the_na_manager_gets_a_pre_forecast_queue():
    now = timezone.now()
    demo_load(seed=42, now=now)
    week_ago = timezone.localdate(now) - dt.timedelta(days=7)

    # the movements are the portal's own record of what the CRM synced, dated when they happened
    pushes = DealMovement.objects.filter(field="close_date", days_moved__gt=0, moved_at__lt=now - dt.timedelta(days=8))
    assert pushes.values("opportunity").distinct().count() >= 3
    assert DealMovement.objects.filter(field="stage", new_value="negotiation", moved_at__lt=now - dt.timedelta(days=21))
    # the snapshot holds last week's amounts: the changes since are the ones after it
    changed = DealMovement.objects.filter(field="amount", moved_at__gt=now - dt.timedelta(days=7))
    assert changed.exists()
    for movement in changed:
        snap = ForecastSnapshot.objects.get(opportunity=movement.opportunity, taken_on=week_ago)
        assert snap.amount == Decimal(movement.old_value) != movement.opportunity.amount
    assert not SyncFailure.objects.filter(external_id__in=changed.values("opportunity__external_id")).exists()

    # what the scan found from that history, on items of the NA regional manager
    found = set(HygieneFinding.objects.filter(resolved_at=None, mode="live").values_list("policy", flat=True))
    assert {"close_date_pushed", "stalled_in_stage", "amount_changed"} <= found
    na_items = ExceptionItem.objects.filter(kind=ITEM_KIND, status="open", owner__username="manager.na")
    assert na_items.exists()
    deal_ids = list(na_items.values_list("object_id", flat=True))
    assert len(deal_ids) == len(set(deal_ids))  # one item per deal
    pushed_na = HygieneFinding.objects.filter(
        resolved_at=None, policy="close_date_pushed", opportunity_id__in=deal_ids
    ).first()
    assert pushed_na is not None
    item = na_items.get(object_id=pushed_na.opportunity_id)
    assert "Close date moved later" in item.reason and item.due_at > now
    assert Opportunity.objects.get(pk=item.object_id).forecast_category == "commit"
