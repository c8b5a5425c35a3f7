"""Ingest never loses what the CRM sent: a Won deal without its handoff context is stored and the gap
raised once, to the owner's manager; a record re-sent unchanged refreshes its failure and item."""

import json

import pytest

from exceptions.models import ExceptionItem, Queue
from revops.models import FieldDefinition, Opportunity, SyncFailure
from revops.tokens import api_token_create
from tests.factories import RepFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

HANDOFF = {
    "contract_start_date": "2026-04-01",
    "products_purchased": ["platform"],
    "use_case": "Route inbound leads in seconds.",
    "success_criteria": "Median speed-to-lead under 5 minutes.",
    "implementation_notes": "Salesforce, SSO through Okta.",
    "billing_contact": "ap@customer.test",
    "executive_sponsor": "Dana Chief",
    "sales_risks_promises": "Promised a Slack integration by Q3.",
}


@pytest.fixture
def sync(client):
    _, raw = api_token_create(name="crm", scopes=["sync:write"])

    def post(records, object_name="opportunities"):
        response = client.post(
            f"/api/v1/sync/{object_name}/",
            data=json.dumps({"records": records}),
            content_type="application/json",
            secure=True,
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )
        assert response.status_code == 200, response.content
        return response.json()

    return post


@pytest.fixture
def org():
    """Team East (queue "East triage") managed by Mia, with sub-team East SMB where Sam sells."""
    mia = UserFactory(username="mia")
    east = TeamFactory(name="East", manager=RepFactory(name="Mia Manager", user=mia))
    smb = TeamFactory(name="East SMB", parent=east)
    Queue.objects.create(name="East triage", team=east)
    return {"rep": RepFactory(name="Sam Seller", team=smb, external_id="R-SAM"), "manager": mia}


def deal(at="2026-03-01T10:00:00Z", **fields):
    return {
        "external_id": "O-1",
        "name": "Acme - Platform",
        "stage": "closed_won",
        "owner": "R-SAM",
        "amount": "50000",
        "source_updated_at": at,
        **fields,
    }


def gap_items():
    return ExceptionItem.objects.filter(kind="missing_fields")


def test_a_won_deal_without_handoff_fields_is_stored_and_raised_once_to_the_managers_queue(sync, org):
    body = sync([deal()])
    result = body["results"][0]
    assert result["status"] == "created"
    assert set(result["missing"]) == set(HANDOFF)
    assert result["missing"]["use_case"] == ["is required when stage is closed_won but missing"]
    assert Opportunity.objects.get(external_id="O-1").stage == "closed_won"
    assert not SyncFailure.objects.exists()
    item = gap_items().get()
    assert item.queue.name == "East triage"  # the nearest queue up the owner's team tree
    assert item.owner == org["manager"]  # the deal owner's manager
    assert item.object_type == "opportunity" and item.external_id == "O-1"
    assert "without Billing contact, Contract start date, Executive sponsor" in item.reason
    assert "required when stage is closed_won" in item.reason and "Sam Seller should supply them" in item.reason
    assert "8 required fields missing" in item.title

    # Re-sent unchanged (a nightly re-sync): no new rows, the item refreshed.
    again = sync([deal()])
    assert again["results"][0]["status"] == "unchanged"
    assert set(again["results"][0]["missing"]) == set(HANDOFF)
    assert gap_items().count() == 1
    assert gap_items().get().occurrences == 2
    assert not SyncFailure.objects.exists()


def test_later_syncs_fill_the_gap_and_the_last_field_resolves_the_item(sync, org):
    sync([deal()])
    partial = {k: v for k, v in HANDOFF.items() if k not in ("billing_contact", "use_case")}
    body = sync([deal(at="2026-03-02T10:00:00Z", **partial)])
    assert set(body["results"][0]["missing"]) == {"billing_contact", "use_case"}
    item = gap_items().get()
    assert item.status in ExceptionItem.OPEN_STATUSES and "2 required fields missing" in item.title
    assert "without Billing contact and Use case" in item.reason

    body = sync([deal(at="2026-03-03T10:00:00Z", **HANDOFF)])
    assert "missing" not in body["results"][0]
    item.refresh_from_db()
    assert item.status == ExceptionItem.Status.RESOLVED
    assert item.resolution_code == "fixed_in_crm"
    assert "brought the missing fields" in item.resolution_note


def test_deals_in_other_stages_raise_nothing(sync, org):
    body = sync([deal(stage="negotiation")])
    assert "missing" not in body["results"][0]
    assert not gap_items().exists()


def test_reject_mode_still_refuses_the_record(sync, org):
    field = FieldDefinition.objects.get(object_type="opportunity", key="use_case")
    field.enforcement = "reject"
    field.save()
    body = sync([deal(**{k: v for k, v in HANDOFF.items() if k != "use_case"})])
    result = body["results"][0]
    assert result["status"] == "rejected"
    assert result["errors"] == {"use_case": ["is required when stage is closed_won but missing"]}
    assert not Opportunity.objects.exists()


def test_a_rejected_record_re_sent_unchanged_refreshes_its_failure_and_item(sync, org):
    bad = deal(close_date="next tuesday", **HANDOFF)
    for _ in range(3):
        assert sync([bad])["results"][0]["status"] == "rejected"
    failure = SyncFailure.objects.get()
    assert failure.occurrences == 3 and failure.last_seen_at is not None
    item = ExceptionItem.objects.get(kind="sync_rejected")
    assert item.occurrences == 3

    # Sent with another error: a new failure row (what the CRM sent differs), the same open item.
    sync([{**bad, "close_date": "someday"}])
    assert SyncFailure.objects.count() == 2
    assert ExceptionItem.objects.filter(kind="sync_rejected").count() == 1


def test_a_resolved_failure_is_not_refreshed(sync, org):
    bad = deal(close_date="next tuesday", **HANDOFF)
    sync([bad])
    SyncFailure.objects.update(resolved_at="2026-03-05T10:00:00Z", resolved_note="Asked the CRM admin.")
    sync([bad])
    assert SyncFailure.objects.count() == 2
