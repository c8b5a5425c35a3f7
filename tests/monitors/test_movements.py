"""Deal movements come from the portal's own record of changes: each applied change of close date,
amount, stage or forecast category of a synced deal, once, at the CRM's time of the change."""

import datetime as dt

import pytest
from django.utils import timezone

from monitors.hooks import monitors_note_movements
from monitors.models import DealMovement
from revops.models import Opportunity, OutboxEvent
from revops.outbox import outbox_process_events
from revops.services import record_save
from tests.crm_sync import sync_poster
from tests.factories import RepFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sync(client):
    RepFactory(name="Sam Seller", external_id="R-SAM")
    post = sync_poster(client, "opportunities")
    return lambda *records: [result["status"] for result in post(*records)]


def deal(at, **fields):
    return {
        "external_id": "O-1",
        "name": "Acme - Platform",
        "stage": "discovery",
        "forecast_category": "pipeline",
        "owner": "R-SAM",
        "amount": "100000",
        "close_date": "2026-03-31",
        "source_updated_at": at,
        **fields,
    }


def process():
    pending = OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).values_list("id", flat=True)
    outbox_process_events(event_ids=list(pending))


def moves():
    return {m.field: m for m in DealMovement.objects.all()}


def test_a_synced_update_records_each_forecast_field_once_at_the_crm_time(sync):
    assert sync(deal("2026-02-01T09:00:00Z")) == ["created"]
    process()
    assert not DealMovement.objects.exists()  # a new deal has not moved yet

    update = deal(
        "2026-02-10T10:00:00Z",
        close_date="2026-04-30",
        amount="80000",
        stage="negotiation",
        forecast_category="commit",
        name="Acme - Platform (renamed)",
    )
    assert sync(update) == ["updated"]
    process()

    found = moves()
    assert set(found) == {"close_date", "amount", "stage", "forecast_category"}  # the name is not tracked
    assert (found["close_date"].old_value, found["close_date"].new_value) == ("2026-03-31", "2026-04-30")
    assert found["close_date"].days_moved == 30
    assert (found["amount"].old_value, found["amount"].new_value) == ("100000.00", "80000.00")
    assert (found["stage"].old_value, found["stage"].new_value) == ("discovery", "negotiation")
    assert (found["forecast_category"].old_value, found["forecast_category"].new_value) == ("pipeline", "commit")
    crm_time = dt.datetime(2026, 2, 10, 10, tzinfo=dt.UTC)
    assert {m.moved_at for m in found.values()} == {crm_time}
    assert {m.opportunity_id for m in found.values()} == {Opportunity.objects.get().pk}


def test_a_redelivered_event_records_nothing_twice(sync):
    sync(deal("2026-02-01T09:00:00Z"))
    sync(deal("2026-02-10T10:00:00Z", close_date="2026-05-15"))
    events = list(OutboxEvent.objects.order_by("pk"))
    process()
    assert DealMovement.objects.count() == 1

    assert monitors_note_movements(events) == 0  # the hook again, as a retried job would call it
    outbox_process_events(event_ids=[e.pk for e in events])

    assert DealMovement.objects.count() == 1


def test_a_late_older_update_records_nothing(sync):
    sync(deal("2026-02-01T09:00:00Z"))
    sync(deal("2026-02-10T10:00:00Z", close_date="2026-04-30"))
    process()

    assert sync(deal("2026-02-05T08:00:00Z", close_date="2026-09-30", amount="5")) == ["stale"]
    process()

    assert list(DealMovement.objects.values_list("field", "new_value")) == [("close_date", "2026-04-30")]
    assert Opportunity.objects.get().close_date == dt.date(2026, 4, 30)


def test_each_deal_of_a_batch_keeps_its_own_crm_time(sync):
    sync(deal("2026-02-01T09:00:00Z"), deal("2026-02-01T09:00:00Z", external_id="O-2"))
    process()

    sync(
        deal("2026-02-10T10:00:00Z", close_date="2026-04-10"),
        deal("2026-02-12T10:00:00Z", close_date="2026-04-20", stage="proposal", external_id="O-2"),
    )
    process()

    rows = list(
        DealMovement.objects.order_by("moved_at", "field").values_list(
            "opportunity__external_id", "field", "days_moved", "moved_at"
        )
    )
    assert rows == [
        ("O-1", "close_date", 10, dt.datetime(2026, 2, 10, 10, tzinfo=dt.UTC)),
        ("O-2", "close_date", 20, dt.datetime(2026, 2, 12, 10, tzinfo=dt.UTC)),
        ("O-2", "stage", None, dt.datetime(2026, 2, 12, 10, tzinfo=dt.UTC)),
    ]


def test_an_edit_in_the_portal_counts_at_the_time_it_was_made(sync):
    sync(deal("2026-02-01T09:00:00Z"))
    process()
    opportunity = Opportunity.objects.get()
    opportunity.close_date = dt.date(2026, 3, 1)
    before = timezone.now()
    record_save(instance=opportunity, actor=UserFactory(username="ops"), reason="fixed by hand")
    process()

    movement = DealMovement.objects.get()
    assert (movement.field, movement.days_moved) == ("close_date", -30)  # pulled in: not a push
    assert movement.moved_at >= before
