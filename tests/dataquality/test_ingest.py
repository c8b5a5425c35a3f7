"""The duplicate rules on ingest, through the sync API: report stores and opens a set; block refuses a
new duplicate with a sentence naming the stored record (never an update, never a 500)."""

import json

import pytest

from dataquality.models import DuplicateKey, DuplicateMember, DuplicateRule, DuplicateSet
from exceptions.models import ExceptionItem
from revops.models import Account, Contact, Lead, SyncFailure
from revops.tokens import api_token_create

from .support import rule

pytestmark = pytest.mark.django_db
WHEN = "2026-03-02T10:00:00+00:00"


@pytest.fixture
def sync(client):
    _, raw = api_token_create(name="crm", scopes=["sync:write"])

    def post(object_name, records, query=""):
        return client.post(
            f"/api/v1/sync/{object_name}/{query}",
            data=json.dumps({"records": [{"source_updated_at": WHEN, **r} for r in records]}),
            content_type="application/json",
            secure=True,
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )

    return post


ADA = {"external_id": "L-1003", "email": "ada@x.com", "first_name": "Ada", "last_name": "Moreno", "company": "X Corp"}


def test_report_stores_the_duplicate_and_opens_a_set_with_the_evidence(sync):
    rule()
    assert sync("leads", [ADA]).status_code == 200
    response = sync("leads", [{**ADA, "external_id": "L-2001", "email": "ADA@X.COM", "last_name": "Moreon"}])
    assert response.status_code == 200 and response.json()["results"][0]["status"] == "created"
    dup_set = DuplicateSet.objects.get()
    # x.com is a shared host (X, formerly Twitter), so the e-mail domain adds nothing: 100 + 50 + 25.
    assert (dup_set.object_type, dup_set.status, dup_set.found_by, dup_set.score) == ("lead", "open", "ingest", 175)
    members = {m.object_id: m for m in DuplicateMember.objects.filter(set=dup_set)}
    ada, second = Lead.objects.get(external_id="L-1003"), Lead.objects.get(external_id="L-2001")
    assert set(members) == {ada.pk, second.pk}
    assert members[second.pk].matched_id == ada.pk
    assert members[second.pk].evidence[0] == "email: same (ada@x.com)"
    assert 'name: 90 % similar ("Ada Moreon" and "Ada Moreno")' in members[second.pk].evidence
    # A third copy extends the set; sending it again changes nothing.
    third = {**ADA, "external_id": "L-2002", "first_name": "ADA"}
    sync("leads", [third])
    sync("leads", [{**third, "title": "CTO"}])
    assert DuplicateSet.objects.count() == 1 and DuplicateMember.objects.count() == 3


def test_block_refuses_a_new_duplicate_naming_the_stored_record(sync):
    rule(action="block")
    sync("leads", [ADA])
    response = sync(
        "leads",
        [
            {**ADA, "external_id": "L-2001", "first_name": "ADA"},
            {**ADA, "external_id": "L-2002", "email": "ben@y.org", "first_name": "Ben"},
        ],
    )
    assert response.status_code == 200
    refused, other = response.json()["results"]
    assert other["status"] == "created"
    assert refused["status"] == "rejected"
    message = refused["errors"]["duplicate"][0]
    assert message == (  # as docs/dataquality.md shows it
        'This lead looks like Ada Moreno (L-1003): email: same (ada@x.com); name: same once normalised ("ADA Moreno" '
        'and "Ada Moreno"); company: same (X Corp). A duplicate rule blocks it; update that lead instead, or merge '
        "the two in the CRM first."
    )
    assert not Lead.objects.filter(external_id="L-2001").exists()
    failure = SyncFailure.objects.get(external_id="L-2001")
    assert failure.errors["duplicate"] == [message]
    assert ExceptionItem.objects.filter(kind="sync_rejected").count() == 1
    assert DuplicateSet.objects.count() == 0


def test_block_within_one_batch_and_atomic_writes_nothing(sync):
    rule(action="block")
    response = sync("leads", [ADA, {**ADA, "external_id": "L-2001"}], query="?atomic=true")
    body = response.json()
    assert body["results"][1]["status"] == "rejected"
    assert "earlier in this batch" in body["results"][1]["errors"]["duplicate"][0]
    assert Lead.objects.count() == 0 and DuplicateKey.objects.count() == 0
    response = sync("leads", [ADA, {**ADA, "external_id": "L-2001"}])
    assert [r["status"] for r in response.json()["results"]] == ["created", "rejected"]


def test_an_update_is_never_blocked_but_reported(sync):
    rule(action="block")
    sync("leads", [ADA, {"external_id": "L-2001", "email": "ben@y.org", "first_name": "Ben", "last_name": "Ode"}])
    response = sync(
        "leads", [{"external_id": "L-2001", "email": "Ada@x.com", "first_name": "Ada", "last_name": "Moreno"}]
    )
    assert response.json()["results"][0]["status"] == "updated"
    assert DuplicateSet.objects.get().members.count() == 2


def test_inactive_rules_and_other_objects_are_not_checked(sync):
    rule()
    DuplicateRule.objects.update(is_active=False)
    sync("leads", [ADA, {**ADA, "external_id": "L-2001"}])
    assert DuplicateSet.objects.count() == 0 and DuplicateKey.objects.count() == 0
    sync("accounts", [{"external_id": "A-1", "name": "Acme Inc", "domain": "acme.com"}])
    assert Account.objects.count() == 1


@pytest.mark.parametrize(
    "values",
    [
        {"first_name": None, "last_name": None, "email": None},
        {"first_name": "x" * 80, "last_name": "\u0301\u0301", "company": "!!!"},
        {"email": "not-an-email"},
        {"first_name": "A", "last_name": "B", "company": "Inc"},
    ],
)
def test_messy_records_never_answer_500(sync, values):
    rule(action="block")
    rule("Accounts", object_type="account")
    sync("leads", [ADA])
    response = sync("leads", [{"external_id": "L-9", **values}])
    assert response.status_code == 200
    assert response.json()["results"][0]["status"] in {"created", "rejected"}
    response = sync(
        "accounts", [{"external_id": "A-9", "name": "Ꮖ∂ Ω", "domain": "xn--bcher-kva.example", "website": "::::"}]
    )
    assert response.status_code == 200


CONTACT_FIELDS = [
    {"field": "email", "method": "normalised", "weight": 100, "blocking": True},
    {"field": "phone", "method": "normalised", "weight": 60, "blocking": True},
    {"field": "name", "method": "fuzzy", "similarity": 88, "weight": 50, "blocking": True},
]


def test_contacts_are_checked_like_leads_a_typo_and_a_formatted_phone_are_reported(sync):
    rule("Contacts: same person", object_type="contact", fields=CONTACT_FIELDS)
    sync("accounts", [{"external_id": "A-1", "name": "Acme", "country": "US"}])
    grace = {"external_id": "C-1", "account": "A-1", "first_name": "Grace", "last_name": "Hopper"}
    assert sync("contacts", [{**grace, "email": "grace@acme.example", "phone": "+1 415 555 0100"}]).status_code == 200
    response = sync(
        "contacts",
        [
            {
                **grace,
                "external_id": "C-2",
                "first_name": "Grcae",
                "email": "GRACE@ACME.EXAMPLE",
                "phone": "(415) 555-0100",
            }
        ],
    )
    assert response.json()["results"][0]["status"] == "created"
    dup_set = DuplicateSet.objects.get(object_type="contact")
    second = Contact.objects.get(external_id="C-2")
    evidence = DuplicateMember.objects.get(set=dup_set, object_id=second.pk).evidence
    assert second.phone == "+14155550100"  # read in its account's country, then compared as stored
    assert evidence[0] == "email: same (grace@acme.example)"
    assert any(line.startswith("phone: same") for line in evidence)
