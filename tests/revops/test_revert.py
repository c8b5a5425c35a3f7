"""Reverting one run: the plan, every generic action's revert with and without conflicts, force, twice."""

import pytest
from django.core.exceptions import ValidationError

from exceptions.codes import resolution_label
from exceptions.models import ExceptionItem, Queue
from revops.engine.registry import ACTIONS
from revops.engine.revert import run_revert, run_revert_plan
from revops.engine.types import Action
from revops.models import Activity, AppliedAction, ChangeEntry, FieldDefinition, Lead, RunRevert, Task
from tests.factories import ActivityFactory, LeadFactory, RepFactory, UserFactory

from .revert_support import automation, outcomes, run_actions

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return UserFactory(username="rita.revops", first_name="Rita")


@pytest.fixture
def auto(admin):
    Queue.objects.get_or_create(name="RevOps")
    return automation(rule_owner=admin, failure_owner=admin, exception_queue="RevOps")


def test_every_registered_action_says_how_it_is_reverted():
    missing = [key for key, spec in ACTIONS.items() if spec.revert is None]
    assert missing == []


def test_reason_is_required(auto, admin):
    lead = LeadFactory(status="new")
    run = run_actions(auto, lead, [Action("update_field", {"key": "status", "value": "working"})])
    with pytest.raises(ValidationError) as exc:
        run_revert(run=run, actor=admin, reason="  ")
    assert "Say why" in str(exc.value)
    lead.refresh_from_db()
    assert lead.status == "working" and not RunRevert.objects.exists()


def test_field_update_plan_then_revert_then_twice(auto, admin):
    FieldDefinition.objects.create(
        object_type="lead",
        key="partner_tier",
        label="Partner tier",
        field_type="text",
        definition="x",
        owning_team="RevOps",
    )
    lead = LeadFactory(status="new", attributes={})
    run = run_actions(
        auto,
        lead,
        [
            Action("update_field", {"key": "status", "value": "working"}),
            Action("update_field", {"key": "partner_tier", "value": "gold"}),
        ],
    )
    plan = run_revert_plan(run)
    assert outcomes(plan.lines) == [("update_field", "revert"), ("update_field", "revert")]
    status_line = plan.lines[1]
    assert (status_line["before"], status_line["after"], status_line["now"]) == (
        "status: New",
        "status: Working",
        "Working",
    )
    assert plan.summary == "2 of 2 actions will be reverted."

    revert = run_revert(run=run, actor=admin, reason="the rule was wrong")
    assert [(x["outcome"], x["index"]) for x in revert.lines] == [(x["outcome"], x["index"]) for x in plan.lines]
    lead.refresh_from_db()
    assert lead.status == "new" and "partner_tier" not in (lead.attributes or {})
    assert lead.history.first().history_user == admin
    assert lead.history.first().history_change_reason.startswith(f"revert of run {run.pk}: the rule was wrong")
    assert set(run.applied.values_list("status", flat=True)) == {"reverted"}
    entries = ChangeEntry.objects.filter(dedupe_key__startswith=f"revert:run:{run.pk}:")
    assert {e.payload["field"] for e in entries} == {"status", "partner_tier"}
    assert all(e.payload["reverted"] for e in entries)

    again = run_revert(run=run, actor=admin, reason="the rule was wrong")
    assert again.reverted == 0 and {x["outcome"] for x in again.lines} == {"already_reverted"}
    assert "already reverted on" in again.lines[0]["note"] and "Rita" in again.lines[0]["note"]
    assert ChangeEntry.objects.filter(dedupe_key__startswith=f"revert:run:{run.pk}:").count() == 2
    assert run_revert_plan(run).summary == "Nothing changed: every action of this run was already reverted."


def test_field_changed_since_is_a_conflict_unless_forced(auto, admin):
    lead = LeadFactory(status="new")
    run = run_actions(auto, lead, [Action("update_field", {"key": "status", "value": "working"})])
    Lead.objects.filter(pk=lead.pk).update(status="qualified")
    plan = run_revert_plan(run)
    assert outcomes(plan.lines) == [("update_field", "conflict")]
    assert plan.lines[0]["note"] == "status was changed since: the run set Working, it now holds Qualified."
    assert plan.lines[0]["now"] == "Qualified"

    revert = run_revert(run=run, actor=admin, reason="bad rule")
    assert outcomes(revert.lines) == outcomes(plan.lines) and revert.reverted == 0
    lead.refresh_from_db()
    assert lead.status == "qualified" and run.applied.get().status == "applied"

    forced_plan = run_revert_plan(run, force=True)
    forced = run_revert(run=run, actor=admin, reason="bad rule", force=True)
    assert outcomes(forced.lines) == outcomes(forced_plan.lines) == [("update_field", "revert")]
    lead.refresh_from_db()
    assert lead.status == "new" and forced.force


def test_reference_field_update_reverts_to_the_account_it_had(auto, admin):
    from tests.factories import AccountFactory

    first, second = AccountFactory(external_id="A-1"), AccountFactory(external_id="A-2")
    lead = LeadFactory(matched_account=first)
    run = run_actions(auto, lead, [Action("update_field", {"key": "matched_account", "value": "A-2"})])
    lead.refresh_from_db()
    assert lead.matched_account == second
    assert outcomes(run_revert(run=run, actor=admin, reason="wrong match").lines) == [("update_field", "revert")]
    lead.refresh_from_db()
    assert lead.matched_account == first


def test_task_is_cancelled_and_the_crm_told(auto, admin):
    rep = RepFactory()
    lead, done_lead = LeadFactory(owner=rep), LeadFactory(owner=rep)
    run = run_actions(auto, lead, [Action("create_task", {"title": "Call back", "owner_id": rep.pk})])
    task = Task.objects.get(lead=lead)
    revert = run_revert(run=run, actor=admin, reason="spam")
    assert outcomes(revert.lines) == [("create_task", "revert")]
    task.refresh_from_db()
    assert task.status == "cancelled"
    entry = ChangeEntry.objects.get(kind="task_cancelled")
    assert entry.payload == {"task_id": task.pk, "title": "Call back", "reverted": True}
    assert outcomes(run_revert(run=run, actor=admin, reason="spam").lines) == [("create_task", "already_reverted")]

    # A task done since is a conflict; forcing cancels it.
    other = run_actions(auto, done_lead, [Action("create_task", {"title": "Call back", "owner_id": rep.pk})])
    Task.objects.filter(lead=done_lead).update(status="done")
    assert outcomes(run_revert_plan(other).lines) == [("create_task", "conflict")]
    assert outcomes(run_revert(run=other, actor=admin, reason="spam").lines) == [("create_task", "conflict")]
    assert Task.objects.get(lead=done_lead).status == "done"
    run_revert(run=other, actor=admin, reason="spam", force=True)
    assert Task.objects.get(lead=done_lead).status == "cancelled"


def test_exception_item_is_closed_as_reverted_but_a_joined_one_stays(auto, admin):
    lead = LeadFactory()
    opened = {"kind": "hygiene_alert", "title": "Fix it", "reason": "Broken."}
    run = run_actions(auto, lead, [Action("open_exception", opened)])
    item = ExceptionItem.objects.get()
    second = automation(name="Second", rule_owner=admin, failure_owner=admin, exception_queue="RevOps")
    joined = run_actions(second, lead, [Action("open_exception", opened)])
    assert ExceptionItem.objects.count() == 1

    assert outcomes(run_revert_plan(joined).lines) == [("open_exception", "nothing")]
    assert "already open before this run" in run_revert_plan(joined).lines[0]["note"]
    revert = run_revert(run=run, actor=admin, reason="false alarm")
    assert outcomes(revert.lines) == [("open_exception", "revert")]
    item.refresh_from_db()
    assert (item.status, item.resolution_code) == ("dismissed", "reverted")
    assert resolution_label(item.resolution_code) == "Reverted: the automation run that opened it was undone"
    assert item.resolved_by == admin and "false alarm" in item.resolution_note
    # A person who closed it first: nothing to undo, and the line says who.
    assert outcomes(run_revert(run=joined, actor=admin, reason="x").lines) == [("open_exception", "nothing")]


def test_request_approval_and_a_pending_approval_are_closed(auto, admin):
    rep = RepFactory()
    lead = LeadFactory()
    run = run_actions(
        auto,
        lead,
        [Action("request_approval", {"action": {"type": "assign_owner", "params": {"owner_id": rep.pk}}})],
    )
    item = ExceptionItem.objects.get(kind="approval_required")
    assert outcomes(run_revert_plan(run).lines) == [("request_approval", "revert")]
    run_revert(run=run, actor=admin, reason="no approval needed")
    item.refresh_from_db()
    assert item.status == "dismissed" and item.resolution_code == "reverted"

    # A merge is always prepared for approval: the pending approval is closed by the revert.
    loser = LeadFactory()
    merge = run_actions(auto, lead, [Action("merge_records", {"loser_id": loser.pk})])
    assert merge.applied.get().status == "approval"
    revert = run_revert(run=merge, actor=admin, reason="not duplicates")
    assert outcomes(revert.lines) == [("merge_records", "revert")]
    assert (
        ExceptionItem.objects.get(kind="approval_required", object_id=lead.pk, proposal__action="merge_records").status
        == "dismissed"
    )
    assert merge.applied.get().status == "reverted"


def test_notify_cannot_be_unsent_and_says_so(auto, admin, mailoutbox):
    rep = RepFactory(email="owner@example.com")
    lead = LeadFactory(owner=rep)
    run = run_actions(auto, lead, [Action("notify", {"to": "owner", "subject": "Hot lead"})])
    plan = run_revert_plan(run)
    assert outcomes(plan.lines) == [("notify", "not_revertible")]
    assert "cannot be unsent" in plan.lines[0]["note"]
    revert = run_revert(run=run, actor=admin, reason="oops")
    assert outcomes(revert.lines) == [("notify", "not_revertible")] and revert.reverted == 0
    assert run.applied.get().status == "applied"
    assert "Cannot be" not in revert.lines[0]["note"] and revert.lines[0]["note"]


def test_merge_is_undone_from_what_it_stored(auto, admin):
    from revops.engine.actions import approval_execute

    winner = LeadFactory(company="", title="CTO", attributes={})
    loser = LeadFactory(company="Acme", title="", attributes={"partner_tier": "gold"}, status="new")
    activity = ActivityFactory(lead=loser)
    task = Task.objects.create(title="Call", lead=loser)
    run = run_actions(auto, winner, [Action("merge_records", {"loser_id": loser.pk})])
    approval_execute(item=ExceptionItem.objects.get(kind="approval_required"), actor=admin)
    winner.refresh_from_db()
    assert winner.company == "Acme" and Activity.objects.get(pk=activity.pk).lead_id == winner.pk

    assert outcomes(run_revert_plan(run).lines) == [("merge_records", "revert")]
    run_revert(run=run, actor=admin, reason="different people")
    winner.refresh_from_db()
    loser.refresh_from_db()
    assert winner.company == "" and "partner_tier" not in winner.attributes and winner.title == "CTO"
    assert loser.status == "new"
    assert Activity.objects.get(pk=activity.pk).lead_id == loser.pk and Task.objects.get(pk=task.pk).lead_id == loser.pk
    assert outcomes(run_revert(run=run, actor=admin, reason="again").lines) == [("merge_records", "already_reverted")]


def test_merge_changed_since_is_a_conflict(auto, admin):
    from revops.engine.actions import approval_execute

    winner = LeadFactory(company="")
    loser = LeadFactory(company="Acme")
    run = run_actions(auto, winner, [Action("merge_records", {"loser_id": loser.pk})])
    approval_execute(item=ExceptionItem.objects.get(kind="approval_required"), actor=admin)
    Lead.objects.filter(pk=winner.pk).update(company="Acme Corp")
    plan = run_revert_plan(run)
    assert outcomes(plan.lines) == [("merge_records", "conflict")] and "company" in plan.lines[0]["note"]
    run_revert(run=run, actor=admin, reason="x", force=True)
    winner.refresh_from_db()
    loser.refresh_from_db()
    assert winner.company == "Acme Corp" and loser.status != "converted"


def test_a_merge_recorded_without_what_it_moved_cannot_be_undone_and_says_why(auto, admin):
    from revops.engine.actions import approval_execute

    winner, loser = LeadFactory(), LeadFactory()
    run = run_actions(auto, winner, [Action("merge_records", {"loser_id": loser.pk})])
    approval_execute(item=ExceptionItem.objects.get(kind="approval_required"), actor=admin)
    applied = run.applied.get()
    AppliedAction.objects.filter(pk=applied.pk).update(after={k: v for k, v in applied.after.items() if k != "moved"})
    line = run_revert_plan(run).lines[0]
    assert line["outcome"] == "not_revertible" and "cannot be undone" in line["note"]


def test_a_shadow_run_has_nothing_to_revert(auto, admin):
    lead = LeadFactory(status="new")
    run = run_actions(auto, lead, [Action("update_field", {"key": "status", "value": "working"})])
    run.mode = "shadow"
    run.save(update_fields=["mode"])
    assert run_revert_plan(run).summary.startswith("This run was in shadow (log only) mode")
    with pytest.raises(ValidationError):
        run_revert(run=run, actor=admin, reason="x")


def test_an_older_handler_is_planned_in_a_rolled_back_savepoint(auto, admin):
    """A handler with the older signature ``revert(applied, record)`` still plans (without writing) and reverts."""
    from revops.engine.registry import Conflict, Result, register_action

    def unstamp(applied, lead):
        if (lead.attributes or {}).get("stamp") != "on":
            return Conflict((lead.attributes or {}).get("stamp"))
        lead.attributes = {k: v for k, v in lead.attributes.items() if k != "stamp"}
        lead.save(update_fields=["attributes"])
        return ChangeEntry.Kind.FIELD_UPDATED, {"field": "stamp", "value": None}

    @register_action("test_stamp", label="Stamp", revert=unstamp)
    def stamp(ex, params, *, live):
        _type, lead = ex.target(params, live=live)
        if live:
            lead.attributes = {**(lead.attributes or {}), "stamp": "on"}
            lead.save(update_fields=["attributes"])
        return Result(status="applied", after={"stamp": "on"}, target=("lead", lead.pk))

    try:
        lead = LeadFactory(attributes={})
        run = run_actions(auto, lead, [Action("test_stamp", {})])
        assert outcomes(run_revert_plan(run).lines) == [("test_stamp", "revert")]
        lead.refresh_from_db()
        assert lead.attributes == {"stamp": "on"}  # the plan rolled its savepoint back
        Lead.objects.filter(pk=lead.pk).update(attributes={"stamp": "off"})
        assert outcomes(run_revert_plan(run).lines) == [("test_stamp", "conflict")]
        Lead.objects.filter(pk=lead.pk).update(attributes={"stamp": "on"})
        assert outcomes(run_revert(run=run, actor=admin, reason="x").lines) == [("test_stamp", "revert")]
        lead.refresh_from_db()
        assert lead.attributes == {}
    finally:
        ACTIONS.pop("test_stamp", None)
