"""Exception-queue services: de-duplicated opening, each triage action with its audit row, bulk
actions, approvals through the engine, and the items the sync and the engine open."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from exceptions.approvals import (
    automation_override_rate,
    exception_approval_approve,
    exception_approval_override,
    exception_approval_reject,
    exception_approval_send_back,
)
from exceptions.errors import ItemStateError
from exceptions.models import ExceptionItem, Queue
from exceptions.services import (
    exception_item_assign,
    exception_item_dismiss,
    exception_item_escalate,
    exception_item_open,
    exception_item_resolve,
    exception_item_snooze,
    exception_items_bulk_dismiss,
    exception_items_bulk_resolve,
    person_name,
)
from revops.engine.pipeline import automation_failure_open
from revops.models import AutomationRun, Lead, SyncFailure
from revops.tokens import api_token_create
from tests.factories import LeadFactory, RepFactory, UserFactory
from tests.revops.test_engine import make, process, rec, sync

from .support import history_reasons, make_queue, open_item

pytestmark = pytest.mark.django_db


# --- opening ---------------------------------------------------------------------------------------


def test_open_routes_to_the_named_queue_with_due_time_and_manager_as_owner():
    queue = make_queue("RevOps", due_hours_high=6)
    before = timezone.now()
    item, created = exception_item_open(
        dedupe_key="a",
        kind="missing_data",
        title="t",
        reason="r",
        expected_action="e",
        severity="high",
        queue_name="RevOps",
    )
    assert created and item.queue == queue and item.owner == queue.manager
    assert before + dt.timedelta(hours=6) <= item.due_at <= timezone.now() + dt.timedelta(hours=6)
    assert item.status == "open" and item.occurrences == 1


def test_unknown_queue_name_lands_in_a_lazily_created_default_queue():
    assert not Queue.objects.exists()
    item = open_item("a", queue_name="Nobody made this queue")
    default = Queue.objects.get(is_default=True)
    assert default.name == "Unrouted" and item.queue == default and item.queue_name == "Nobody made this queue"
    assert open_item("b").queue == default and Queue.objects.count() == 1


def test_explicit_owner_and_due_time_win():
    make_queue("RevOps")
    owner = UserFactory(username="fixer")
    due = timezone.now() + dt.timedelta(minutes=5)
    item = open_item("a", queue_name="RevOps", owner=owner, due_at=due)
    assert item.owner == owner and item.due_at == due


def test_repeat_occurrence_refreshes_the_open_item_and_a_closed_one_does_not_count():
    actor = UserFactory(username="ops")
    first = open_item("dup", actor=actor)
    seen = first.last_seen_at
    again, created = exception_item_open(
        dedupe_key="dup", kind="missing_data", title="x", reason="still blank", expected_action="e"
    )
    assert not created and again.pk == first.pk and again.occurrences == 2 and again.last_seen_at > seen
    assert again.reason == "still blank" and ExceptionItem.objects.count() == 1
    exception_item_resolve(item=again, reason_code="fixed_in_crm", note="", actor=actor)
    fresh = open_item("dup")
    assert fresh.pk != first.pk and fresh.occurrences == 1 and ExceptionItem.objects.count() == 2
    assert history_reasons(first)[0] == ("ops", "opened: missing_data")


def test_critical_items_are_notified_after_commit(django_capture_on_commit_callbacks, redis_conn):
    import django_rq

    make_queue("RevOps")
    with django_capture_on_commit_callbacks(execute=True):
        open_item("c", severity="critical", queue_name="RevOps")
        open_item("m", severity="medium", queue_name="RevOps")
    jobs = django_rq.get_queue("default").jobs
    assert [job.args for job in jobs] == [(ExceptionItem.objects.get(dedupe_key="c").pk, "critical")]


# --- actions and their audit rows --------------------------------------------------------------------


def test_each_action_is_recorded_with_actor_and_reason():
    queue = make_queue("RevOps")
    ana, bob = UserFactory(username="ana"), UserFactory(username="bob")
    item = open_item("a", queue_name="RevOps")

    exception_item_assign(item=item, owner=bob, actor=ana, note="Bob knows this account")
    assert item.owner == bob and item.status == "in_progress" and item.claimed_at is not None
    until = timezone.now() + dt.timedelta(days=1)
    exception_item_snooze(item=item, until=until, actor=bob, note="waiting for the CRM admin")
    assert item.status == "snoozed" and item.snoozed_until == until
    item.status = "open"
    ExceptionItem.objects.filter(pk=item.pk).update(status="open", snoozed_until=None)
    exception_item_escalate(item=item, actor=ana, reason="customer waiting")
    assert item.status == "escalated" and item.escalation_level == 1 and item.owner == queue.manager
    exception_item_resolve(item=item, reason_code="data_corrected", note="country set to US", actor=bob)
    item.refresh_from_db()
    assert item.status == "resolved" and item.resolution_code == "data_corrected" and item.resolved_by == bob

    reasons = history_reasons(item)
    assert reasons[1] == ("ana", "assigned to bob: Bob knows this account")
    assert reasons[2][0] == "bob" and reasons[2][1].startswith("snoozed until ")
    assert reasons[2][1].endswith("waiting for the CRM admin")
    assert reasons[-2] == ("ana", f"escalated to {person_name(queue.manager)} (queue manager): customer waiting")
    assert reasons[-1] == ("bob", "resolved (data_corrected): country set to US")


def test_dismiss_needs_a_reason_and_closed_items_refuse_actions():
    actor = UserFactory(username="ana")
    item = open_item("a")
    with pytest.raises(ValidationError):
        exception_item_dismiss(item=item, reason="  ", actor=actor)
    exception_item_dismiss(item=item, reason="test data from the sandbox", actor=actor)
    assert item.status == "dismissed" and item.resolution_note == "test data from the sandbox"
    assert history_reasons(item)[-1] == ("ana", "dismissed: test data from the sandbox")
    with pytest.raises(ItemStateError):
        exception_item_resolve(item=item, reason_code="other", note="x", actor=actor)
    with pytest.raises(ItemStateError):
        exception_item_snooze(item=item, until=timezone.now() + dt.timedelta(hours=1), actor=actor)


def test_resolve_validates_reason_codes_and_snooze_needs_the_future():
    actor = UserFactory(username="ana")
    item = open_item("a")
    with pytest.raises(ValidationError):
        exception_item_resolve(item=item, reason_code="because", note="", actor=actor)
    with pytest.raises(ValidationError):
        exception_item_resolve(item=item, reason_code="other", note="", actor=actor)
    with pytest.raises(ValidationError):
        exception_item_snooze(item=item, until=timezone.now() - dt.timedelta(minutes=1), actor=actor)
    item.refresh_from_db()
    assert item.status == "open"


def test_bulk_actions_apply_per_item_with_the_same_checks():
    actor = UserFactory(username="ana")
    items = [open_item(f"k{i}") for i in range(4)]
    exception_item_dismiss(item=items[0], reason="noise", actor=actor)
    with pytest.raises(ValidationError):
        exception_items_bulk_dismiss(items_qs=ExceptionItem.objects.all(), reason="", actor=actor)
    result = exception_items_bulk_resolve(
        items_qs=ExceptionItem.objects.all(), reason_code="fixed_in_crm", note="bulk fix", actor=actor
    )
    assert result["done"] == 3 and result["skipped"] == 1 and list(result["errors"]) == [items[0].pk]
    assert ExceptionItem.objects.filter(status="resolved").count() == 3
    for item in items[1:]:
        assert history_reasons(item)[-1] == ("ana", "resolved (fixed_in_crm): bulk fix")


# --- approvals ------------------------------------------------------------------------------------


def approval_item(name="Reassign strategic"):
    rep = RepFactory(external_id="R-A")
    automation = make(
        name,
        kind="test_scripted",
        risk="high",
        conditions={"all": []},
        config={"actions": [{"type": "assign_owner", "params": {"owner_id": rep.pk}}]},
    )
    return automation, rep


def test_approve_applies_the_prepared_action_through_the_engine():
    automation, rep = approval_item()
    sync("leads", rec("L1"))
    process()
    item = ExceptionItem.objects.get(kind="approval_required")
    # The exception path names an existing queue now (it must), so the item lands there, not in "Unrouted".
    assert item.queue.name == "RevOps" and item.queue_name == "RevOps"
    boss = UserFactory(username="boss")
    exception_approval_approve(item=item, actor=boss)
    lead = Lead.objects.get()
    assert lead.owner == rep and lead.history.first().history_user == boss
    assert item.decision == "approved" and item.status == "resolved"
    assert history_reasons(item)[-1] == ("boss", "approved: assign_owner")
    assert AutomationRun.objects.get().applied.get().status == "applied"
    with pytest.raises(ItemStateError):
        exception_approval_approve(item=item, actor=boss)


def test_send_back_asks_the_rule_owner_whose_answer_comes_back_before_the_decision():
    automation, rep = approval_item()
    owner = UserFactory(username="rudy", first_name="Rudy", last_name="Owner")
    automation.rule_owner = owner
    automation.save()
    sync("leads", rec("L1"))
    process()
    item = ExceptionItem.objects.get(kind="approval_required")
    boss = UserFactory(username="boss", first_name="Bo", last_name="Boss")
    with pytest.raises(ValidationError):
        exception_approval_send_back(item=item, actor=boss, note="  ")
    exception_approval_send_back(item=item, actor=boss, note="Is this account still strategic?")
    item.refresh_from_db()
    assert (item.owner, item.status, item.decision) == (owner, "in_progress", "")
    assert Lead.objects.get().owner is None  # nothing applied yet
    assert history_reasons(item)[-1] == ("boss", "sent back to rudy for review: Is this account still strategic?")
    # The rule owner answers: it goes back to whoever asked.
    exception_approval_send_back(item=item, actor=owner, note="No: it was downgraded last week.")
    item.refresh_from_db()
    assert item.owner == boss
    assert [(r["by"], r["to"], r["note"]) for r in item.proposal["reviews"]] == [
        ("Bo Boss", "Rudy Owner", "Is this account still strategic?"),
        ("Rudy Owner", "Bo Boss", "No: it was downgraded last week."),
    ]
    with pytest.raises(ValidationError, match="someone else"):
        exception_approval_send_back(item=item, actor=boss, note="again", to=boss)
    exception_approval_approve(item=item, actor=boss)
    assert Lead.objects.get().owner == rep
    with pytest.raises(ItemStateError):
        exception_approval_send_back(item=item, actor=boss, note="too late")


def test_send_back_without_a_rule_owner_names_whom_to_choose():
    automation, _rep = approval_item()
    sync("leads", rec("L1"))
    process()
    item = ExceptionItem.objects.get(kind="approval_required")
    type(automation).objects.filter(pk=automation.pk).update(rule_owner=None)
    with pytest.raises(ValidationError) as exc:
        exception_approval_send_back(item=item, actor=UserFactory(), note="Check the territory.")
    assert "names no rule owner" in exc.value.message_dict["to"][0]


def test_reject_needs_a_reason_and_applies_nothing():
    automation, _rep = approval_item()
    sync("leads", rec("L1"))
    process()
    item = ExceptionItem.objects.get(kind="approval_required")
    boss = UserFactory(username="boss")
    with pytest.raises(ValidationError):
        exception_approval_reject(item=item, reason="", actor=boss)
    exception_approval_reject(item=item, reason="strategic account stays with its AE", actor=boss)
    assert Lead.objects.get().owner is None
    assert item.decision == "rejected" and item.status == "dismissed"
    assert history_reasons(item)[-1] == ("boss", "rejected: strategic account stays with its AE")


def test_override_applies_other_params_and_is_counted():
    automation, _rep = approval_item()
    other = RepFactory(external_id="R-B")
    sync("leads", rec("L1"), rec("L2"), rec("L3"))
    process()
    items = list(ExceptionItem.objects.filter(kind="approval_required").order_by("pk"))
    assert len(items) == 3
    boss = UserFactory(username="boss")
    with pytest.raises(ValidationError):
        exception_approval_override(item=items[0], actor=boss, params={"owner": "R-NOPE"})
    exception_approval_override(item=items[0], actor=boss, params={"owner": "R-B"})
    exception_approval_approve(item=items[1], actor=boss)
    assert automation_override_rate(automation=automation) == {
        "approvals": 3,
        "pending": 1,
        "approved": 1,
        "rejected": 0,
        "overridden": 1,
        "override_rate": 0.5,
    }
    lead = Lead.objects.get(pk=items[0].object_id)
    assert lead.owner == other
    items[0].refresh_from_db()
    assert items[0].decision == "overridden" and items[0].proposal["original_params"]["owner_id"] != other.pk
    assert history_reasons(items[0])[-1] == ("boss", "overridden: owner=R-B")


# --- items the sync and the engine open ------------------------------------------------------------


def test_sync_rejection_opens_one_deduplicated_item_per_record():
    make_queue("CRM sync")
    bad = {"email": "not-an-email"}
    outcome = sync("leads", rec("X1", **bad), rec("X2", **bad), rec("OK1"))
    assert [r["status"] for r in outcome.results] == ["rejected", "rejected", "created"]
    items = ExceptionItem.objects.filter(kind="sync_rejected").order_by("external_id")
    assert [(i.object_type, i.external_id, i.occurrences) for i in items] == [("lead", "X1", 1), ("lead", "X2", 1)]
    first = items[0]
    assert first.queue.name == "CRM sync" and first.owner == first.queue.manager and first.due_at
    assert "email" in first.reason and f"#{SyncFailure.objects.get(external_id='X1').pk}" in first.reason
    assert history_reasons(first)[0] == (
        outcome.batch.user.username,
        f"sync batch #{outcome.batch.pk} rejected records",
    )

    sync("leads", rec("X1", "2026-03-02T10:00:00Z", **bad))
    first.refresh_from_db()
    assert first.occurrences == 2 and ExceptionItem.objects.filter(kind="sync_rejected").count() == 2


def test_sync_rejection_through_the_api_opens_an_item(client):
    _token, secret = api_token_create(name="crm-api", scopes=["sync:write"])
    response = client.post(
        "/api/v1/sync/leads/",
        {"records": [rec("BAD1", email="nope")]},
        content_type="application/json",
        secure=True,
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 200, response.content
    assert response.json()["results"][0]["status"] == "rejected"
    item = ExceptionItem.objects.get(kind="sync_rejected")
    assert item.external_id == "BAD1" and item.queue.is_default and item.occurrences == 1
    assert history_reasons(item)[0][1].startswith("sync batch #")


def test_automation_failure_goes_to_the_failure_owner_in_the_automations_queue():
    queue = make_queue("RevOps")
    automation = make("Broken", kind="test_failing", conditions={"all": []})
    lead = LeadFactory()
    from tests.revops.automation_support import make_run

    run = make_run(automation, lead, key="e:1", outcome="error", attempts=4)
    item = automation_failure_open(run=run, automation=automation, error="RuntimeError: boom")
    assert item.kind == "automation_failed" and item.owner == automation.failure_owner
    assert item.queue == queue and item.severity == "high" and item.due_at is not None
    again = automation_failure_open(run=run, automation=automation, error="RuntimeError: boom")
    assert again.pk == item.pk and again.occurrences == 2


def test_reject_tells_the_engine_and_an_override_can_change_only_what_the_action_allows():
    from revops.models import AppliedAction

    _automation, _rep = approval_item()
    RepFactory(external_id="R-B")
    sync("leads", rec("L1"), rec("L2"))
    process()
    first, second = ExceptionItem.objects.filter(kind="approval_required").order_by("pk")
    boss = UserFactory(username="boss")
    exception_approval_reject(item=first, reason="stays with its AE", actor=boss)
    prepared = AppliedAction.objects.get(run=first.run, index=first.proposal["index"])
    assert prepared.status == "skipped" and prepared.after["note"] == "rejected by boss: stays with its AE"

    lead = Lead.objects.get(pk=second.object_id)
    with pytest.raises(ValidationError) as refused:  # no retargeting another record through an override
        exception_approval_override(item=second, actor=boss, params={"owner": "R-B", "object_id": 1})
    assert "only 'owner' can be changed" in str(refused.value)
    lead.refresh_from_db()
    assert lead.owner is None and ExceptionItem.objects.get(pk=second.pk).decision == ""
