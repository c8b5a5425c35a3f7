"""Cheap "did not fire": runs whose conditions fail are written in one statement per batch, and
still explain themselves; redeliveries and duplicates keep one run per (version, event)."""

import html
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from revops.conditions import compile_condition
from revops.engine.batch import rule_outcome
from revops.engine.pipeline import engine_process_events
from revops.engine.selectors import record_runs, run_explanation, run_summary
from revops.engine.types import Outcome
from revops.models import AutomationRun, AutomationVersion, Lead, OutboxEvent

from .test_engine import HOT, make, process, rec, sync

pytestmark = pytest.mark.django_db


def run_inserts(ctx) -> int:
    """Statements inserting runs (``INSERT OR IGNORE INTO`` on SQLite, ``INSERT INTO … ON CONFLICT`` on PostgreSQL)."""
    return sum(
        1
        for q in ctx.captured_queries
        if q["sql"].startswith("INSERT") and 'INTO "revops_automationrun"' in q["sql"][:60]
    )


def test_runs_that_did_not_fire_are_written_in_one_statement_and_explain_themselves():
    make("Hot lead follow-up")
    make("Second follow-up", conditions={"all": [{"field": "lead.score", "op": "gte", "value": 95}]})
    sync("leads", *(rec(f"L{i}", score=10, status="new") for i in range(20)))  # cold: nothing fires

    with CaptureQueriesContext(connection) as ctx:
        result = process()
    assert result.runs == {"not_fired": 40}
    assert run_inserts(ctx) == 1
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {"processed"}
    runs = AutomationRun.objects.filter(outcome="not_fired")
    assert runs.count() == 40 and {r.attempts for r in runs} == {1}
    assert all(r.event_id and r.finished_at and r.trigger_key == f"event:{r.event_id}" for r in runs)

    # "Why didn't it fire?" — the record's runs still carry the failed condition with its value.
    lead = Lead.objects.get(external_id="L3")
    why = {run.automation.name: run for run in record_runs(object_type="lead", object_id=lead.pk)}
    explained = run_explanation(why["Hot lead follow-up"])
    assert explained["conditions"]["result"] is False
    failed = [c for c in explained["conditions"]["conditions"] if c["result"] is False]
    assert failed and failed[0]["actual"] == 10


def test_a_fired_run_takes_the_full_path_next_to_the_quiet_ones():
    make("Hot lead follow-up")
    sync("leads", rec("HOT", score=90, status="new"), rec("COLD", score=5, status="new"))
    result = process()
    assert result.runs == {"fired": 1, "not_fired": 1}
    hot = AutomationRun.objects.get(external_id="HOT")
    assert hot.outcome == "fired" and hot.actions_applied and hot.actions_applied[0]["status"] == "applied"


def test_a_duplicate_delivery_keeps_one_run_per_version_and_event():
    make("Hot lead follow-up")
    sync("leads", *(rec(f"L{i}", score=10) for i in range(5)))
    ids = list(OutboxEvent.objects.values_list("pk", flat=True))
    process()
    before = list(AutomationRun.objects.order_by("pk").values("pk", "outcome", "trigger_key"))
    # The same job delivered again as if for the first time (a worker that lost its bookkeeping).
    OutboxEvent.objects.update(status="pending", attempts=0, processed_at=None)
    engine_process_events(event_ids=ids)
    assert list(AutomationRun.objects.order_by("pk").values("pk", "outcome", "trigger_key")) == before
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {"processed"}


def test_a_redelivered_event_finishes_the_run_its_first_attempt_left_in_error(monkeypatch):
    automation = make("Hot lead follow-up")
    sync("leads", rec("L1", score=10))
    event = OutboxEvent.objects.get()
    AutomationRun.objects.create(
        version=automation.versions.get(number=automation.version),
        trigger_key=f"event:{event.pk}",
        automation=automation,
        event=event,
        mode="live",
        object_type="lead",
        object_id=event.object_id,
        outcome="error",
        error="OperationalError: the database went away",
        attempts=1,
    )
    OutboxEvent.objects.update(attempts=1)  # its first delivery failed
    process()
    run = AutomationRun.objects.get()
    assert (run.outcome, run.attempts, run.error) == ("not_fired", 2, "")
    assert OutboxEvent.objects.get().status == "processed"


def test_runs_keep_their_conditions_compact_and_the_pages_show_them_in_words(admin_client):
    """A run stores each condition's actual value and result; the Why page and the run page expand them
    into the checked conditions, and the summary names what failed, with its value."""
    changed = {"all": [{"field": "lead.status", "op": "changed_to", "value": "working"}, *HOT["all"][:1]]}
    make("Worked hot lead", conditions=changed)
    sync("leads", rec("L1", score=10, status="new"))
    process()
    sync("leads", rec("L1", at="2026-03-01T11:00:00Z", score=10, status="working"))
    process()
    run = AutomationRun.objects.filter(outcome="not_fired").order_by("-pk").first()
    assert set(run.explanation) == {"kind", "checked"}
    assert run.explanation["checked"] == [[["new", "working"], True], [10, False]]
    # No summary is stored for a run that did not fire: it is said from the conditions checked when shown.
    said = "Conditions not met: ✗ Lead score ≥ 80 (actual: 10)"
    assert run.summary == "" and run_summary(run) == said
    lines = run_explanation(run)["conditions_text"]
    assert lines[0] == "✗ all of:" and lines[2].strip() == "✗ Lead score ≥ 80 (actual: 10)"
    assert "new → working" in lines[1] and lines[1].strip().startswith("✓")

    why = admin_client.get(reverse("admin:revops_lead_why", args=[run.object_id])).content.decode()
    assert "Lead score ≥ 80" in why and "new → working" in why and html.escape(said) in why
    page = admin_client.get(reverse("admin:revops_automationrun_change", args=[run.pk])).content.decode()
    assert "Lead score ≥ 80" in page and html.escape(said) in page
    runs = admin_client.get(reverse("admin:revops_automationrun_changelist")).content.decode()
    assert html.escape(said) in runs
    automation = admin_client.get(reverse("admin:revops_automation_change", args=[run.automation_id])).content
    assert html.escape(said) in automation.decode()

    # A version that no longer reads with today's dictionary (its field removed since) shows by path.
    gone = {"all": [changed["all"][0], {"field": "lead.removed_field", "op": "gte", "value": 80}]}
    AutomationVersion.objects.filter(pk=run.version_id).update(conditions=gone)
    run = AutomationRun.objects.select_related("version").get(pk=run.pk)
    assert run_explanation(run)["conditions_text"][2].strip() == "✗ lead.removed_field ≥ 80 (actual: 10)"
    assert run_summary(run) == "Conditions not met: ✗ lead.removed_field ≥ 80 (actual: 10)"
    # Stored values of the wrong shape show as stored, with a note (the page never fails on them).
    AutomationRun.objects.filter(pk=run.pk).update(explanation={"kind": "create_task", "checked": None})
    run.refresh_from_db()
    assert "not a list" in run_explanation(run)["note"]
    assert run_summary(run) == ""
    assert admin_client.get(reverse("admin:revops_lead_why", args=[run.object_id])).status_code == 200
    # Values that do not fit the conditions at all still show, with what was stored.
    AutomationRun.objects.filter(pk=run.pk).update(explanation={"kind": "create_task", "checked": [[10, False]]})
    run.refresh_from_db()
    assert "could not be shown in words" in run_explanation(run)["note"]
    assert run_summary(run) == "Conditions not met."
    assert admin_client.get(reverse("admin:revops_lead_why", args=[run.object_id])).status_code == 200


def test_a_kind_is_gated_only_where_its_evaluate_says_so():
    """A plug-in kind built on a gated built-in one, with its own ``evaluate``, is evaluated even when
    the conditions do not hold (it may fire then); a subclass that keeps ``evaluate`` stays gated."""
    from revops.engine.builtin import FieldUpdate

    class Always(FieldUpdate):
        def evaluate(self, record, *, version, predicate, context):
            return Outcome(True, summary="fires whatever the conditions")

    class Renamed(FieldUpdate):
        label = "Renamed"

    class AlwaysMixin:
        def evaluate(self, record, *, version, predicate, context):
            return Outcome(True, summary="fires whatever the conditions")

    class Mixed(AlwaysMixin, FieldUpdate):
        pass

    class Declared(FieldUpdate):
        gated = True

        def evaluate(self, record, *, version, predicate, context):  # pragma: no cover - never reached
            raise AssertionError

    assert FieldUpdate.gated and Renamed.gated and Declared.gated and not Always.gated and not Mixed.gated
    predicate = compile_condition(HOT, object_type="lead")
    version = SimpleNamespace(pk=1, number=1, config={"set": {"status": "working"}})
    automation = SimpleNamespace(name="r", mode="live", object_type="lead")
    lead = Lead(external_id="L1", score=10, status="new")
    for kind, fired in ((Always(), True), (Mixed(), True), (Renamed(), False), (Declared(), False)):
        rule = SimpleNamespace(automation=automation, version=version, kind=kind, predicate=predicate)
        assert rule_outcome(rule, lead, now=timezone.now()).fired is fired


def test_a_plug_in_kind_written_to_the_older_not_fired_still_decides_quietly():
    """``not_fired(predicate, ctx)`` without ``checked``, as plug-in kinds were written before the engine
    handed over the conditions it had checked: called with two arguments, not with a TypeError."""
    from revops.engine.kinds import AutomationKind

    class Older(AutomationKind):
        key, label, gated = "older_plugin", "Older plug-in", True

        def evaluate(self, record, *, version, predicate, context):  # pragma: no cover - not reached
            raise AssertionError

        def not_fired(self, predicate, ctx):
            return Outcome(False, summary=f"{len(predicate.check(ctx))} conditions checked")

    assert Older.gated and not Older.not_fired_takes_checked
    rule = SimpleNamespace(
        automation=SimpleNamespace(name="r", mode="live", object_type="lead"),
        version=SimpleNamespace(pk=1, number=1, config={}),
        kind=Older(),
        predicate=compile_condition(HOT, object_type="lead"),
    )
    outcome = rule_outcome(rule, Lead(external_id="L1", score=10, status="new"), now=timezone.now())
    assert not outcome.fired and outcome.summary == "2 conditions checked"


def test_a_field_update_that_fires_is_said_the_same_with_or_without_an_evaluation_context():
    """When the conditions hold, a field update's outcome comes from ``fire_checked`` with no evaluation
    context: the same outcome ``evaluate`` gives. A plug-in kind overriding either one is evaluated."""
    from revops.conditions import Context, load_fields
    from revops.engine.batch import evaluation_context
    from revops.engine.builtin import FieldUpdate

    class OwnEvaluate(FieldUpdate):
        def evaluate(self, record, *, version, predicate, context):
            return Outcome(True, summary="its own")

    class OwnFire(FieldUpdate):
        def fire_checked(self, rule, record, checked, *, fields):  # pragma: no cover - never reached
            raise AssertionError

    class Renamed(FieldUpdate):  # may override what evaluate calls (holds, checked): evaluated with a context
        label = "Renamed"

    assert FieldUpdate.fires_checked and Renamed.gated
    assert not (OwnEvaluate.fires_checked or OwnFire.fires_checked or Renamed.fires_checked)
    fields = load_fields()
    predicate = compile_condition(HOT, object_type="lead", fields=fields)
    version = SimpleNamespace(pk=1, number=1, config={"set": {"status": "working"}})
    automation = SimpleNamespace(name="r", mode="live", object_type="lead")
    lead = Lead(external_id="L1", score=90, status="new", source="web")
    now = timezone.now()
    kind = FieldUpdate()
    rule = SimpleNamespace(automation=automation, version=version, kind=kind, predicate=predicate)
    fast = rule_outcome(rule, lead, now=now, fields=fields)
    context = evaluation_context(rule, lead, now=now, event=None, cache=None, condition_context=Context(lead, now=now))
    slow = kind.evaluate(lead, version=version, predicate=predicate, context=context)
    assert fast.fired and fast == slow
    assert fast.summary == "Conditions met: set Status to Working on L1."
    assert [(a.type, a.params) for a in fast.actions] == [("update_field", {"key": "status", "value": "working"})]
    # Another version's values, on the same compiled conditions, are not said with the first one's.
    other = SimpleNamespace(pk=1, number=2, config={"set": {"status": "nurture"}})
    changed = rule_outcome(SimpleNamespace(**{**vars(rule), "version": other}), lead, now=now, fields=fields)
    assert (
        changed.summary == "Conditions met: set Status to Nurture on L1."
        and changed.actions[0].params["value"] == "nurture"
    )
    assert rule_outcome(SimpleNamespace(**{**vars(rule), "kind": OwnEvaluate()}), lead, now=now).summary == "its own"
