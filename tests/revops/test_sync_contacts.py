"""Contacts through POST /api/v1/sync/contacts/ and GET /api/v1/contacts/: roles, normalised e-mail and
phone, the account by its external id, the lead a contact was converted from, filters and scoping."""

import json

import pytest
from rest_framework.test import APIClient

from exceptions import roles
from exceptions.models import ExceptionItem
from revops.models import Contact, Lead, OutboxEvent, SyncBatch, SyncFailure
from revops.outbox import outbox_process_batch
from tests.factories import AccountFactory, ContactFactory, LeadFactory, RepFactory, TeamFactory, UserFactory
from tests.revops.api_support import api_settings, token_client  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("api_settings")]

T1, T2, T3 = "2026-03-01T10:00:00Z", "2026-03-02T10:00:00Z", "2026-03-03T10:00:00Z"


@pytest.fixture
def crm():
    return token_client("sync:write", "read", name="hubspot")


def post(client, records, *, key=None, query=""):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    response = client.post(
        f"/api/v1/sync/contacts/{query}",
        data=json.dumps({"records": records}),
        content_type="application/json",
        **headers,
    )
    assert response.status_code in (200, 422), response.content
    return response


def rec(ext, when=T1, **values):
    return {"external_id": ext, "source_updated_at": when, **values}


@pytest.fixture
def accounts():
    owner = RepFactory(external_id="R-1", name="Ada Owner")
    return {
        "GB": AccountFactory(external_id="A-GB", name="Globex Ltd", country="GB", owner=owner),
        "US": AccountFactory(external_id="A-US", name="Acme Inc.", country="US", owner=owner),
        "none": AccountFactory(external_id="A-XX", name="Nowhere Co", country=""),
    }


def test_create_update_unchanged_and_stale(crm, accounts):
    record = rec(
        "C-1",
        account="A-US",
        first_name="Dana",
        last_name="Whitfield",
        email="dana@acme.test",
        title="CFO",
        roles=["executive_sponsor", "billing_contact"],
        owner="R-1",
    )
    body = post(crm, [record]).json()
    assert body["results"] == [{"index": 0, "external_id": "C-1", "status": "created"}]
    contact = Contact.objects.get(external_id="C-1")
    assert contact.account == accounts["US"] and contact.owner.external_id == "R-1"
    assert contact.roles == ["executive_sponsor", "billing_contact"] and contact.is_active
    assert contact.role_labels() == ["Executive sponsor", "Billing contact"]
    created = contact.history.get()
    assert created.history_type == "+" and created.history_user == crm.token.user

    body = post(crm, [rec("C-1", T2, roles=["champion"], is_active=False)]).json()
    assert body["results"][0] == {
        "index": 0,
        "external_id": "C-1",
        "status": "updated",
        "changed_fields": ["roles", "is_active"],
    }
    event = OutboxEvent.objects.filter(object_type="contact", kind="updated").get()
    assert event.changes == {
        "roles": [["executive_sponsor", "billing_contact"], ["champion"]],
        "is_active": [True, False],
    }
    assert post(crm, [rec("C-1", T2, roles=["champion"])]).json()["results"][0]["status"] == "unchanged"
    assert post(crm, [rec("C-1", T1, roles=[])]).json()["results"][0]["status"] == "stale"
    contact.refresh_from_db()
    assert contact.roles == ["champion"] and contact.history.count() == 2


def test_a_resent_batch_with_the_same_idempotency_key_replays_and_writes_nothing(crm, accounts):
    records = [rec("C-1", account="A-US", email="jo@acme.test"), rec("C-2", account="A-GB", first_name="Kim")]
    first = post(crm, records, key="contacts-0001")
    again = post(crm, records, key="contacts-0001")
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    assert Contact.objects.count() == 2 and SyncBatch.objects.count() == 1
    assert OutboxEvent.objects.filter(object_type="contact").count() == 2
    # The same records again under a new key: nothing differs, nothing is written but the batch.
    body = post(crm, records, key="contacts-0002").json()
    assert [r["status"] for r in body["results"]] == ["unchanged", "unchanged"]
    assert Contact.history.count() == 2


def test_messy_emails_and_phones_are_stored_normalised_with_what_was_sent_kept(crm, accounts):
    body = post(
        crm,
        [
            rec("C-1", account="A-US", email="  Dana.Whitfield@ACME.test ", phone="+1 (415) 555-0100"),
            rec("C-2", account="A-GB", email="kim@globex.test", phone="020 7946 0958"),  # national: read in GB
            rec("C-3", account="A-US", phone="+44 20 7946 0958"),  # a foreign number with its code stays foreign
        ],
    ).json()
    assert [r["status"] for r in body["results"]] == ["created"] * 3, body
    dana, kim, third = (Contact.objects.get(external_id=e) for e in ("C-1", "C-2", "C-3"))
    assert (dana.email, dana.phone) == ("dana.whitfield@acme.test", "+14155550100")
    assert dana.raw_values == {"email": "  Dana.Whitfield@ACME.test ", "phone": "+1 (415) 555-0100"}
    assert (kim.phone, kim.raw_values) == ("+442079460958", {"phone": "020 7946 0958"})
    assert third.phone == "+442079460958"
    assert SyncBatch.objects.get().normalised == {"email": 1, "phone": 3}
    # The same person sent again in another spelling is no change.
    body = post(crm, [rec("C-1", T2, email="dana.whitfield@acme.test", phone="+14155550100")]).json()
    assert body["results"][0]["status"] == "unchanged"
    assert Contact.objects.get(external_id="C-1").raw_values == {}


def test_a_national_number_is_read_in_the_country_of_the_stored_account(crm, accounts):
    post(crm, [rec("C-1", account="A-GB", first_name="Kim")])
    body = post(crm, [rec("C-1", T2, phone="020 7946 0958")]).json()
    assert body["results"][0]["status"] == "updated"
    assert Contact.objects.get().phone == "+442079460958"


def test_values_that_cannot_be_read_reject_the_record_saying_what_is_accepted(crm, accounts):
    body = post(
        crm,
        [
            rec("C-1", account="A-XX", phone="020 7946 0958"),  # the account has no country to read it in
            rec("C-2", account="A-US", email="dana@"),
            rec("C-3", account="A-US", roles=["champion", "boss"]),
            rec("C-4", account="A-US", roles="champion"),
            rec("C-5", account="A-US", first_name="Fine"),
        ],
    ).json()
    errors = [r.get("errors") for r in body["results"]]
    assert errors[0] == {
        "phone": ["'020 7946 0958' is not a phone number: send it with its country code, e.g. +44 20 7946 0958"]
    }
    assert errors[1] == {"email": ["'dana@' is not an email address"]}
    assert errors[2] == {
        "roles": ["'boss' not allowed (allowed: champion, executive_sponsor, billing_contact, decision_maker)"]
    }
    assert errors[3] == {"roles": ["'champion' is not a list of values"]}
    assert body["results"][4]["status"] == "created"
    assert list(Contact.objects.values_list("external_id", flat=True)) == ["C-5"]
    assert SyncFailure.objects.filter(object_type="contact").count() == 4


def test_an_unknown_account_is_kept_as_a_failure_and_raised_to_a_person(crm, accounts):
    body = post(crm, [rec("C-1", account="A-404", email="jo@nowhere.test")]).json()
    result = body["results"][0]
    assert result["status"] == "rejected"
    assert result["errors"] == {
        "account": ["points at account 'A-404', but no account has that external id in the portal or in this batch"]
    }
    failure = SyncFailure.objects.get(object_type="contact", external_id="C-1")
    assert failure.payload["account"] == "A-404" and failure.errors == result["errors"]
    item = ExceptionItem.objects.get(kind="sync_rejected")
    assert item.title == "CRM contact C-1 rejected by the sync" and "points at account 'A-404'" in item.reason
    # Once the CRM sends the account, the same contact is stored.
    crm.post(
        "/api/v1/sync/accounts/",
        data=json.dumps({"records": [rec("A-404", name="Initech")]}),
        content_type="application/json",
    )
    assert post(crm, [rec("C-1", T2, account="A-404", email="jo@nowhere.test")]).json()["counts"]["created"] == 1


def test_a_contact_keeps_the_lead_it_was_converted_from(crm, accounts):
    lead = LeadFactory(external_id="L-7", status="qualified", email="sam@acme.test", source_updated_at=None)
    body = post(crm, [rec("C-7", account="A-US", email="sam@acme.test", converted_from_lead="L-7")]).json()
    assert body["results"][0]["status"] == "created"
    contact = Contact.objects.get(external_id="C-7")
    assert contact.converted_from_lead == lead
    assert OutboxEvent.objects.get(object_type="contact").changes["converted_from_lead"] == [None, "L-7"]
    # The CRM marks the lead converted; the link stays on the contact and shows on the lead.
    crm.post(
        "/api/v1/sync/leads/",
        data=json.dumps({"records": [rec("L-7", T2, status="converted")]}),
        content_type="application/json",
    )
    assert Lead.objects.get(external_id="L-7").status == "converted"
    assert crm.get("/api/v1/leads/L-7/").json()["converted_contacts"] == ["C-7"]
    assert crm.get("/api/v1/contacts/C-7/").json()["converted_from_lead"] == "L-7"
    # A later update that does not name the lead keeps the link.
    post(crm, [rec("C-7", T3, title="Head of Ops")])
    assert Contact.objects.get(external_id="C-7").converted_from_lead == lead
    body = post(crm, [rec("C-8", account="A-US", converted_from_lead="L-404")]).json()
    assert body["results"][0]["errors"] == {
        "converted_from_lead": [
            "points at lead 'L-404', but no lead has that external id in the portal or in this batch"
        ]
    }


def test_contact_events_reach_the_outbox_consumer(crm, accounts):
    body = post(crm, [rec("C-1", account="A-US", roles=["champion"])]).json()
    event = OutboxEvent.objects.get(object_type="contact")
    assert event.kind == "created" and event.batch_id == body["batch"]
    outbox_process_batch(batch_id=body["batch"])
    event.refresh_from_db()
    assert event.status == "processed"


def test_an_automation_triggers_on_a_contact_change(crm, accounts):
    from exceptions.models import Queue
    from revops.engine.pipeline import engine_process_events
    from revops.engine.services import automation_create

    accounts["US"].customer_status = "customer"
    accounts["US"].save()
    rule_owner = UserFactory(username="rule.owner", first_name="Rita", last_name="Rule")
    Queue.objects.get_or_create(name="RevOps")
    automation_create(
        actor=rule_owner,
        name="Executive sponsor left a customer",
        purpose="A customer's executive sponsor who leaves puts the renewal at risk.",
        kind="alert",
        object_type="contact",
        trigger="updated",
        conditions={
            "all": [
                {"field": "contact.roles", "op": "contains", "value": "executive_sponsor"},
                {"field": "contact.is_active", "op": "eq", "value": False},
                {"field": "contact.account.customer_status", "op": "eq", "value": "customer"},
            ]
        },
        config={"title": "Executive sponsor left: {record}", "expected_action": "Find the new sponsor with the CSM."},
        rule_owner=rule_owner,
        failure_owner=rule_owner,
        exception_queue="RevOps",
        mode="live",
    )

    def process():
        engine_process_events(event_ids=list(OutboxEvent.objects.filter(status="pending").values_list("pk", flat=True)))

    post(crm, [rec("C-1", account="A-US", first_name="Dana", last_name="Whitfield", roles=["executive_sponsor"])])
    process()
    assert not ExceptionItem.objects.filter(kind="hygiene_alert").exists()
    post(crm, [rec("C-1", T2, is_active=False)])
    process()
    item = ExceptionItem.objects.get(kind="hygiene_alert")
    assert item.object_type == "contact" and item.object_id == Contact.objects.get().pk
    assert "Executive sponsor left a customer: Dana Whitfield matched" in item.reason


def test_conditions_on_contacts_agree_in_python_and_in_the_database(accounts):
    from revops import conditions

    accounts["US"].customer_status = "customer"
    accounts["US"].save()
    lead = LeadFactory(external_id="L-1", source="event")
    tree = {
        "all": [
            {"field": "contact.roles", "op": "contains", "value": "champion"},
            {"field": "contact.account.customer_status", "op": "eq", "value": "customer"},
            {"field": "contact.converted_from_lead.source", "op": "eq", "value": "event"},
        ]
    }
    ContactFactory(external_id="C-YES", account=accounts["US"], roles=["champion"], converted_from_lead=lead)
    ContactFactory(external_id="C-ROLE", account=accounts["US"], roles=["billing_contact"], converted_from_lead=lead)
    ContactFactory(external_id="C-PROSPECT", account=accounts["GB"], roles=["champion"], converted_from_lead=lead)
    ContactFactory(external_id="C-NOLEAD", account=accounts["US"], roles=["champion"])
    predicate = conditions.compile_condition(tree, object_type="contact")
    in_python = sorted(c.external_id for c in Contact.objects.all() if predicate(conditions.Context(c)))
    in_database = sorted(conditions.queryset(tree, object_type="contact").values_list("external_id", flat=True))
    assert in_python == in_database == ["C-YES"]


# --- read API ------------------------------------------------------------------------------------


def ext_ids(response):
    assert response.status_code == 200, response.content
    return sorted(row["external_id"] for row in response.json()["results"])


def test_contacts_filter_by_account_email_role_and_activity(accounts):
    client = token_client("read")
    ContactFactory(external_id="C-1", account=accounts["US"], email="dana@acme.test", roles=["executive_sponsor"])
    ContactFactory(external_id="C-2", account=accounts["US"], roles=["champion", "billing_contact"], is_active=False)
    ContactFactory(external_id="C-3", account=accounts["GB"], roles=[])
    assert ext_ids(client.get("/api/v1/contacts/", {"account": "A-US"})) == ["C-1", "C-2"]
    assert ext_ids(client.get("/api/v1/contacts/", {"email": "DANA@acme.test"})) == ["C-1"]
    assert ext_ids(client.get("/api/v1/contacts/", {"role": "billing_contact"})) == ["C-2"]
    assert ext_ids(client.get("/api/v1/contacts/?role=champion&role=executive_sponsor")) == ["C-1", "C-2"]
    assert ext_ids(client.get("/api/v1/contacts/", {"is_active": "false"})) == ["C-2"]
    body = client.get("/api/v1/contacts/C-1/").json()
    assert body["account"] == "A-US" and body["account_name"] == "Acme Inc." and body["roles"] == ["executive_sponsor"]
    bad = client.get("/api/v1/contacts/", {"role": "boss"})
    assert bad.status_code == 400 and "role" in bad.json()
    assert client.get("/api/v1/contacts/C-404/").json() == {"detail": "There is no contact with external id 'C-404'."}


def test_a_manager_reads_the_contacts_of_their_teams_accounts(accounts):
    roles.ensure_roles()
    team, other_team = TeamFactory(name="A"), TeamFactory(name="B")
    manager = UserFactory(username="manager_a")
    roles.assign_role(manager, roles.MANAGER)
    team.manager = RepFactory(user=manager, team=team)
    team.save()
    mine = AccountFactory(owner=RepFactory(team=team))
    theirs = AccountFactory(owner=RepFactory(team=other_team))
    ContactFactory(external_id="C-MINE", account=mine, owner=None)
    ContactFactory(external_id="C-OWNED", account=theirs, owner=RepFactory(team=team))  # owned in the team
    ContactFactory(external_id="C-THEIRS", account=theirs, owner=None)
    client = APIClient()
    client.force_login(manager)
    assert ext_ids(client.get("/api/v1/contacts/")) == ["C-MINE", "C-OWNED"]
    assert client.get("/api/v1/contacts/C-THEIRS/").status_code == 404
