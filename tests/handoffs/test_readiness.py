"""Handoff readiness: a Won deal gets a handoff that waits for context (one item for the owner's manager),
becomes ready by itself as the CRM fills fields in, and only then creates the downstream work — once."""

import pytest

from exceptions.models import ExceptionItem, Queue
from handoffs.models import Checklist, Handoff
from handoffs.services import checklist_save
from revops.models import ChangeEntry, Opportunity, OutboxEvent, Task
from revops.outbox import outbox_process_events
from revops.services import record_save
from tests.crm_sync import sync_poster
from tests.factories import RepFactory, TeamFactory, UserFactory
from tests.handoffs.support import checklist_form, rows

pytestmark = pytest.mark.django_db

BIG = {"all": [{"field": "opportunity.amount", "op": "gte", "value": 50000}]}


@pytest.fixture
def sync(client):
    return sync_poster(client, "opportunities")


@pytest.fixture
def world():
    mia = UserFactory(username="mia")
    east = TeamFactory(name="East", manager=RepFactory(name="Mia Manager", user=mia))
    Queue.objects.create(name="East triage", team=east)
    RepFactory(name="Sam Seller", team=east, external_id="R-SAM")
    csm = RepFactory(name="Cora CSM", external_id="R-CORA")
    checklist = checklist_save(
        checklist=Checklist(
            name="Sales → Onboarding",
            required_fields=[
                {"field": "contract_start_date"},
                {"field": "use_case"},
                {"field": "billing_contact", "when": BIG},
            ],
            tasks=[{"title": "Onboarding kickoff", "due_in_days": 3}, {"title": "Send welcome pack"}],
            owner_rule=Checklist.OwnerRule.REP,
            owner_rep=csm,
        ),
        actor=mia,
    )
    return {"manager": mia, "csm": csm, "checklist": checklist}


def deal(at="2026-03-01T10:00:00Z", **fields):
    return {
        "external_id": "O-1",
        "name": "Acme - Platform",
        "stage": "closed_won",
        "owner": "R-SAM",
        "amount": "80000",
        "source_updated_at": at,
        **fields,
    }


def handoff_items():
    return ExceptionItem.objects.filter(kind="handoff_incomplete")


def signals():
    return [e.payload["signal"] for e in ChangeEntry.objects.filter(kind="handoff_signal").order_by("id")]


def test_a_won_deal_waits_for_context_then_goes_out_by_itself_once(sync, world):
    sync(deal())
    handoff = Handoff.objects.get()
    assert handoff.status == Handoff.Status.WAITING
    assert [m["key"] for m in handoff.missing] == ["contract_start_date", "use_case", "billing_contact"]
    item = handoff_items().get()
    assert item.queue.name == "East triage" and item.owner == world["manager"]
    assert "Sales → Onboarding handoff waiting for 3 items" in item.title
    assert "Sam Seller should get Contract start date, Use case and Billing contact filled in the CRM" in (
        item.expected_action
    )
    # The handoff holds the deal's gap: no second, generic item for the same deal.
    assert not ExceptionItem.objects.filter(kind="missing_fields").exists()
    assert not Task.objects.exists()

    sync(deal())  # the nightly re-sync, unchanged
    assert handoff_items().count() == 1 and handoff_items().get().occurrences == 2

    sync(deal(at="2026-03-02T10:00:00Z", contract_start_date="2026-04-01", use_case="Routing"))
    handoff.refresh_from_db()
    assert handoff.status == Handoff.Status.WAITING
    assert [m["key"] for m in handoff.missing] == ["billing_contact"]

    last = deal(
        at="2026-03-03T10:00:00Z", contract_start_date="2026-04-01", use_case="Routing", billing_contact="ap@acme.test"
    )
    sync(last)
    handoff.refresh_from_db()
    assert handoff.status == Handoff.Status.SENT and handoff.receiver == world["csm"]
    tasks = Task.objects.filter(opportunity__external_id="O-1").order_by("title")
    assert [(t.title, t.owner) for t in tasks] == [
        ("Onboarding kickoff", world["csm"]),
        ("Send welcome pack", world["csm"]),
    ]
    assert tasks[0].due_at is not None and tasks[1].due_at is None
    item = handoff_items().get()
    assert item.status == ExceptionItem.Status.RESOLVED

    sync(last)  # replayed
    sync({**last, "source_updated_at": "2026-03-01T09:00:00Z"})  # arriving late, out of order
    assert Task.objects.filter(opportunity__external_id="O-1").count() == 2
    assert signals() == ["started", "sent"]
    assert ChangeEntry.objects.filter(kind="task_created").count() == 2


def test_a_conditional_field_counts_only_when_its_condition_holds(sync, world):
    sync(deal(amount="20000", contract_start_date="2026-04-01", use_case="Routing"))
    handoff = Handoff.objects.get()
    assert handoff.status == Handoff.Status.SENT  # billing contact only from 50,000
    assert not handoff_items().exists()


def test_the_handoff_is_cancelled_when_the_deal_reopens_and_restarts_when_won_again(sync, world):
    sync(deal())
    sync(deal(at="2026-03-02T10:00:00Z", stage="negotiation"))
    handoff = Handoff.objects.get()
    assert handoff.status == Handoff.Status.CANCELLED
    assert handoff_items().get().status == ExceptionItem.Status.RESOLVED
    sync(deal(at="2026-03-03T10:00:00Z"))
    handoff.refresh_from_db()
    assert handoff.status == Handoff.Status.WAITING
    assert handoff_items().filter(status__in=ExceptionItem.OPEN_STATUSES).count() == 1
    assert signals() == ["started", "cancelled", "started"]


def test_a_deal_no_checklist_covers_keeps_the_generic_item(sync, world):
    checklist = world["checklist"]
    checklist.conditions = {"all": [{"field": "opportunity.amount", "op": "gte", "value": 1000000}]}
    checklist_save(checklist=checklist, actor=world["manager"])
    sync(deal())
    assert not Handoff.objects.exists()
    assert ExceptionItem.objects.filter(kind="missing_fields").count() == 1


def test_an_edit_in_the_portal_is_evaluated_too(world):
    opportunity = Opportunity(
        external_id="O-9", name="Beta - Platform", stage="negotiation", amount=10000, owner=world["csm"]
    )
    record_save(instance=opportunity, actor=world["manager"])
    opportunity.stage = "closed_won"
    opportunity.attributes = {"contract_start_date": "2026-05-01", "use_case": "Forecasting"}
    record_save(instance=opportunity, actor=world["manager"])
    outbox_process_events(event_ids=list(OutboxEvent.objects.values_list("id", flat=True)))
    handoff = Handoff.objects.get(opportunity=opportunity)
    assert handoff.status == Handoff.Status.SENT
    assert Task.objects.filter(opportunity=opportunity).count() == 2


def test_a_checklist_naming_an_unknown_field_is_refused(world):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="colour"):
        checklist_save(
            checklist=Checklist(name="Sales → Billing", required_fields=[{"field": "colour"}]), actor=world["manager"]
        )


def test_the_checklist_admin_refuses_an_unknown_field_on_the_form(admin_client, settings):
    settings.SECURE_SSL_REDIRECT = False
    url = "/admin/handoffs/checklist/add/"
    unknown = rows("required_fields", {"field": "colour", "when_op": "eq"})
    task = rows("tasks", {"title": "Set up billing", "due_in_days": "2", "description": ""})
    response = admin_client.post(url, checklist_form(required_fields=unknown, tasks=task))
    assert response.status_code == 200
    assert "Choose a field from the list (“colour” is not in the data dictionary)." in response.content.decode()
    assert not Checklist.objects.exists()
    known = rows("required_fields", {"field": "billing_contact", "when_op": "eq"})
    response = admin_client.post(url, checklist_form(required_fields=known))
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = Checklist.objects.get()
    assert saved.required_fields == [{"field": "billing_contact"}]
    assert saved.conditions == {} and saved.tasks == [] and saved.history.count() == 1


def test_re_evaluating_an_unchanged_deal_writes_nothing(sync, world):
    from handoffs.services import handoffs_evaluate

    sync(deal())
    handoff = Handoff.objects.get()
    rows = (Handoff.history.count(), ExceptionItem.history.count(), ChangeEntry.objects.count())
    handoffs_evaluate(opportunity_ids=[handoff.opportunity_id], cause="edited, nothing the checklist reads")
    assert (Handoff.history.count(), ExceptionItem.history.count(), ChangeEntry.objects.count()) == rows
    assert handoff_items().get().occurrences == 1
