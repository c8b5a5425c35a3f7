"""Response-SLA services with a controlled clock: starting clocks, the tick's reminders and breaches
(one item for the manager, rerouting only when configured), first touch, cancel, follow-the-owner,
the metrics per team, rule and rep, and the job through a real worker."""

import datetime as dt
import importlib
import sys
import types

import django_rq
import pytest
from django.core import mail
from django.db.models import QuerySet
from django.utils import timezone

from exceptions.models import ExceptionItem, Queue
from routing import jobs
from routing.models import RoutingDecision, SlaClock, SlaPolicy
from routing.selectors import sla_clock_for_lead, sla_metrics
from routing.sla import sla_plan
from routing.sla_services import (
    sla_clock_start,
    sla_clocks_cancel,
    sla_clocks_follow_owner,
    sla_clocks_tick,
    sla_clocks_touch,
)
from tests.factories import ActivityFactory, LeadFactory, RepFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
T0 = dt.datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def minutes(n) -> dt.timedelta:
    return dt.timedelta(minutes=n)


@pytest.fixture
def hot(db):
    return SlaPolicy.objects.create(name="Hot inbound", priority=10, target_minutes=5, reminder_share=0.5)


@pytest.fixture
def ana(db):
    """Ana Ruiz, whose manager Bea has a portal login."""
    bea = RepFactory(name="Bea Manager", user=UserFactory(username="bea"))
    return RepFactory(name="Ana Ruiz", email="ana@acme-sales.test", manager=bea, time_zone="Europe/Madrid")


def start(lead, owner, policy, *, now=T0, decision=None) -> SlaClock:
    plan = sla_plan(lead, owner, now=now, policies=[policy], calendars=[])
    return sla_clock_start(lead=lead, owner=owner, plan=plan, decision=decision)


@pytest.fixture
def reroutes(monkeypatch):
    """Stand in for ``routing.services.lead_reroute`` (owned by the routing services), recording calls."""
    calls = []
    try:
        module = importlib.import_module("routing.services")
    except ImportError:
        module = types.ModuleType("routing.services")
        monkeypatch.setitem(sys.modules, "routing.services", module)
    monkeypatch.setattr(module, "lead_reroute", lambda **kwargs: calls.append(kwargs) or "decision", raising=False)
    return calls


# --- start ----------------------------------------------------------------------------------------


def test_start_creates_a_running_clock_from_the_plan(hot, ana):
    lead = LeadFactory(owner=ana)
    decision = RoutingDecision.objects.create(lead=lead, outcome="assigned", owner=ana, decided_at=T0)
    clock = start(lead, ana, hot, decision=decision)
    clock.refresh_from_db()
    assert clock.status == "running" and clock.owner == ana and clock.decision == decision
    assert clock.policy == "Hot inbound" and clock.policy_ref == hot and clock.target_minutes == 5
    assert (clock.started_at, clock.due_at, clock.remind_at) == (T0, T0 + minutes(5), T0 + dt.timedelta(seconds=150))
    assert clock.business_hours is False


def test_a_second_start_while_one_runs_is_a_quiet_no_op(hot, ana):
    lead = LeadFactory(owner=ana)
    first = start(lead, ana, hot)
    assert start(lead, ana, hot, now=T0 + minutes(1)) is None
    assert list(SlaClock.objects.filter(lead=lead)) == [first]


def test_a_start_losing_the_race_to_the_unique_constraint_returns_none(hot, ana, monkeypatch):
    lead = LeadFactory(owner=ana)
    first = start(lead, ana, hot)
    monkeypatch.setattr(QuerySet, "exists", lambda self: False)  # both starters saw no running clock
    assert start(lead, ana, hot) is None
    monkeypatch.undo()
    assert list(SlaClock.objects.filter(lead=lead)) == [first]


def test_a_deleted_policy_leaves_the_reference_empty(hot, ana):
    lead = LeadFactory(owner=ana)
    plan = sla_plan(lead, ana, now=T0, policies=[hot], calendars=[])
    hot.delete()
    clock = sla_clock_start(lead=lead, owner=ana, plan=plan)
    assert clock.policy == "Hot inbound" and clock.policy_ref is None


# --- tick: reminders ------------------------------------------------------------------------------


def test_the_tick_reminds_the_owner_once(hot, ana, django_capture_on_commit_callbacks):
    lead = LeadFactory(owner=ana, first_name="Jane", last_name="Doe", company="Acme")
    clock = start(lead, ana, hot)
    assert sla_clocks_tick(now=T0 + minutes(2)) == {"reminded": 0, "breached": 0, "rerouted": 0}
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_clocks_tick(now=T0 + minutes(3))["reminded"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_clocks_tick(now=T0 + minutes(4))["reminded"] == 0
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ana@acme-sales.test"]
    assert "Jane Doe (Acme)" in message.subject and "2026-11-24 14:05 UTC" in message.subject
    assert "15:05 Europe/Madrid" in message.body and "2 minutes from now" in message.body
    clock.refresh_from_db()
    assert clock.reminded_at == T0 + minutes(3) and clock.status == "running"
    latest = clock.history.latest()
    assert latest.history_user.username == "system:sla-clocks" and latest.history_change_reason == "SLA reminder sent"


def test_a_rep_with_a_login_gets_the_reminder_where_they_chose(
    hot, ana, django_capture_on_commit_callbacks, monkeypatch
):
    from exceptions import channels
    from exceptions.models import Notification
    from exceptions.notification_settings import notification_channel_add, notification_settings_save

    user = UserFactory(username="ana.login", email="ana.login@example.com")
    ana.user = user
    ana.save(update_fields=["user"])
    slack = notification_channel_add(
        person=user,
        kind="slack",
        name="#ana",
        address="https://hooks.slack.com/services/T0/B0/XXXXXXXXXXXXXXXXXXXXXXXX",
        actor=user,
    )
    notification_settings_save(
        person=user,
        time_zone="",
        digest_hour=7,
        quiet_from=dt.time(0),
        quiet_until=dt.time(23, 59),
        routes={"sla_reminder": [slack.pk]},
        actor=user,
    )
    carried = []
    monkeypatch.setitem(
        channels.TRANSPORTS, "slack", lambda target, subject, text, html: carried.append((subject, text))
    )
    lead = LeadFactory(owner=ana, first_name="Jane", last_name="Doe", company="Acme")
    start(lead, ana, hot)
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_clocks_tick(now=T0 + minutes(3))["reminded"] == 1
    assert mail.outbox == []  # not the rep's CRM e-mail: their Slack, even in their quiet hours
    assert len(carried) == 1 and "Jane Doe (Acme)" in carried[0][0] and "2 minutes from now" in carried[0][1]
    assert Notification.objects.get(recipient=user).channels == "Slack: #ana"


def test_no_reminder_once_the_clock_is_due_it_breaches_instead(hot, ana, django_capture_on_commit_callbacks):
    start(LeadFactory(owner=ana), ana, hot)
    with django_capture_on_commit_callbacks(execute=True):
        assert sla_clocks_tick(now=T0 + minutes(10)) == {"reminded": 0, "breached": 1, "rerouted": 0}
    assert mail.outbox == []


# --- tick: breaches -------------------------------------------------------------------------------


def test_a_breach_opens_exactly_one_item_for_the_managers_user(hot, ana):
    lead = LeadFactory(owner=ana, first_name="Jane", last_name="Doe", company="Acme")
    clock = start(lead, ana, hot)
    assert sla_clocks_tick(now=T0 + minutes(17))["breached"] == 1
    assert sla_clocks_tick(now=T0 + minutes(18))["breached"] == 0
    clock.refresh_from_db()
    assert clock.status == "breached" and clock.breached_at == T0 + minutes(17)
    item = ExceptionItem.objects.get()
    assert item.kind == "sla_breach" and item.severity == "high" and item.owner.username == "bea"
    assert item.dedupe_key == f"sla_breach:lead:{lead.pk}:clock:{clock.pk}"
    assert (item.object_type, item.object_id, item.external_id) == ("lead", lead.pk, lead.external_id)
    assert item.due_at == T0 + minutes(17) + dt.timedelta(hours=1)
    assert item.queue.is_default
    for words in (
        "Hot inbound",
        "Jane Doe (Acme)",
        "5 minutes (24/7)",
        "Ana Ruiz",
        "2026-11-24 14:05 UTC",
        "12 minutes overdue",
    ):
        assert words in item.reason
    assert item.expected_action == "Make sure Ana Ruiz calls the lead now, or reassign it in the CRM."
    assert clock.history.latest().history_user.username == "system:sla-clocks"


def test_without_a_manager_login_the_team_manager_then_the_queue_manager_gets_the_item(hot, settings):
    boss = RepFactory(name="Team Boss", user=UserFactory(username="boss"))
    team = TeamFactory(manager=boss)
    with_team = RepFactory(team=team, manager=RepFactory(user=None))
    alone = RepFactory(team=TeamFactory())
    queue = Queue.objects.create(name="SLA", manager=UserFactory(username="sla.lead"))
    settings.ROUTING_SLA_QUEUE = "SLA"
    start(LeadFactory(owner=with_team), with_team, hot)
    start(LeadFactory(owner=alone), alone, hot)
    start(LeadFactory(), None, hot)
    assert sla_clocks_tick(now=T0 + minutes(6))["breached"] == 3
    owners = sorted(item.owner.username for item in ExceptionItem.objects.all())
    assert owners == ["boss", "sla.lead", "sla.lead"]
    assert set(ExceptionItem.objects.values_list("queue", flat=True)) == {queue.pk}
    unowned = ExceptionItem.objects.get(reason__contains="nobody (the lead has no owner)")
    assert unowned.expected_action.startswith("Assign the lead to a rep")


def test_reroute_is_called_only_when_the_policy_says_so(hot, ana, reroutes):
    reroute = SlaPolicy.objects.create(name="Reroute", priority=20, target_minutes=5, reroute_on_breach=True)
    kept = LeadFactory(owner=ana)
    moved = LeadFactory(owner=ana)
    start(kept, ana, hot)
    start(moved, ana, reroute)
    assert sla_clocks_tick(now=T0 + minutes(6)) == {"reminded": 0, "breached": 2, "rerouted": 1}
    assert len(reroutes) == 1
    call = reroutes[0]
    assert call["lead_id"] == moved.pk and call["exclude_rep_ids"] == [ana.pk] and call["now"] == T0 + minutes(6)
    assert "SLA breached" in call["reason"] and "Ana Ruiz" in call["reason"]
    assert call["trigger_key"] == f"sla_breach:clock:{SlaClock.objects.get(lead=moved).pk}"
    item = ExceptionItem.objects.get(object_id=moved.pk)
    assert "routing it again" in item.expected_action


def test_a_failing_reroute_keeps_the_breach_and_its_item(ana, monkeypatch, reroutes):
    def fail(**kwargs):
        raise RuntimeError("no rep available")

    monkeypatch.setattr(sys.modules["routing.services"], "lead_reroute", fail)
    policy = SlaPolicy.objects.create(name="Reroute", target_minutes=5, reroute_on_breach=True)
    start(LeadFactory(owner=ana), ana, policy)
    assert sla_clocks_tick(now=T0 + minutes(6)) == {"reminded": 0, "breached": 1, "rerouted": 0}
    assert ExceptionItem.objects.count() == 1


def test_one_failing_clock_does_not_block_the_others(hot, ana, monkeypatch):
    first = start(LeadFactory(owner=ana), ana, hot)
    second = start(LeadFactory(owner=ana), ana, hot, now=T0 + minutes(1))
    import exceptions.services

    real = exceptions.services.exception_item_open

    def flaky(**kwargs):
        if kwargs["object_id"] == first.lead_id:
            raise RuntimeError("boom")
        return real(**kwargs)

    monkeypatch.setattr(exceptions.services, "exception_item_open", flaky)
    assert sla_clocks_tick(now=T0 + minutes(10))["breached"] == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == "running"  # rolled back: the next tick tries again
    assert second.status == "breached"
    monkeypatch.undo()
    assert sla_clocks_tick(now=T0 + minutes(11))["breached"] == 1
    assert ExceptionItem.objects.count() == 2


# --- first touch ----------------------------------------------------------------------------------


def test_a_touch_by_the_owner_stops_the_clock_as_met(hot, ana):
    lead = LeadFactory(owner=ana)
    clock = start(lead, ana, hot)
    call = ActivityFactory(lead=lead, rep=ana, occurred_at=T0 + minutes(3))
    assert sla_clocks_touch(activity_ids=[call.pk], now=T0 + minutes(4)) == 1
    clock.refresh_from_db()
    assert clock.status == "met" and clock.first_touch_at == T0 + minutes(3) and clock.stopped_at == T0 + minutes(4)
    assert sla_clocks_tick(now=T0 + minutes(10))["breached"] == 0
    assert sla_clocks_touch(activity_ids=[call.pk], now=T0 + minutes(5)) == 0  # idempotent


def test_only_the_first_touch_counts(hot, ana):
    lead = LeadFactory(owner=ana)
    clock = start(lead, ana, hot)
    early = ActivityFactory(lead=lead, rep=ana, occurred_at=T0 + minutes(1))
    late = ActivityFactory(lead=lead, rep=ana, occurred_at=T0 + minutes(2))
    assert sla_clocks_touch(activity_ids=[late.pk, early.pk], now=T0 + minutes(3)) == 1
    assert sla_clocks_touch(activity_ids=[ActivityFactory(lead=lead, rep=ana, occurred_at=T0).pk]) == 0
    clock.refresh_from_db()
    assert clock.first_touch_at == T0 + minutes(1)


def test_a_touch_by_another_rep_or_before_the_start_does_not_stop_the_clock(hot, ana):
    lead = LeadFactory(owner=ana)
    clock = start(lead, ana, hot)
    other = ActivityFactory(lead=lead, rep=RepFactory(), occurred_at=T0 + minutes(1))
    before = ActivityFactory(lead=lead, rep=ana, occurred_at=T0 - minutes(30))
    unrelated = ActivityFactory(lead=None, rep=ana, occurred_at=T0 + minutes(1))
    assert sla_clocks_touch(activity_ids=[other.pk, before.pk, unrelated.pk], now=T0 + minutes(2)) == 0
    clock.refresh_from_db()
    assert clock.status == "running" and clock.first_touch_at is None


def test_a_touch_without_a_rep_counts(hot, ana):
    lead = LeadFactory(owner=ana)
    clock = start(lead, ana, hot)
    assert sla_clocks_touch(activity_ids=[ActivityFactory(lead=lead, rep=None, occurred_at=T0 + minutes(2)).pk]) == 1
    clock.refresh_from_db()
    assert clock.status == "met"


def test_a_touch_after_a_breach_only_records_the_first_touch(hot, ana):
    lead = LeadFactory(owner=ana)
    clock = start(lead, ana, hot)
    sla_clocks_tick(now=T0 + minutes(6))
    touch = ActivityFactory(lead=lead, rep=ana, occurred_at=T0 + minutes(9))
    assert sla_clocks_touch(activity_ids=[touch.pk], now=T0 + minutes(10)) == 1
    clock.refresh_from_db()
    assert clock.status == "breached" and clock.first_touch_at == T0 + minutes(9)
    assert clock.breached_at == T0 + minutes(6) and clock.stopped_at is None
    assert sla_clocks_touch(activity_ids=[touch.pk], now=T0 + minutes(11)) == 0


def test_a_late_touch_the_tick_has_not_seen_yet_counts_as_a_breach_without_an_item(hot, ana):
    lead = LeadFactory(owner=ana)
    clock = start(lead, ana, hot)
    touch = ActivityFactory(lead=lead, rep=ana, occurred_at=T0 + minutes(7))
    assert sla_clocks_touch(activity_ids=[touch.pk], now=T0 + minutes(8)) == 1
    clock.refresh_from_db()
    assert clock.status == "breached" and clock.first_touch_at == T0 + minutes(7)
    assert sla_clocks_tick(now=T0 + minutes(9))["breached"] == 0
    assert not ExceptionItem.objects.exists()


def test_a_touch_synced_after_the_due_time_but_made_in_time_is_met(hot, ana):
    lead = LeadFactory(owner=ana)
    clock = start(lead, ana, hot)
    touch = ActivityFactory(lead=lead, rep=ana, occurred_at=T0 + minutes(4))
    assert sla_clocks_touch(activity_ids=[touch.pk], now=T0 + minutes(6)) == 1
    clock.refresh_from_db()
    assert clock.status == "met"


# --- cancel and follow the owner ------------------------------------------------------------------


def test_cancel_stops_running_clocks_of_closed_leads(hot, ana):
    converted, other = LeadFactory(owner=ana), LeadFactory(owner=ana)
    clock = start(converted, ana, hot)
    start(other, ana, hot)
    assert sla_clocks_cancel(lead_ids=[converted.pk], reason="lead converted", now=T0 + minutes(1)) == 1
    assert sla_clocks_cancel(lead_ids=[converted.pk], reason="lead converted") == 0
    clock.refresh_from_db()
    assert clock.status == "cancelled" and clock.stopped_at == T0 + minutes(1)
    assert clock.history.latest().history_change_reason == "SLA clock cancelled: lead converted"
    assert SlaClock.objects.get(lead=other).status == "running"


def test_a_manual_reassignment_moves_the_clock_keeping_its_target(hot, ana):
    lead = LeadFactory(owner=ana)
    clock = start(lead, ana, hot)
    sla_clocks_tick(now=T0 + minutes(3))  # Ana was reminded
    ben = RepFactory(name="Ben")
    moved = sla_clocks_follow_owner(lead_id=lead.pk, owner_id=ben.pk)
    assert moved.pk == clock.pk
    clock.refresh_from_db()
    assert clock.owner == ben and clock.due_at == T0 + minutes(5) and clock.reminded_at is None
    assert sla_clocks_follow_owner(lead_id=lead.pk, owner_id=ben.pk) is None
    assert sla_clocks_tick(now=T0 + minutes(4))["reminded"] == 1  # now Ben is reminded
    touch = ActivityFactory(lead=lead, rep=ben, occurred_at=T0 + minutes(4))
    assert sla_clocks_touch(activity_ids=[touch.pk]) == 1


# --- selectors ------------------------------------------------------------------------------------


def test_clock_for_lead_is_the_running_one_else_the_latest(hot, ana):
    lead = LeadFactory(owner=ana)
    assert sla_clock_for_lead(lead) is None
    old = start(lead, ana, hot)
    sla_clocks_cancel(lead_ids=[lead.pk], reason="test")
    assert sla_clock_for_lead(lead) == old
    running = start(lead, ana, hot, now=T0 + minutes(30))
    assert sla_clock_for_lead(lead) == running


def test_metrics_per_team_rule_and_rep(hot, django_assert_max_num_queries):
    north, south = TeamFactory(name="North"), TeamFactory(name="South")
    ann, bob = RepFactory(name="Ann", team=north), RepFactory(name="Bob", team=south)

    def clock(owner, rule, status, touch_minutes=None, started=T0):
        lead = LeadFactory(owner=owner)
        decision = RoutingDecision.objects.create(
            lead=lead, mode="live", outcome="assigned", rule_name=rule, owner=owner, decided_at=started
        )
        made = start(lead, owner, hot, now=started, decision=decision)
        touched = started + minutes(touch_minutes) if touch_minutes is not None else None
        SlaClock.objects.filter(pk=made.pk).update(status=status, first_touch_at=touched)

    clock(ann, "Inbound US", "met", 2)
    clock(ann, "Inbound US", "met", 4)
    clock(ann, "Named accounts", "breached", 30)
    clock(ann, "Inbound US", "running")
    clock(bob, "Named accounts", "breached")
    clock(bob, "Named accounts", "cancelled")
    clock(bob, "Inbound US", "met", 3, started=T0 - dt.timedelta(days=30))  # before the window
    since = T0 - dt.timedelta(days=1)

    with django_assert_max_num_queries(2):
        teams = {row["label"]: row for row in sla_metrics(group_by="team", since=since)}
    assert teams["North"] == {
        "key": north.pk,
        "label": "North",
        "clocks": 4,
        "met": 2,
        "breached": 1,
        "running": 1,
        "cancelled": 0,
        "met_rate": round(2 / 3, 4),
        "median_first_touch_minutes": 4.0,
        "avg_first_touch_minutes": 12.0,
    }
    assert teams["South"]["met_rate"] == 0.0 and teams["South"]["median_first_touch_minutes"] is None
    assert [row["label"] for row in sla_metrics(group_by="team", since=since)] == ["North", "South"]

    rules = {row["label"]: row for row in sla_metrics(group_by="rule", since=since)}
    assert (rules["Inbound US"]["met"], rules["Inbound US"]["met_rate"]) == (2, 1.0)
    assert rules["Inbound US"]["median_first_touch_minutes"] == 3.0
    assert (rules["Named accounts"]["breached"], rules["Named accounts"]["cancelled"]) == (2, 1)

    reps = {row["label"]: row for row in sla_metrics(group_by="rep", since=since)}
    assert reps["Ann"]["key"] == ann.pk and reps["Ann"]["clocks"] == 4
    assert reps["Bob"]["met_rate"] == 0.0
    everything = sla_metrics(group_by="rep", since=since - dt.timedelta(days=60), until=T0 + minutes(1))
    assert {row["label"]: row["clocks"] for row in everything} == {"Ann": 4, "Bob": 3}
    with pytest.raises(ValueError, match="group_by"):
        sla_metrics(group_by="region", since=since)


def test_metrics_count_business_minutes_for_business_hours_clocks(db):
    from routing.models import BusinessCalendar

    team = TeamFactory(name="EMEA")
    calendar = BusinessCalendar.objects.create(name="EMEA", time_zone="UTC")
    calendar.teams.add(team)
    rep = RepFactory(team=team)
    policy = SlaPolicy.objects.create(name="Business", target_minutes=60, use_business_hours=True)
    friday = dt.datetime(2026, 11, 27, 16, 30, tzinfo=UTC)
    lead = LeadFactory(owner=rep)
    plan = sla_plan(lead, rep, now=friday, policies=[policy], calendars=[calendar])
    clock = sla_clock_start(lead=lead, owner=rep, plan=plan)
    assert clock.business_hours and clock.due_at == dt.datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
    ActivityFactory(lead=lead, rep=rep, occurred_at=dt.datetime(2026, 11, 30, 9, 10, tzinfo=UTC))
    sla_clocks_touch(activity_ids=list(lead.activities.values_list("pk", flat=True)))
    (row,) = sla_metrics(group_by="team", since=friday - minutes(1))
    assert row["met"] == 1 and row["median_first_touch_minutes"] == 40.0  # 30 on Friday + 10 on Monday


# --- the job --------------------------------------------------------------------------------------


def test_the_tick_job_runs_in_a_worker(hot, ana, run_worker, django_capture_on_commit_callbacks):
    clock = start(LeadFactory(owner=ana), ana, hot, now=timezone.now() - minutes(10))
    with django_capture_on_commit_callbacks(execute=True):  # queues enqueue on commit
        django_rq.get_queue("default").enqueue(jobs.tick_sla_clocks)
    assert run_worker("default") == 0
    clock.refresh_from_db()
    assert clock.status == "breached"
    assert ExceptionItem.objects.filter(kind="sla_breach").count() == 1


def test_cron_registers_the_tick_every_minute(redis_conn):
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=redis_conn)
    scheduler.load_config_from_file("revops.cron")
    job = next(job for job in scheduler.get_jobs() if job.name == "tick_sla_clocks")
    assert (job.func, job.interval, job.queue_name) == (jobs.tick_sla_clocks, 60, "default")
