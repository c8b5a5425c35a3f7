"""Renewal handoffs (N days before an account's renewal date, with a controllable clock) and receivers
chosen by a routing pool."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from exceptions.models import ExceptionItem, Queue
from handoffs.models import Checklist, Handoff
from handoffs.renewals import renewals_tick
from handoffs.services import checklist_save, context_package, handoffs_evaluate
from revops.models import Account, ChangeEntry, FieldDefinition, OutboxEvent, Task
from revops.outbox import outbox_process_events
from revops.tokens import api_token_create
from routing.models import Pool, PoolCounter, PoolMember
from tests.factories import ContactFactory, OpportunityFactory, RepFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T09:00:00").replace(tzinfo=dt.UTC)


def account_field(key, label, field_type):
    FieldDefinition.objects.get_or_create(
        object_type="account",
        key=key,
        defaults={"label": label, "field_type": field_type, "definition": label, "owning_team": "CS"},
    )


@pytest.fixture
def world(client):
    for key, label, kind in (
        ("renewal_date", "Renewal date", "date"),
        ("health_score", "Health score", "integer"),
        ("usage_trend", "Usage trend", "text"),
    ):
        account_field(key, label, kind)
    nina = UserFactory(username="nina")
    cs = TeamFactory(name="Customer Success", manager=RepFactory(name="Nina CS-Lead", user=nina))
    Queue.objects.create(name="CS triage", team=cs)
    csm = RepFactory(name="Cora CSM", team=cs, external_id="R-CORA")
    renewals = RepFactory(name="Rene Renewals", external_id="R-RENE")
    checklist = checklist_save(
        checklist=Checklist(
            name="CS → Renewal",
            kind=Checklist.Kind.RENEWAL,
            days_before=90,
            required_fields=[{"field": "health_score"}, {"field": "usage_trend"}],
            attestations=[{"key": "risks", "label": "Open risks reviewed", "role": "CSM"}],
            tasks=[{"title": "Renewal plan", "due_in_days": 14}],
            owner_rule=Checklist.OwnerRule.REP,
            owner_rep=renewals,
        ),
        actor=nina,
    )
    account = Account.objects.create(
        external_id="A-1", name="Acme", owner=csm, attributes={"renewal_date": "2027-03-01"}
    )
    # The account's people: a champion and a billing contact, one who left, one without a role.
    ContactFactory(
        account=account, first_name="Jo", last_name="Doe", email="jo@acme.test", phone="", title="", roles=["champion"]
    )
    ContactFactory(
        account=account,
        first_name="Bo",
        last_name="Bill",
        email="ap@acme.test",
        phone="+14155550100",
        title="Accounts Payable",
        roles=["billing_contact"],
    )
    ContactFactory(account=account, first_name="Ex", last_name="Sponsor", roles=["executive_sponsor"], is_active=False)
    ContactFactory(account=account, first_name="No", last_name="Role", roles=[])
    _, raw = api_token_create(name="crm", scopes=["sync:write"])

    def sync(**attributes):
        record = {
            "external_id": "A-1",
            "name": "Acme",
            "owner": "R-CORA",
            "source_updated_at": timezone.now().isoformat(),
            "renewal_date": "2027-03-01",
            **attributes,
        }
        response = client.post(
            "/api/v1/sync/accounts/",
            data=json.dumps({"records": [record]}),
            content_type="application/json",
            secure=True,
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )
        assert response.status_code == 200, response.content
        assert response.json()["results"][0]["status"] in ("updated", "unchanged"), response.json()
        outbox_process_events(event_ids=list(OutboxEvent.objects.filter(status="pending").values_list("id", flat=True)))

    return {"manager": nina, "csm": csm, "receiver": renewals, "checklist": checklist, "account": account, "sync": sync}


def signals(account):
    return [
        e.payload["signal"]
        for e in ChangeEntry.objects.filter(
            kind=ChangeEntry.Kind.HANDOFF_SIGNAL, external_id=account.external_id
        ).order_by("pk")
    ]


def test_the_renewal_handoff_starts_when_the_window_opens_and_waits_for_context(world):
    account = world["account"]
    assert renewals_tick(now=at("2026-11-20"))["created"] == 0  # 101 days before: not yet
    assert not Handoff.objects.exists()
    assert renewals_tick(now=at("2026-12-02"))["created"] == 1  # 89 days before
    handoff = Handoff.objects.get()
    assert (handoff.account, handoff.opportunity, handoff.renewal_date) == (account, None, dt.date(2027, 3, 1))
    assert handoff.status == Handoff.Status.WAITING
    assert [m["label"] for m in handoff.missing] == ["Health score", "Usage trend", "Open risks reviewed"]
    item = ExceptionItem.objects.get(kind="handoff_incomplete")
    assert item.queue.name == "CS triage" and item.owner == world["manager"]
    assert item.object_type == "account" and item.object_id == account.pk
    assert "renews on 2027-03-01" in item.reason and "Cora CSM should get Health score and Usage trend" in (
        item.expected_action
    )
    # the next days' passes change nothing
    before = (Handoff.history.count(), ExceptionItem.history.count(), ChangeEntry.objects.count())
    assert renewals_tick(now=at("2026-12-03")) == {"created": 0, "sent": 0, "cancelled": 0, "waiting": 1}
    assert (Handoff.history.count(), ExceptionItem.history.count(), ChangeEntry.objects.count()) == before
    assert signals(account) == ["started"]


def test_the_crm_filling_the_fields_and_the_csm_ticking_send_it_with_its_tasks_once(world):
    account, receiver = world["account"], world["receiver"]
    renewals_tick(now=at("2026-12-02"))
    world["sync"](health_score=71, usage_trend="Growing")  # the account sync re-evaluates through the event hook
    handoff = Handoff.objects.get()
    assert [m["key"] for m in handoff.missing] == ["risks"] and handoff.status == Handoff.Status.WAITING
    from handoffs.attestations import handoff_attest

    handoff = handoff_attest(handoff=handoff, key="risks", actor=world["manager"])
    assert handoff.status == Handoff.Status.SENT and handoff.receiver == receiver
    task = Task.objects.get()
    assert (task.account, task.owner, task.title) == (account, receiver, "Renewal plan")
    assert not ExceptionItem.objects.filter(kind="handoff_incomplete", status__in=["open", "snoozed"]).exists()
    world["sync"](health_score=72, usage_trend="Growing")  # later syncs do not send it twice
    renewals_tick(now=at("2026-12-10"))
    assert Task.objects.count() == 1
    assert signals(account) == ["started", "sent"]
    package = context_package(handoff)
    assert {"label": "Renewal date", "value": dt.date(2027, 3, 1)} in package["facts"]
    assert package["contacts"] == [
        {"label": "Champion", "value": "Jo Doe (jo@acme.test)"},
        {"label": "Billing contact", "value": "Bo Bill (Accounts Payable · ap@acme.test · +14155550100)"},
        {"label": "Account owner", "value": "Cora CSM"},
    ]


def test_a_corrected_date_keeps_the_handoff_and_an_early_renewal_cancels_it(world):
    renewals_tick(now=at("2026-12-02"))
    world["sync"](renewal_date="2027-02-15")  # corrected inside the window: the same handoff follows it
    handoff = Handoff.objects.get()
    assert handoff.renewal_date == dt.date(2027, 2, 15) and handoff.status == Handoff.Status.WAITING
    world["sync"](renewal_date="2028-02-15")  # renewed early: next term's date
    handoff.refresh_from_db()
    assert handoff.status == Handoff.Status.CANCELLED
    item = ExceptionItem.objects.get(kind="handoff_incomplete")
    assert item.status == "resolved" and "2028-02-15" in item.resolution_note
    assert signals(world["account"]) == ["started", "cancelled"]
    # a year on, the next renewal gets its own handoff; the cancelled one is not restarted
    assert renewals_tick(now=at("2027-12-01"))["created"] == 1
    assert Handoff.objects.filter(renewal_date=dt.date(2028, 2, 15), status=Handoff.Status.WAITING).count() == 1
    assert Handoff.objects.filter(status=Handoff.Status.CANCELLED).count() == 1


def test_a_renewal_past_its_date_stays_open_and_a_past_renewal_gets_none(world):
    Account.objects.create(external_id="A-OLD", name="Gone Inc", attributes={"renewal_date": "2026-10-01"})
    renewals_tick(now=at("2026-12-02"))
    assert list(Handoff.objects.values_list("account__external_id", flat=True)) == ["A-1"]
    assert renewals_tick(now=at("2027-03-05"))["cancelled"] == 0  # overdue, still waiting
    assert Handoff.objects.get().status == Handoff.Status.WAITING


def test_a_complete_renewal_of_an_account_without_owner_waits_for_one(world):
    account = world["account"]
    account.owner = None
    account.save()
    world["checklist"].owner_rule, world["checklist"].attestations = Checklist.OwnerRule.DEAL_OWNER, []
    world["checklist"].save()
    account.attributes = {**account.attributes, "health_score": 80, "usage_trend": "flat"}
    account.save()
    renewals_tick(now=at("2026-12-02"))
    handoff = Handoff.objects.get()
    assert handoff.status == Handoff.Status.WAITING and not Task.objects.exists()
    assert handoff.missing == [{"kind": "receiver", "key": "receiver", "label": "an active owner of the account"}]
    item = ExceptionItem.objects.get(kind="handoff_incomplete")
    assert "RevOps or the CRM should provide an active owner of the account" in item.expected_action
    world["sync"](owner="R-CORA", health_score=80, usage_trend="flat")  # the CRM names an owner
    handoff.refresh_from_db()
    assert handoff.status == Handoff.Status.SENT and handoff.receiver == world["csm"]


def test_a_pool_picks_the_receivers_fairly_and_counts_them(world):
    cora, other = world["csm"], RepFactory(name="Otto CSM", external_id="R-OTTO")
    pool = Pool.objects.create(name="CSM pool", strategy="round_robin")
    PoolMember.objects.create(pool=pool, rep=cora)
    PoolMember.objects.create(pool=pool, rep=other)
    account_owner = RepFactory(name="Sam Seller")
    checklist = checklist_save(
        checklist=Checklist(name="Sales → CS", owner_rule=Checklist.OwnerRule.POOL, owner_pool_id=pool.pk),
        actor=world["manager"],
    )
    deals = [OpportunityFactory(stage="closed_won", owner=account_owner) for _ in range(4)]
    handoffs_evaluate(opportunity_ids=[d.pk for d in deals], now=timezone.now())
    receivers = [h.receiver for h in Handoff.objects.filter(checklist=checklist).order_by("opportunity_id")]
    assert sorted(r.name for r in receivers) == ["Cora CSM", "Cora CSM", "Otto CSM", "Otto CSM"]
    assert dict(PoolCounter.objects.filter(pool=pool).values_list("rep__name", "assigned")) == {
        "Cora CSM": 2,
        "Otto CSM": 2,
    }


def test_a_pool_checklist_needs_its_pool():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        checklist_save(checklist=Checklist(name="X", owner_rule=Checklist.OwnerRule.POOL), actor=None)
    assert "Choose the pool" in str(caught.value)
