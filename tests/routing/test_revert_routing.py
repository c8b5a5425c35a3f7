"""Reverting routing runs: the owner (with the pool counter, SLA clock and feed entry that came with it),
SLA clocks, and a bad hour of one rule's decisions as a resumable batch."""

import datetime as dt

import pytest
from django.utils import timezone

from revops.engine import revert_batches
from revops.engine.revert import run_revert, run_revert_plan
from revops.engine.revert_batches import (
    revert_batch_plan,
    revert_batch_process,
    revert_batch_start,
    revert_batches_sweep,
    window_runs,
)
from revops.engine.types import Action
from revops.models import AutomationRun, ChangeEntry, Lead, RunRevert, RunRevertBatch
from routing.models import PoolCounter, SlaClock, SlaPolicy
from tests.factories import LeadFactory, RepFactory, UserFactory
from tests.revops.revert_support import automation, outcomes, run_actions

from .test_routing import DE, US, _fresh_index, pool, rec, route, router, rule  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return UserFactory(username="rita.revops")


@pytest.fixture
def routed(db):
    ana, ben = RepFactory(external_id="R-ANA", name="Ana Ruiz"), RepFactory(external_id="R-BEN", name="Ben Stone")
    auto = router()
    SlaPolicy.objects.create(name="Everything", priority=10, target_minutes=60)
    us = pool("US inbound", [(ana, 1), (ben, 1)])
    us_rule = rule("US territory", US, "pool", 10, target_pool=us)
    de_rule = rule("Germany to Ben", DE, "rep", 20, target_rep=ben)
    return {"auto": auto, "ana": ana, "ben": ben, "pool": us, "us": us_rule, "de": de_rule}


def counters(pool_):
    return dict(PoolCounter.objects.filter(pool=pool_).values_list("rep__external_id", "assigned"))


def test_owner_revert_gives_back_the_pool_count_cancels_the_clock_and_tells_the_crm(routed, admin):
    before = counters(routed["pool"])
    (lead,) = route(rec("L1", email="p@initech.io", company="Initech", country="US"))
    owner = lead.owner
    assert owner is not None and sum(counters(routed["pool"]).values()) == sum(before.values()) + 1
    run = AutomationRun.objects.get(object_id=lead.pk, automation=routed["auto"])

    plan = run_revert_plan(run)
    lines = {line["action"]: line for line in plan.lines}
    assert lines["assign_owner"]["outcome"] == "revert"
    assert lines["assign_owner"]["before"] == "owner: nobody"
    assert lines["assign_owner"]["after"] == f"owner: {owner.name}" and lines["assign_owner"]["now"] == owner.name
    assert lines["assign_owner"]["note"] == "Goes back to nobody, and the pool gets its count back."
    assert lines["start_sla_clock"]["outcome"] == "revert"

    revert = run_revert(run=run, actor=admin, reason="US rule misrouted")
    assert outcomes(revert.lines) == outcomes(plan.lines)
    lead.refresh_from_db()
    assert lead.owner is None
    assert PoolCounter.objects.get(pool=routed["pool"], rep=owner).assigned == 0
    assert SlaClock.objects.get(lead=lead).status == "cancelled"
    entry = ChangeEntry.objects.get(kind="owner_assigned", dedupe_key__startswith=f"revert:run:{run.pk}:")
    assert entry.payload["owner"] is None and entry.payload["previous_owner"] == owner.external_id
    assert entry.payload["reverted"] is True and entry.payload["rule"] == "US territory"

    again = run_revert(run=run, actor=admin, reason="US rule misrouted")
    assert again.reverted == 0 and PoolCounter.objects.get(pool=routed["pool"], rep=owner).assigned == 0


def test_an_owner_changed_since_is_a_conflict_and_the_clock_follows_a_forced_revert(routed, admin):
    (lead,) = route(rec("L1", email="p@initech.io", company="Initech", country="US"))
    run = AutomationRun.objects.get(object_id=lead.pk, automation=routed["auto"])
    other = RepFactory(name="Carla Moss")
    Lead.objects.filter(pk=lead.pk).update(owner=other)
    plan = run_revert_plan(run)
    owner_line = next(line for line in plan.lines if line["action"] == "assign_owner")
    assert owner_line["outcome"] == "conflict" and "it is now Carla Moss's" in owner_line["note"]
    revert = run_revert(run=run, actor=admin, reason="bad hour")
    assert outcomes(revert.lines) == outcomes(plan.lines)
    lead.refresh_from_db()
    assert lead.owner == other

    forced = run_revert(run=run, actor=admin, reason="bad hour", force=True)
    assert ("assign_owner", "revert") in outcomes(forced.lines)
    lead.refresh_from_db()
    assert lead.owner is None


def test_sla_clock_start_and_stop_revert(admin):
    rep = RepFactory()
    lead = LeadFactory(owner=rep)
    auto = automation(name="Clocks", rule_owner=admin, failure_owner=admin)
    started = run_actions(auto, lead, [Action("start_sla_clock", {"target_minutes": 30, "owner_id": rep.pk})])
    clock = SlaClock.objects.get(lead=lead)
    stopped = run_actions(auto, lead, [Action("stop_sla_clock", {"status": "met"})])
    clock.refresh_from_db()
    assert clock.status == "met"

    # The clock stopped since: reverting its start has nothing to undo; reverting the stop runs it again.
    assert outcomes(run_revert_plan(started).lines) == [("start_sla_clock", "nothing")]
    assert outcomes(run_revert(run=stopped, actor=admin, reason="met by mistake").lines) == [
        ("stop_sla_clock", "revert")
    ]
    clock.refresh_from_db()
    assert clock.status == "running" and clock.stopped_at is None
    assert outcomes(run_revert(run=started, actor=admin, reason="no SLA here").lines) == [("start_sla_clock", "revert")]
    clock.refresh_from_db()
    assert clock.status == "cancelled"
    assert outcomes(run_revert(run=stopped, actor=admin, reason="again").lines) == [
        ("stop_sla_clock", "already_reverted")
    ]

    # A stop whose lead has another running clock since is a conflict.
    lead2 = LeadFactory(owner=rep)
    run_actions(auto, lead2, [Action("start_sla_clock", {"target_minutes": 30})])
    stop2 = run_actions(auto, lead2, [Action("stop_sla_clock", {"status": "cancelled"})])
    run_actions(auto, lead2, [Action("start_sla_clock", {"target_minutes": 30})])
    line = run_revert_plan(stop2).lines[0]
    assert line["outcome"] == "conflict" and "another clock runs" in line["note"]


def _hour(routed, now):
    """Three US leads and one German lead routed at ``now``; the runs' times are set to ``now``."""
    leads = route(
        rec("L1", email="a@initech.io", company="Initech", country="US"),
        rec("L2", email="b@hooli.io", company="Hooli", country="US"),
        rec("L3", email="c@umbrella.io", company="Umbrella", country="US"),
        rec("L4", email="d@siemens.de", company="Siemens", country="DE"),
    )
    AutomationRun.objects.filter(automation=routed["auto"]).update(created_at=now)
    return leads


def test_a_bad_hour_of_one_rule_plan_equals_apply_and_resumes_after_a_stop(
    routed, admin, django_capture_on_commit_callbacks
):
    now = timezone.now().replace(microsecond=0)
    leads = _hour(routed, now - dt.timedelta(minutes=30))
    before_counts = counters(routed["pool"])
    window = {"automation": routed["auto"], "started_from": now - dt.timedelta(hours=1), "until": now}
    assert window_runs(**window).count() == 4
    assert window_runs(**window, run_filter="rule", value=str(routed["us"].pk)).count() == 3

    plan = revert_batch_plan(**window, run_filter="rule", value=str(routed["us"].pk))
    assert plan["runs"] == 3 and plan["by_action"]["Assign owner"] == {"revert": 3}
    assert plan["conflict_count"] == 0 and len(plan["sample"]) <= 20

    # A lead reassigned by hand meanwhile is a conflict in the plan and stays with its new owner.
    carla = RepFactory(name="Carla Moss")
    Lead.objects.filter(pk=leads[2].pk).update(owner=carla)
    plan = revert_batch_plan(**window, run_filter="rule", value=str(routed["us"].pk))
    assert plan["by_action"]["Assign owner"] == {"revert": 2, "conflict": 1} and plan["conflict_count"] == 1
    assert plan["conflicts"][0]["record"] == str(leads[2])

    with django_capture_on_commit_callbacks() as callbacks:
        batch = revert_batch_start(
            actor=admin,
            reason="US rule sent leads to the wrong pool",
            run_filter="rule",
            value=str(routed["us"].pk),
            **window,
        )
    assert len(callbacks) == 1  # the job is enqueued after commit
    assert batch.status == "queued" and batch.total == 3 and batch.filter_label == "rule “US territory”"
    assert batch.history.count() == 1 and batch.history.first().history_user == admin

    # The worker dies after one chunk of two runs; running the job again resumes with the rest.
    partial = revert_batch_process(batch_id=batch.pk, max_chunks=1, chunk=2)
    assert (partial.status, partial.done, partial.total) == ("running", 2, 3)
    finished = revert_batch_process(batch_id=batch.pk, chunk=2)
    assert (finished.status, finished.done) == ("finished", 3)
    assert RunRevert.objects.filter(batch=batch).count() == 3
    assert finished.report["by_action"]["Assign owner"] == plan["by_action"]["Assign owner"]
    assert finished.report["by_action"] == plan["by_action"]

    for lead in leads:
        lead.refresh_from_db()
    assert [lead.owner for lead in leads[:2]] == [None, None]
    assert leads[2].owner == carla and leads[3].owner == routed["ben"]  # the conflict and the other rule's lead
    assert sum(counters(routed["pool"]).values()) == sum(before_counts.values()) - 2  # the conflict's count stays
    entries = ChangeEntry.objects.filter(payload__revert_batch=batch.pk)
    assert entries.filter(kind="owner_assigned").count() == 2

    # Idempotent: running the finished batch again changes nothing.
    assert revert_batch_process(batch_id=batch.pk).done == 3
    assert RunRevert.objects.filter(batch=batch).count() == 3
    assert batch.history.count() == 1


def test_a_window_must_make_sense(routed, admin):
    from django.core.exceptions import ValidationError

    now = timezone.now()
    with pytest.raises(ValidationError) as exc:
        revert_batch_plan(automation=routed["auto"], started_from=now, until=now - dt.timedelta(hours=1))
    assert "must be after" in str(exc.value)
    with pytest.raises(ValidationError):
        revert_batch_start(
            actor=admin, automation=routed["auto"], started_from=now - dt.timedelta(hours=1), until=now, reason=""
        )
    assert not RunRevertBatch.objects.exists()


def test_a_batch_whose_worker_died_is_resumed_by_the_sweeper(routed, admin, django_capture_on_commit_callbacks):
    now = timezone.now().replace(microsecond=0)
    leads = _hour(routed, now - dt.timedelta(minutes=30))
    window = {"automation": routed["auto"], "started_from": now - dt.timedelta(hours=1), "until": now}
    with django_capture_on_commit_callbacks(execute=False):
        batch = revert_batch_start(actor=admin, reason="wrong pool for an hour", **window)
    revert_batch_process(batch_id=batch.pk, max_chunks=1, chunk=2)  # then the worker is killed
    assert revert_batches_sweep() == []  # a batch that moved a minute ago is left to its worker

    enqueued = []
    later = timezone.now() + dt.timedelta(minutes=11)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(revert_batches, "revert_batch_enqueue", lambda *, batch_id: enqueued.append(batch_id) or True)
        assert revert_batches_sweep(now=later) == [batch.pk]
    assert enqueued == [batch.pk]
    assert revert_batches_sweep(now=later) == []  # the enqueue counts as a sign of life

    finished = revert_batch_process(batch_id=batch.pk)  # what the re-enqueued job does
    assert (finished.status, finished.done) == ("finished", len(leads))
    assert RunRevert.objects.filter(batch=batch).values("run").distinct().count() == len(leads)
    assert revert_batches_sweep(now=later + dt.timedelta(hours=1)) == []  # finished: never again
