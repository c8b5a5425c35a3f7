"""Read API: list and detail for every object, filters, cursor pagination, constant query counts."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from revops.models import Account, Lead, Opportunity, Task
from tests.factories import (
    AccountFactory,
    ActivityFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    RepFactory,
    TaskFactory,
    TeamFactory,
)
from tests.revops.api_support import api_settings, token_client  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("api_settings")]


@pytest.fixture
def client():
    return token_client("read")


def results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


def ids(response, key="external_id"):
    return sorted(row[key] for row in results(response))


def make(object_type):
    """One record of ``object_type`` with its references set; returns (record, its URL key)."""
    if object_type == "teams":
        team = TeamFactory(parent=TeamFactory(), manager=RepFactory())
        return team, team.external_id
    if object_type == "reps":
        rep = RepFactory(manager=RepFactory(), attributes={"quota": 1000})
        return rep, rep.external_id
    if object_type == "accounts":
        account = AccountFactory(parent=AccountFactory(), attributes={"tier": "A"})
        return account, account.external_id
    if object_type == "leads":
        lead = LeadFactory(owner=RepFactory(), matched_account=AccountFactory(), attributes={"lead_tier": "A"})
        return lead, lead.external_id
    if object_type == "contacts":
        contact = ContactFactory(owner=RepFactory(), converted_from_lead=LeadFactory(), attributes={"tier": "A"})
        return contact, contact.external_id
    if object_type == "opportunities":
        opp = OpportunityFactory(attributes={"use_case": "x"})
        return opp, opp.external_id
    if object_type == "activities":
        activity = ActivityFactory(lead=LeadFactory(), opportunity=OpportunityFactory(), account=AccountFactory())
        return activity, activity.external_id
    task = TaskFactory(lead=LeadFactory(), account=AccountFactory(), opportunity=OpportunityFactory())
    return task, task.pk


OBJECTS = ["teams", "reps", "accounts", "leads", "contacts", "opportunities", "activities", "tasks"]
REFERENCES = {
    "teams": ["manager", "parent"],
    "reps": ["manager", "team"],
    "accounts": ["owner", "parent"],
    "leads": ["owner", "matched_account"],
    "contacts": ["account", "owner", "converted_from_lead"],
    "opportunities": ["owner", "account"],
    "activities": ["rep", "lead", "opportunity", "account"],
    "tasks": ["owner", "lead", "account", "opportunity"],
}


@pytest.mark.parametrize("object_type", OBJECTS)
def test_list_and_detail_show_references_as_external_ids(client, object_type):
    record, key = make(object_type)
    listed = [row for row in results(client.get(f"/api/v1/{object_type}/")) if row["external_id"] == record.external_id]
    assert len(listed) == 1
    detail = client.get(f"/api/v1/{object_type}/{key}/")
    assert detail.status_code == 200
    body = detail.json()
    for name in REFERENCES[object_type]:
        assert body[name] == getattr(record, name).external_id, name
    if hasattr(record, "attributes"):
        assert body["attributes"] == record.attributes
    detail_only = {"latest_decision", "converted_contacts"}  # a lead's detail adds these
    assert {k: v for k, v in listed[0].items() if k not in detail_only} == {
        k: v for k, v in body.items() if k not in detail_only
    }


@pytest.mark.parametrize("object_type", OBJECTS)
def test_an_empty_external_id_filter_is_refused_not_read_as_everything(client, object_type):
    record, _key = make(object_type)
    for query in ("external_id=", "external_id=,", "external_id=%20"):
        response = client.get(f"/api/v1/{object_type}/?{query}")
        assert response.status_code == 400, (query, response.content)
        assert "one or more external ids" in response.json()["external_id"][0]
    if record.external_id:  # a task the portal created has none
        found = results(client.get(f"/api/v1/{object_type}/?external_id={record.external_id},nope"))
        assert [row["external_id"] for row in found] == [record.external_id]


@pytest.mark.parametrize("object_type", OBJECTS)
def test_unknown_record_is_404(client, object_type):
    response = client.get(f"/api/v1/{object_type}/999999/")
    assert response.status_code == 404
    assert "999999" in response.json()["detail"]


@pytest.mark.parametrize("object_type", OBJECTS)
def test_list_query_count_does_not_grow_with_rows(client, object_type):
    make(object_type)
    client.get(f"/api/v1/{object_type}/")  # token last-used bookkeeping happens on the first request
    with CaptureQueriesContext(connection) as few:
        assert len(results(client.get(f"/api/v1/{object_type}/"))) >= 1
    for _ in range(15):
        make(object_type)
    with CaptureQueriesContext(connection) as many:
        assert len(results(client.get(f"/api/v1/{object_type}/"))) >= 16
    assert len(many) == len(few) <= 3


def test_lead_detail_shows_owner_and_latest_decision(client):
    rep = RepFactory(external_id="R-9", name="Grace Hopper")
    LeadFactory(external_id="L-9", owner=rep)
    body = client.get("/api/v1/leads/L-9/").json()
    assert body["owner"] == "R-9"
    assert body["owner_name"] == "Grace Hopper"
    assert "latest_decision" in body and body["latest_decision"] is None


def test_unassigned_lead_has_null_owner(client):
    LeadFactory(external_id="L-0")
    body = client.get("/api/v1/leads/L-0/").json()
    assert body["owner"] is None and body["owner_name"] is None


def test_decimals_are_strings_and_dates_iso(client):
    OpportunityFactory(external_id="O-1", amount=Decimal("1234.50"), close_date=dt.date(2027, 3, 31))
    body = client.get("/api/v1/opportunities/O-1/").json()
    assert body["amount"] == "1234.50"
    assert body["close_date"] == "2027-03-31"


# --- filters -----------------------------------------------------------------------------------


def test_lead_filters(client):
    ada, bob = RepFactory(external_id="R-ADA"), RepFactory(external_id="R-BOB")
    account = AccountFactory(external_id="A-1")
    LeadFactory(external_id="L-1", owner=ada, status=Lead.Status.NEW, country="GB", matched_account=account)
    LeadFactory(external_id="L-2", owner=ada, status=Lead.Status.WORKING, country="US")
    LeadFactory(external_id="L-3", owner=bob, status=Lead.Status.QUALIFIED, country="US", source="event")
    LeadFactory(external_id="L-4", status=Lead.Status.NEW, country="US")
    url = "/api/v1/leads/"
    assert ids(client.get(url, {"owner": "R-ADA"})) == ["L-1", "L-2"]
    assert ids(client.get(url, {"status": ["new", "working"]})) == ["L-1", "L-2", "L-4"]
    assert ids(client.get(url, {"country": "gb"})) == ["L-1"]
    assert ids(client.get(url, {"unassigned": "true"})) == ["L-4"]
    assert ids(client.get(url, {"matched_account": "A-1"})) == ["L-1"]
    assert ids(client.get(url, {"source": "event"})) == ["L-3"]
    assert ids(client.get(url, {"external_id": "L-1,L-3"})) == ["L-1", "L-3"]
    assert ids(client.get(url, {"owner": "R-NOBODY"})) == []


def test_updated_since_and_source_updated_since(client):
    now = timezone.now()
    LeadFactory(external_id="L-old", source_updated_at=now - dt.timedelta(days=3))
    LeadFactory(external_id="L-new", source_updated_at=now)
    Lead.objects.filter(external_id="L-old").update(updated_at=now - dt.timedelta(days=2))
    since = (now - dt.timedelta(days=1)).isoformat()
    assert ids(client.get("/api/v1/leads/", {"updated_since": since})) == ["L-new"]
    assert ids(client.get("/api/v1/leads/", {"source_updated_since": since})) == ["L-new"]


def test_account_filters(client):
    owner = RepFactory(external_id="R-1")
    AccountFactory(external_id="A-1", is_named=True, customer_status=Account.CustomerStatus.CUSTOMER, owner=owner)
    AccountFactory(external_id="A-2", country="DE", industry="Retail")
    url = "/api/v1/accounts/"
    assert ids(client.get(url, {"is_named": "true"})) == ["A-1"]
    assert ids(client.get(url, {"customer_status": "customer"})) == ["A-1"]
    assert ids(client.get(url, {"country": "de"})) == ["A-2"]
    assert ids(client.get(url, {"industry": "Retail"})) == ["A-2"]
    assert ids(client.get(url, {"owner": "R-1"})) == ["A-1"]


def test_opportunity_filters(client):
    account = AccountFactory(external_id="A-1")
    OpportunityFactory(external_id="O-1", account=account, close_date=dt.date(2027, 1, 15))
    OpportunityFactory(external_id="O-2", stage=Opportunity.Stage.CLOSED_WON, close_date=dt.date(2027, 2, 15))
    OpportunityFactory(external_id="O-3", stage=Opportunity.Stage.PROPOSAL, close_date=dt.date(2027, 3, 15))
    url = "/api/v1/opportunities/"
    assert ids(client.get(url, {"close_date_after": "2027-02-01", "close_date_before": "2027-03-31"})) == ["O-2", "O-3"]
    assert ids(client.get(url, {"stage": "closed_won"})) == ["O-2"]
    assert ids(client.get(url, {"is_open": "true"})) == ["O-1", "O-3"]
    assert ids(client.get(url, {"is_open": "false"})) == ["O-2"]
    assert ids(client.get(url, {"account": "A-1"})) == ["O-1"]


def test_activity_team_and_rep_filters(client):
    team = TeamFactory(external_id="T-1", parent=TeamFactory(external_id="T-0"))
    rep = RepFactory(external_id="R-1", team=team)
    lead = LeadFactory(external_id="L-1")
    ActivityFactory(external_id="ACT-1", rep=rep, lead=lead, kind="meeting")
    ActivityFactory(external_id="ACT-2", occurred_at=timezone.now() - dt.timedelta(days=10))
    assert ids(client.get("/api/v1/activities/", {"lead": "L-1"})) == ["ACT-1"]
    assert ids(client.get("/api/v1/activities/", {"kind": "meeting"})) == ["ACT-1"]
    since = (timezone.now() - dt.timedelta(days=1)).isoformat()
    assert ids(client.get("/api/v1/activities/", {"occurred_after": since})) == ["ACT-1"]
    assert ids(client.get("/api/v1/reps/", {"team": "T-1"})) == ["R-1"]
    assert ids(client.get("/api/v1/teams/", {"parent": "T-0"})) == ["T-1"]


def test_task_filters_and_detail_by_portal_id(client):
    owner = RepFactory(external_id="R-1")
    auto = TaskFactory(owner=owner, created_by_automation="SLA v2")
    TaskFactory(status=Task.Status.DONE, external_id="CRM-T-1")
    url = "/api/v1/tasks/"
    assert ids(client.get(url, {"owner": "R-1"}), key="id") == [auto.pk]
    assert ids(client.get(url, {"from_automation": "true"}), key="id") == [auto.pk]
    assert ids(client.get(url, {"status": "done"})) == ["CRM-T-1"]
    body = client.get(f"/api/v1/tasks/{auto.pk}/").json()
    assert body["id"] == auto.pk and body["external_id"] is None and body["owner"] == "R-1"
    assert client.get("/api/v1/tasks/CRM-T-1/").status_code == 404  # tasks are looked up by the portal's id


@pytest.mark.parametrize(
    "params",
    [
        {"status": "bogus"},
        {"updated_since": "yesterday"},
        {"unassigned": "maybe"},
    ],
)
def test_malformed_filters_are_400(client, params):
    response = client.get("/api/v1/leads/", params)
    assert response.status_code == 400
    assert set(response.json()) == set(params)


# --- cursor pagination -------------------------------------------------------------------------


def test_cursor_pagination_walks_every_record_once_in_id_order(client):
    leads = [LeadFactory() for _ in range(7)]
    seen, url, pages = [], "/api/v1/leads/?limit=3", 0
    while url:
        body = client.get(url).json()
        seen += [row["external_id"] for row in body["results"]]
        url, pages = body["next"], pages + 1
        if url:
            LeadFactory()  # rows added while paging come after the ones already seen
    assert pages >= 3
    assert seen[:7] == [lead.external_id for lead in leads]
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "501"}, {"limit": "ten"}, {"cursor": "garbage"}])
def test_bad_page_parameters_are_400(client, params):
    LeadFactory()
    response = client.get("/api/v1/leads/", params)
    assert response.status_code == 400
    assert set(response.json()) == set(params)


def test_limit_up_to_500(client):
    LeadFactory.create_batch(3)
    assert len(results(client.get("/api/v1/leads/", {"limit": "500"}))) == 3
    assert len(results(client.get("/api/v1/leads/", {"limit": "2"}))) == 2
