"""The automation engine: outbox events → runs → actions, through a real RQ worker where it matters."""

import datetime as dt

import django_rq
import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from exceptions.models import ExceptionItem, Queue
from revops import jobs
from revops.engine.actions import approval_execute
from revops.engine.pipeline import MAX_ATTEMPTS, EngineRetry, engine_process_events
from revops.engine.revert import run_revert
from revops.engine.schedule import automation_review_overdue_open, run_scheduled_automations
from revops.engine.selectors import record_runs, run_explanation, run_summary
from revops.engine.services import automation_create, automation_set_mode, automation_update
from revops.engine.shadow import shadow_report
from revops.models import (
    ApiToken,
    AppliedAction,
    Automation,
    AutomationRun,
    ChangeEntry,
    Lead,
    OutboxEvent,
    Task,
)
from revops.services import record_save
from revops.sync import sync_batch_apply
from revops.tokens import api_token_create
from routing.models import SlaClock
from tests.factories import LeadFactory, OpportunityFactory, RepFactory, UserFactory

from . import test_engine_kinds  # noqa: F401  (registers the test kinds)

HOT = {"all": [{"field": "lead.score", "op": "gte", "value": 80}, {"field": "lead.status", "op": "eq", "value": "new"}]}
TASK = {"title": "Call the lead", "due_in_hours": 2, "assignee": "owner"}


def owners():
    rule = UserFactory(username="rule.owner", email="rule.owner@example.com", first_name="Rita", last_name="Rule")
    failure = UserFactory(username="failure.owner", email="failure.owner@example.com")
    return rule, failure


def make(name="Hot lead follow-up", **fields):
    rule, failure = owners()
    Queue.objects.get_or_create(name="RevOps")  # the exception path must name a queue
    values = {
        "purpose": "Hot new leads get a call within two hours.",
        "kind": "create_task",
        "object_type": "lead",
        "trigger": "updated",
        "conditions": HOT,
        "config": TASK,
        "rule_owner": rule,
        "failure_owner": failure,
        "exception_queue": "RevOps",
        "mode": "live",
    }
    values.update(fields)
    return automation_create(actor=rule, name=name, **values)


def token():
    return ApiToken.objects.filter(name="crm").first() or api_token_create(name="crm", scopes=["sync:write"])[0]


def sync(object_name="leads", *records):
    crm = token()
    return sync_batch_apply(object_name=object_name, records=list(records), actor=crm.user, token=crm)


def rec(ext, at="2026-03-01T10:00:00Z", **values):
    return {"external_id": ext, "source_updated_at": at, **values}


def process():
    ids = list(OutboxEvent.objects.filter(status="pending").values_list("pk", flat=True))
    return engine_process_events(event_ids=ids)


# --- Pipeline through a real worker --------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_sync_batch_runs_automations_in_a_real_worker(redis_conn, run_worker):
    rep = RepFactory(external_id="R-1", name="Jordan Lee")
    automation = make()
    sync("leads", rec("L1", score=90, owner="R-1"), rec("L2", score=10, owner="R-1"))  # commits: enqueued
    assert django_rq.get_queue("hot").count == 1

    assert run_worker("hot") == 0
    hot, cold = Lead.objects.get(external_id="L1"), Lead.objects.get(external_id="L2")
    fired = AutomationRun.objects.get(object_id=hot.pk)
    assert fired.outcome == "fired" and fired.mode == "live" and fired.attempts == 1
    assert fired.automation == automation and fired.version.number == 1
    assert fired.trigger_key == f"event:{fired.event_id}"
    assert run_explanation(fired)["conditions"]["result"] is True
    assert "✓" in run_explanation(fired)["conditions_text"][1]
    assert "Jordan Lee (owner) should call the lead by" in fired.expected_next
    assert fired.expected_next.endswith("UTC.")
    assert fired.actions_applied == [{"index": 0, "type": "create_task", "status": "applied"}]
    assert fired.duration_ms > 0 and fired.finished_at is not None
    task = Task.objects.get(lead=hot)
    assert task.owner == rep and task.created_by_automation == automation.name
    assert abs((task.due_at - timezone.now()) - dt.timedelta(hours=2)) < dt.timedelta(minutes=1)
    entry = ChangeEntry.objects.get()
    assert entry.kind == "task_created" and entry.external_id == "L1" and entry.payload["owner"] == "R-1"
    assert entry.reason == f"automation {automation.name} v1, run {fired.pk}"

    not_fired = AutomationRun.objects.get(object_id=cold.pk)
    assert not_fired.outcome == "not_fired" and not not_fired.applied.exists()
    assert not_fired.summary == ""  # said from the conditions checked when shown
    assert run_summary(not_fired).startswith("Conditions not met: ✗ Lead score ≥ 80 (actual: ")
    assert not Task.objects.filter(lead=cold).exists()
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {"processed"}

    # The why view's selector: newest first, with the applied actions.
    runs = list(record_runs(object_type="lead", object_id=hot.pk))
    assert [r.pk for r in runs] == [fired.pk] and [a.action for a in runs[0].applied.all()] == ["create_task"]


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_job_changes_nothing(redis_conn, run_worker):
    RepFactory(external_id="R-1")
    make()
    outcome = sync("leads", rec("L1", score=95, owner="R-1"))
    run_worker("hot")
    snapshot = (
        list(AutomationRun.objects.values("pk", "outcome", "attempts")),
        list(AppliedAction.objects.values()),
        list(Task.objects.values("pk")),
        list(ChangeEntry.objects.values("pk")),
    )
    # The same job again, and the engine on the same events directly: nothing changes.
    assert jobs.process_outbox_batch(outcome.batch.pk) == 0
    OutboxEvent.objects.update(status="pending")  # even if the consumption mark was lost
    engine_process_events(event_ids=list(OutboxEvent.objects.values_list("pk", flat=True)))
    assert snapshot == (
        list(AutomationRun.objects.values("pk", "outcome", "attempts")),
        list(AppliedAction.objects.values()),
        list(Task.objects.values("pk")),
        list(ChangeEntry.objects.values("pk")),
    )
    assert Task.objects.count() == 1 and AppliedAction.objects.count() == 1 and ChangeEntry.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_admin_edit_writes_an_outbox_event_and_triggers_the_automation(redis_conn, run_worker):
    rep = RepFactory(external_id="R-1")
    make()
    lead = LeadFactory(score=40, owner=rep)
    editor = UserFactory(username="editor", is_staff=True)
    lead.score = 90
    record_save(instance=lead, actor=editor)
    event = OutboxEvent.objects.get(object_id=lead.pk)
    assert event.kind == "updated" and event.batch is None
    assert event.changed_fields == ["score"] and event.changes == {"score": [40, 90]}
    assert run_worker("hot") == 0
    run = AutomationRun.objects.get(object_id=lead.pk)
    assert run.outcome == "fired" and Task.objects.filter(lead=lead).count() == 1
    event.refresh_from_db()
    assert event.status == "processed"


@pytest.mark.django_db
def test_record_save_without_a_change_writes_no_event():
    lead = LeadFactory()
    record_save(instance=lead, actor=None)
    assert not OutboxEvent.objects.exists()
    new = Lead(external_id="NEW-1", email="a@b.test")
    record_save(instance=new, actor=None)
    event = OutboxEvent.objects.get()
    assert event.kind == "created" and event.external_id == "NEW-1"


# --- Triggers ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("trigger", "extra", "expected"),
    [
        ("created", {}, {"L-new"}),
        ("updated", {}, {"L-new", "L-old"}),
        ("field_changed", {"trigger_fields": ["country"]}, {"L-old"}),
        ("field_changed", {"trigger_fields": ["title"]}, set()),
    ],
)
def test_triggers_select_automations_by_event(trigger, extra, expected):
    sync("leads", rec("L-old", score=90, country="US"))
    OutboxEvent.objects.update(status="processed")
    make(trigger=trigger, **extra)
    sync("leads", rec("L-new", score=90), rec("L-old", "2026-03-02T10:00:00Z", country="CA"))
    process()
    fired = set(AutomationRun.objects.values_list("external_id", flat=True))
    assert fired == expected


@pytest.mark.django_db
def test_stage_changed_to_fires_only_on_the_change():
    rule, failure = owners()
    opp = OpportunityFactory(external_id="O-1", stage="negotiation")
    make(
        "Closed-won handoff",
        kind="required_fields",
        object_type="opportunity",
        trigger="stage_changed_to",
        trigger_value="closed_won",
        conditions={"all": []},
        config={
            "fields": ["next_step", "contract_start_date"],
            "task": False,
            "exception": True,
            "exception_kind": "handoff_incomplete",
        },
    )
    opp.name = "Renamed deal"
    record_save(instance=opp, actor=None)  # a hand edit (the CRM would refuse won deals without these)
    process()
    assert not AutomationRun.objects.exists()
    opp.stage = "closed_won"
    record_save(instance=opp, actor=None)
    process()
    run = AutomationRun.objects.get()
    assert run.outcome == "fired" and run.object_id == opp.pk
    item = ExceptionItem.objects.get(kind="handoff_incomplete")
    assert "missing Next step, Contract start date" in item.reason
    assert item.owner == rule and item.queue_name == "RevOps" and item.run == run


# --- Governance, modes and risk ------------------------------------------------------------


@pytest.mark.django_db
def test_going_live_without_owners_or_exception_path_is_refused():
    with pytest.raises(ValidationError) as exc:
        automation_create(
            actor=None,
            name="Ungoverned",
            purpose="x",
            kind="create_task",
            object_type="lead",
            config=TASK,
            mode="live",
        )
    message = " ".join(exc.value.message_dict["mode"])
    assert "no rule owner" in message and "no failure owner" in message and "no exception path" in message
    automation = make(mode="draft", exception_queue="")
    with pytest.raises(ValidationError, match="no exception path"):
        automation_set_mode(automation=automation, mode="live", actor=None)
    assert Automation.objects.get(pk=automation.pk).mode == "draft"


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["draft", "paused", "retired"])
def test_inactive_automations_do_not_run(mode):
    make(mode=mode)
    sync("leads", rec("L1", score=99))
    process()
    assert not AutomationRun.objects.exists() and not Task.objects.exists()
    assert OutboxEvent.objects.get().status == "processed"


@pytest.mark.django_db
def test_shadow_mode_applies_nothing_and_reports_would_vs_did():
    rep_a, rep_b = RepFactory(external_id="R-A"), RepFactory(external_id="R-B")
    automation = make(
        "Shadow router",
        kind="test_scripted",
        mode="shadow",
        conditions={"all": []},
        config={"actions": [{"type": "assign_owner", "params": {"owner_id": rep_a.pk}}, {"type": "create_task"}]},
    )
    sync("leads", rec("L1"), rec("L2"))
    process()
    assert not Task.objects.exists() and not ChangeEntry.objects.exists()
    assert set(Lead.objects.values_list("owner", flat=True)) == {None}
    statuses = set(AppliedAction.objects.values_list("status", flat=True))
    assert statuses == {"shadow"} and AppliedAction.objects.count() == 4
    shadow = AppliedAction.objects.filter(action="assign_owner").first()
    assert shadow.before["owner_id"] is None and shadow.after["owner"] == "R-A"

    # The CRM then sets owners itself: one agrees with the shadow decision, one does not.
    sync("leads", rec("L1", "2026-03-02T10:00:00Z", owner="R-A"), rec("L2", "2026-03-02T10:00:00Z", owner="R-B"))
    report = shadow_report(automation=automation)
    assert report["counts"] == {"runs": 2, "fired": 2, "not_fired": 0, "error": 0, "pending": 0}
    assert report["would_apply"] == {"assign_owner": 2, "create_task": 2}
    assert report["compared"] == 2 and report["agreed"] == 1 and report["agreement_rate"] == 0.5
    by_ext = {row["external_id"]: row for row in report["records"]}
    assert by_ext["L1"]["would"] == "R-A" and by_ext["L1"]["did"] == "R-A" and by_ext["L1"]["agrees"]
    assert by_ext["L2"]["did"] == "R-B" and not by_ext["L2"]["agrees"] and by_ext["L2"]["did_source"] == "history"
    assert rep_b  # used above by external id


@pytest.mark.django_db
def test_high_risk_actions_become_approval_requests():
    rep = RepFactory(external_id="R-A")
    rule, _failure = owners()
    automation = make(
        "Reassign strategic",
        kind="test_scripted",
        risk="high",
        conditions={"all": []},
        config={"actions": [{"type": "assign_owner", "params": {"owner_id": rep.pk}}]},
    )
    sync("leads", rec("L1"))
    process()
    lead = Lead.objects.get()
    assert lead.owner is None and not ChangeEntry.objects.exists()
    run = AutomationRun.objects.get()
    applied = run.applied.get()
    assert applied.status == "approval"
    item = ExceptionItem.objects.get(kind="approval_required")
    assert item.owner == rule and item.run == run and item.automation == automation
    assert item.proposal["action"] == "assign_owner" and item.proposal["params"]["owner_id"] == rep.pk
    assert item.proposal["run"] == run.pk and item.proposal["after"]["owner"] == "R-A"
    assert "high-risk" in item.reason

    approver = UserFactory(username="manager")
    approval_execute(item=item, actor=approver)
    approval_execute(item=item, actor=approver)  # twice: applied once
    lead.refresh_from_db()
    assert lead.owner == rep
    applied.refresh_from_db()
    assert applied.status == "applied"
    assert ChangeEntry.objects.filter(kind="owner_assigned").count() == 1
    assert lead.history.first().history_user == approver


@pytest.mark.django_db
def test_merge_is_always_prepared_for_approval_even_at_low_risk():
    winner = LeadFactory(external_id="W", country="")
    loser = LeadFactory(external_id="X", country="DE")
    task = Task.objects.create(title="t", lead=loser)
    make(
        "Merge duplicates",
        kind="test_scripted",
        conditions={"all": []},
        trigger="updated",
        config={"actions": [{"type": "merge_records", "params": {"loser_id": loser.pk}}]},
    )
    winner.title = "CEO"
    record_save(instance=winner, actor=None)
    process()
    item = ExceptionItem.objects.get(kind="approval_required")
    winner.refresh_from_db()
    assert winner.country == "" and "merging records is high-impact" in item.reason
    approval_execute(item=item, actor=UserFactory(username="boss"))
    winner.refresh_from_db()
    loser.refresh_from_db()
    task.refresh_from_db()
    assert winner.country == "DE" and loser.status == "converted" and task.lead == winner


# --- Actions, history and rollback ---------------------------------------------------------


@pytest.mark.django_db
def test_history_names_the_automation_identity_and_run_and_revert_restores():
    automation = make(
        "Mark hot leads working", kind="field_update", conditions=HOT, config={"set": {"status": "working"}}
    )
    sync("leads", rec("L1", score=90))
    process()
    lead = Lead.objects.get()
    run = AutomationRun.objects.get()
    assert lead.status == "working"
    assert run.summary == "Conditions met: set Status to Working on L1."  # the choice's label, not its code
    latest = lead.history.first()
    assert latest.history_user == automation.identity
    assert latest.history_change_reason == f"automation {automation.name} v1, run {run.pk}"
    applied = run.applied.get()
    assert applied.before == {"key": "status", "value": "new"} and applied.after == {
        "key": "status",
        "value": "working",
    }
    entry = ChangeEntry.objects.get(kind="field_updated")
    assert entry.payload == {"field": "status", "value": "working", "previous": "new"}
    assert entry.dedupe_key == f"run:{run.pk}:0"

    admin = UserFactory(username="revops-admin")
    revert = run_revert(run=run, actor=admin, reason="set by mistake")
    assert [(line["index"], line["outcome"]) for line in revert.lines] == [(0, "revert")] and revert.reverted == 1
    lead.refresh_from_db()
    assert lead.status == "new" and lead.history.first().history_user == admin
    applied.refresh_from_db()
    assert applied.status == "reverted"
    again = run_revert(run=run, actor=admin, reason="set by mistake")  # nothing left to revert
    assert again.reverted == 0 and [line["outcome"] for line in again.lines] == ["already_reverted"]


@pytest.mark.django_db
def test_assign_owner_is_compare_and_swap():
    rep_a, rep_b = RepFactory(), RepFactory()
    make(
        "Assign",
        kind="test_scripted",
        conditions={"all": []},
        config={"actions": [{"type": "assign_owner", "params": {"owner_id": rep_a.pk, "expected_owner_id": rep_b.pk}}]},
    )
    sync("leads", rec("L1"))
    process()
    applied = AppliedAction.objects.get()
    assert applied.status == "skipped" and "owner changed" in applied.after["note"]
    assert Lead.objects.get().owner is None


@pytest.mark.django_db
def test_required_fields_prompt_lists_missing_fields_in_plain_language():
    rep = RepFactory(name="Jordan Lee")
    make(
        "Missing country",
        kind="required_fields",
        conditions={"all": []},
        config={"fields": ["country", "company"], "task": True, "exception": True},
    )
    sync("leads", rec("L1", country="", company="", owner=rep.external_id), rec("L2", country="US", company="Acme"))
    process()
    task = Task.objects.get()
    assert task.title == "Fill in Country, Company" and task.owner == rep
    run = AutomationRun.objects.get(outcome="fired")
    assert run.explanation["required_fields"]["missing"] == ["country", "company"]
    assert run.expected_next.startswith("Jordan Lee (owner) should fill in Country, Company by")
    assert (
        ExceptionItem.objects.get(kind="missing_data").expected_action
        == "Fill in Country, Company on the record in the CRM."
    )
    assert AutomationRun.objects.get(external_id="L2").outcome == "not_fired"


@pytest.mark.django_db
def test_open_exception_is_deduplicated_while_open():
    make(
        "Enterprise alert",
        kind="alert",
        conditions={"all": [{"field": "lead.score", "op": "gte", "value": 50}]},
        config={"title": "Big lead {record}", "expected_action": "Check the account match.", "severity": "high"},
    )
    sync("leads", rec("L1", score=60))
    sync("leads", rec("L1", "2026-03-02T10:00:00Z", score=70))
    process()
    item = ExceptionItem.objects.get(kind="hygiene_alert")
    assert item.occurrences == 2 and item.severity == "high" and "score" in item.reason.lower()
    assert AutomationRun.objects.filter(outcome="fired").count() == 2


@pytest.mark.django_db
def test_notify_is_deduplicated_and_rate_limited(settings, redis_conn, django_capture_on_commit_callbacks):
    settings.ENGINE_NOTIFY_PER_HOUR = 1
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    rep = RepFactory(email="jordan@example.com")
    make("Ping", kind="notify", conditions={"all": []}, config={"to": "owner", "subject": "Look at {record}"})
    sync("leads", rec("L1", owner=rep.external_id), rec("L2", owner=rep.external_id))
    with django_capture_on_commit_callbacks(execute=True):
        process()
        sync("leads", rec("L1", "2026-03-02T10:00:00Z", score=1))
        process()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["jordan@example.com"]
    notes = sorted(a.after.get("note", "") for a in AppliedAction.objects.filter(status="skipped"))
    assert len(notes) == 2
    assert any("rate limit" in n for n in notes) and any("already sent" in n for n in notes)


@pytest.mark.django_db
def test_notify_reaches_a_rep_with_a_login_on_their_channels(
    redis_conn, django_capture_on_commit_callbacks, monkeypatch
):
    from exceptions import channels
    from exceptions.models import Notification
    from exceptions.notification_settings import notification_channel_add, notification_settings_save

    user = UserFactory(username="jordan.login", email="jordan.login@example.com")
    rep = RepFactory(email="jordan@example.com", user=user)
    hook = notification_channel_add(
        person=user, kind="webhook", name="Bridge", address="https://hooks.example.com/in", actor=user
    )
    notification_settings_save(
        person=user,
        time_zone="",
        digest_hour=7,
        quiet_from=None,
        quiet_until=None,
        routes={"automation_notice": [hook.pk]},
        actor=user,
    )
    carried = []
    monkeypatch.setitem(channels.TRANSPORTS, "webhook", lambda target, subject, text, html: carried.append(subject))
    make("Ping", kind="notify", conditions={"all": []}, config={"to": "owner", "subject": "Look at {record}"})
    sync("leads", rec("L1", owner=rep.external_id))
    with django_capture_on_commit_callbacks(execute=True):
        process()
    assert mail.outbox == [] and len(carried) == 1 and carried[0].startswith("Look at")
    assert Notification.objects.get(recipient=user, reason="automation_notice").channels == "Webhook: Bridge"


@pytest.mark.django_db
def test_sla_clock_start_is_idempotent_and_stop_meets_it():
    rep = RepFactory()
    make(
        "SLA",
        kind="test_scripted",
        conditions={"all": []},
        config={"actions": [{"type": "start_sla_clock", "params": {"target_minutes": 30, "policy": "Hot leads"}}]},
    )
    sync("leads", rec("L1", owner=rep.external_id))
    sync("leads", rec("L1", "2026-03-02T10:00:00Z", score=5))
    process()
    clock = SlaClock.objects.get()
    assert clock.status == "running" and clock.owner == rep and clock.target_minutes == 30
    assert sorted(AppliedAction.objects.values_list("status", flat=True)) == ["applied", "skipped"]
    automation_update(
        automation=Automation.objects.get(),
        actor=None,
        config={"actions": [{"type": "stop_sla_clock", "params": {"status": "met"}}]},
    )
    sync("leads", rec("L1", "2026-03-03T10:00:00Z", score=6))
    process()
    clock.refresh_from_db()
    assert clock.status == "met" and clock.stopped_at is not None


# --- Failures ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_failures_are_retried_with_backoff_then_surfaced_to_the_failure_owner(settings, redis_conn, run_worker):
    settings.ENGINE_RETRY_INTERVALS = [0, 0, 0]
    _rule, failure = owners()
    automation = make("Broken", kind="test_failing", conditions={"all": []})
    make("Healthy", conditions={"all": []})  # another automation on the same event still applies once
    sync("leads", rec("L1"))
    job = django_rq.get_queue("hot").jobs[0]
    assert job.retries_left == 3 and job.retry_intervals == [0, 0, 0]

    assert run_worker("hot") == 0  # the 4th delivery gives up cleanly: the failure owner has it now
    run = AutomationRun.objects.get(automation=automation)
    assert run.outcome == "error" and run.attempts == MAX_ATTEMPTS
    assert "RuntimeError: boom" in run.error
    item = ExceptionItem.objects.get(kind="automation_failed")
    assert item.owner == failure and item.automation == automation and item.run == run
    assert "failed 4 times" in item.reason
    event = OutboxEvent.objects.get()
    assert event.status == "failed" and event.attempts == MAX_ATTEMPTS and "boom" in event.last_error
    assert Task.objects.count() == 1  # the healthy automation applied once despite four deliveries
    healthy = Automation.objects.get(name="Healthy").runs.get()
    assert healthy.outcome == "fired" and healthy.attempts == 1


@pytest.mark.django_db
def test_a_failing_run_rolls_back_its_actions():
    make(
        "Half done",
        kind="test_scripted",
        conditions={"all": []},
        config={"actions": [{"type": "create_task"}, {"type": "update_field", "params": {"key": "nope", "value": 1}}]},
    )
    sync("leads", rec("L1"))
    with pytest.raises(EngineRetry):
        process()
    run = AutomationRun.objects.get()
    assert run.outcome == "error" and run.attempts == 1 and "nope" in run.error
    assert not Task.objects.exists() and not AppliedAction.objects.exists()
    assert OutboxEvent.objects.get().status == "pending"


# --- Schedules and the registry's chores ---------------------------------------------------


@pytest.mark.django_db
def test_scheduled_automation_runs_once_per_slot():
    make(
        "Stale new leads",
        kind="create_task",
        trigger="schedule",
        schedule_minutes=60,
        conditions={"all": [{"field": "lead.status", "op": "eq", "value": "new"}]},
    )
    LeadFactory(status="new")
    LeadFactory(status="new")
    LeadFactory(status="working")
    now = dt.datetime(2026, 3, 1, 10, 5, tzinfo=dt.UTC)
    assert run_scheduled_automations(now=now) == {"Stale new leads": 2}
    assert run_scheduled_automations(now=now + dt.timedelta(minutes=1)) == {"Stale new leads": 0}
    from django.core.cache import cache

    cache.clear()  # even without the slot marker, the run keys stop a second evaluation
    run_scheduled_automations(now=now + dt.timedelta(minutes=2))
    assert Task.objects.count() == 2
    slot = int(now.timestamp() // 3600)
    assert set(AutomationRun.objects.values_list("trigger_key", flat=True)) == {
        f"schedule:{slot}:{pk}" for pk in Lead.objects.filter(status="new").values_list("pk", flat=True)
    }
    # The next slot evaluates again, but a lead whose task is still open gets no second one; once
    # its task is done, the next slot that finds the condition again creates a new one.
    run_scheduled_automations(now=now + dt.timedelta(hours=1))
    assert Task.objects.count() == 2
    Task.objects.filter(pk=Task.objects.order_by("pk").first().pk).update(status="done")
    run_scheduled_automations(now=now + dt.timedelta(hours=2))
    assert Task.objects.count() == 3 and Task.objects.filter(status="open").count() == 2


@pytest.mark.django_db
def test_a_task_automation_creates_one_task_per_open_condition_not_per_update():
    """Hardening: a hot lead updated again while its call task is open gets no second identical task."""
    RepFactory(external_id="R-1")
    automation = make()
    sync("leads", rec("L1", score=90, owner="R-1"))
    process()
    sync("leads", rec("L1", at="2026-03-01T11:00:00Z", score=95, owner="R-1"))
    process()
    assert Task.objects.filter(lead__external_id="L1").count() == 1
    second = AutomationRun.objects.filter(automation=automation).order_by("-pk").first()
    skipped = second.applied.get()
    assert skipped.status == "skipped" and "is still open" in skipped.after["note"]


@pytest.mark.django_db
def test_review_overdue_opens_one_item_for_the_rule_owner():
    rule, _ = owners()
    automation = make("Old rule")
    Automation.objects.filter(pk=automation.pk).update(last_reviewed_at=dt.date(2025, 1, 1), review_cadence_days=90)
    make("Fresh rule", last_reviewed_at=timezone.localdate())
    assert automation_review_overdue_open() == 1
    assert automation_review_overdue_open() == 1
    item = ExceptionItem.objects.get(kind="review_overdue")
    assert item.owner == rule and item.occurrences == 2 and "2025-04-01" in item.title


@pytest.mark.django_db
def test_sweeper_flags_stuck_runs_and_re_enqueues_their_events(redis_conn, run_worker):
    from revops.outbox import outbox_sweep

    make()
    sync("leads", rec("L1", score=90))
    automation = Automation.objects.get()
    event = OutboxEvent.objects.get()
    stuck = AutomationRun.objects.create(
        automation=automation,
        version=automation.versions.get(),
        event=event,
        trigger_key=f"event:{event.pk}",
        mode="live",
        object_type="lead",
        object_id=event.object_id,
    )
    AutomationRun.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - dt.timedelta(minutes=30))
    OutboxEvent.objects.update(created_at=timezone.now() - dt.timedelta(minutes=30))
    assert outbox_sweep(grace=60) == [event.batch_id]
    stuck.refresh_from_db()
    assert stuck.outcome == "error" and stuck.error.startswith("stuck: worker died?")
    assert run_worker("hot") == 0
    stuck.refresh_from_db()
    assert stuck.outcome == "fired" and Task.objects.count() == 1


@pytest.mark.django_db
def test_the_demo_has_one_stale_commit_rule_and_retires_the_old_regional_copies():
    from revops.engine.demo import (
        RETIRED_REGIONAL_NAMES,
        STALE_COMMIT_NAME,
        demo_automation_specs,
        demo_regional_automations_retire,
        demo_specs_ensure,
    )

    loader = UserFactory(username="demo-loader")
    stale = [spec for spec in demo_automation_specs() if spec["name"].startswith(STALE_COMMIT_NAME)]
    assert len(stale) == 1  # the forecast category is guarded: each owner's manager approves, one rule suffices
    demo_specs_ensure([{**stale[0], "name": name} for name in RETIRED_REGIONAL_NAMES], actor=loader)
    retired = demo_regional_automations_retire(actor=loader)
    assert sorted(a.name for a in retired) == sorted(RETIRED_REGIONAL_NAMES)
    assert set(Automation.objects.filter(name__in=RETIRED_REGIONAL_NAMES).values_list("mode", flat=True)) == {"retired"}
    assert demo_regional_automations_retire(actor=loader) == []


@pytest.mark.django_db
def test_demo_automations_are_created_once_and_a_hot_lead_edit_fires_one():
    from revops.demo import demo_automations_ensure

    loader = UserFactory(username="demo-loader")
    created = demo_automations_ensure(actor=loader)
    assert len(created) == 4 and demo_automations_ensure(actor=loader) == []
    modes = dict(Automation.objects.values_list("name", "mode"))
    assert modes["Enterprise lead alert"] == "shadow" and modes["Hot lead follow-up task"] == "live"
    assert Automation.objects.get(name="Downgrade stale commit deals").risk == "high"
    rep = RepFactory(name="Jordan Lee")
    lead = LeadFactory(score=20, status="new", owner=rep)
    lead.score = 90
    record_save(instance=lead, actor=UserFactory(username="editor"))
    process()
    run = AutomationRun.objects.get(automation__name="Hot lead follow-up task")
    assert run.outcome == "fired" and Task.objects.get(lead=lead).title == "Call the lead"
    assert run.expected_next.startswith("Jordan Lee (owner) should call the lead by")
