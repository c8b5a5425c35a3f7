"""Kill switches: pausing one automation or all of them holds the events that arrive; resume processes or skips them."""

import django_rq
import pytest
from django.core.exceptions import ValidationError

from revops.engine.held import held_events_process
from revops.engine.pause import (
    automation_pause,
    automation_resume,
    automations_pause_all,
    automations_resume_all,
    pause_all_state,
)
from revops.engine.schedule import run_scheduled_automations
from revops.models import Automation, AutomationRun, AutomationSwitch, HeldEvent, OutboxEvent, Task
from tests.factories import RepFactory, UserFactory

from .test_engine import make, process, rec, sync


def ana():
    return UserFactory(username="ana", first_name="Ana", last_name="Ortiz", is_staff=True)


def held_rows(automation):
    return list(HeldEvent.objects.filter(automation=automation).order_by("pk"))


@pytest.mark.django_db(transaction=True)
def test_a_paused_automation_holds_events_and_resume_processes_them_in_a_real_worker(redis_conn, run_worker):
    RepFactory(external_id="R-1", name="Jordan Lee")
    automation = make()
    user = ana()
    assert automation_pause(automation=automation, actor=user, reason="Tasks go to the wrong people") is True
    assert automation_pause(automation=automation, actor=user, reason="again") is False  # idempotent

    sync("leads", rec("L1", score=90, owner="R-1"), rec("L2", score=95, owner="R-1"))
    assert run_worker("hot") == 0
    assert not AutomationRun.objects.exists() and not Task.objects.exists()
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {"processed"}
    rows = held_rows(automation)
    assert [row.external_id for row in rows] == ["L1", "L2"]
    assert {row.decision for row in rows} == {"pending"} and {row.held_because for row in rows} == {"automation"}

    automation.refresh_from_db()
    assert automation.mode == "live" and automation.paused_by == user  # the mode is kept for the resume
    history = automation.history.order_by("-history_id").first()
    assert history.history_user == user and history.history_change_reason == "paused: Tasks go to the wrong people"

    result = automation_resume(automation=automation, actor=user, reason="Fixed the assignee", held="process")
    assert result.changed and result.decided == 2
    assert "2 held events will be processed now" in result.message("'Hot lead follow-up'")
    assert django_rq.get_queue("hot").count == 1  # enqueued on commit, on the hot lane (few events)
    assert run_worker("hot") == 0

    assert Task.objects.count() == 2
    for row in held_rows(automation):
        assert row.decision == "process" and row.decided_by == user and row.decided_at is not None
        assert row.processed_at is not None and row.run is not None and row.run.outcome == "fired"
        assert row.run.trigger_key == f"event:{row.event_id}"  # the normal path, keyed by the event
    # Processing again changes nothing (the rows are done and runs are unique per event).
    assert held_events_process(automation_id=automation.pk) == {"processed": 0, "not_run": 0, "retry": 0}
    assert Task.objects.count() == 2
    assert automation_resume(automation=automation, actor=user, reason="again", held="process").changed is False


@pytest.mark.django_db
def test_resume_can_skip_the_held_events_each_decision_recorded(django_capture_on_commit_callbacks):
    automation = make()
    user = ana()
    automation_pause(automation=automation, actor=user, reason="Bad rule")
    sync("leads", rec("L1", score=90))
    process()
    assert len(held_rows(automation)) == 1
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = automation_resume(automation=automation, actor=user, reason="Not needed", held="skip")
    assert result.decided == 1 and not callbacks  # nothing to enqueue
    row = held_rows(automation)[0]
    assert row.decision == "skip" and row.decided_by == user and row.decision_reason == "Not needed"
    assert row.processed_at is None and not AutomationRun.objects.exists() and not Task.objects.exists()

    # The next event runs normally.
    sync("leads", rec("L2", score=90))
    process()
    assert AutomationRun.objects.filter(outcome="fired").count() == 1


@pytest.mark.django_db
def test_pause_and_resume_need_a_reason_and_a_decision():
    automation = make()
    with pytest.raises(ValidationError, match="reason is required"):
        automation_pause(automation=automation, actor=None, reason="  ")
    automation_pause(automation=automation, actor=None, reason="why not")
    with pytest.raises(ValidationError, match="process"):
        automation_resume(automation=automation, actor=None, reason="ok", held="maybe")
    with pytest.raises(ValidationError, match="reason is required"):
        automation_resume(automation=automation, actor=None, reason="", held="skip")
    assert Automation.objects.get(pk=automation.pk).paused_at is not None


@pytest.mark.django_db
def test_pause_all_holds_every_automation_and_resume_all_releases_those_not_paused_on_their_own(
    django_capture_on_commit_callbacks,
):
    user = ana()
    first = make(name="First")
    second = make(name="Second", conditions={"all": []})
    assert automations_pause_all(actor=user, reason="CRM sync is sending junk") is True
    assert automations_pause_all(actor=user, reason="again") is False
    assert pause_all_state().sentence().startswith("All automations are paused by Ana Ortiz since ")
    automation_pause(automation=second, actor=user, reason="Second is broken anyway")

    sync("leads", rec("L1", score=90))
    process()
    assert not AutomationRun.objects.exists()
    assert [r.held_because for r in held_rows(first)] == ["all"]
    assert [r.held_because for r in held_rows(second)] == ["automation"]

    # Resuming one automation while all are paused keeps its events held.
    result = automation_resume(automation=second, actor=user, reason="fixed", held="process")
    assert result.changed and result.still_paused is not None and result.decided == 0
    automation_pause(automation=second, actor=user, reason="broken again")

    with django_capture_on_commit_callbacks(execute=True):
        result = automations_resume_all(actor=user, reason="Sync fixed", held="process")
    assert result.decided == 1
    assert [r.decision for r in held_rows(first)] == ["process"]
    assert [r.decision for r in held_rows(second)] == ["pending"]  # still paused on its own
    held_events_process(automation_id=first.pk)
    assert AutomationRun.objects.filter(automation=first, outcome="fired").count() == 1
    assert not AutomationRun.objects.filter(automation=second).exists()
    switch = AutomationSwitch.objects.get()
    assert switch.paused_at is None
    reasons = list(switch.history.order_by("history_id").values_list("history_change_reason", flat=True))
    assert reasons[-2:] == [
        "all automations paused: CRM sync is sending junk",
        "all automations resumed (process held events): Sync fixed",
    ]


@pytest.mark.django_db
def test_a_held_event_of_an_automation_no_longer_running_is_recorded_as_not_run():
    automation = make()
    automation_pause(automation=automation, actor=None, reason="stop")
    sync("leads", rec("L1", score=90))
    process()
    Automation.objects.filter(pk=automation.pk).update(mode="retired")
    automation_resume(automation=automation, actor=None, reason="retired it", held="process")
    assert held_events_process(automation_id=automation.pk)["not_run"] == 1
    row = held_rows(automation)[0]
    assert row.processed_at is not None and "Not run" in row.note and row.run is None


@pytest.mark.django_db
def test_paused_scheduled_automations_skip_their_pass():
    automation = make(name="Nightly", trigger="schedule", schedule_minutes=60, conditions={"all": []})
    sync("leads", rec("L1", score=90))
    automations_pause_all(actor=None, reason="maintenance")
    assert run_scheduled_automations() == {}
    automations_resume_all(actor=None, reason="done", held="skip")
    assert run_scheduled_automations() == {automation.name: 1}


@pytest.mark.django_db(transaction=True)
def test_many_held_events_are_processed_on_the_low_lane(redis_conn, run_worker, monkeypatch):
    from revops.engine import pause

    monkeypatch.setattr(pause, "HELD_HOT_LIMIT", 2)
    RepFactory(external_id="R-1")
    automation = make()
    automation_pause(automation=automation, actor=None, reason="bulk test")
    sync("leads", *(rec(f"L{i}", score=90, owner="R-1") for i in range(3)))
    assert run_worker("hot") == 0
    assert len(held_rows(automation)) == 3
    automation_resume(automation=automation, actor=None, reason="go", held="process")
    assert django_rq.get_queue("hot").count == 0 and django_rq.get_queue("low").count == 1
    assert run_worker("low") == 0
    assert Task.objects.count() == 3
    assert all(row.run_id for row in held_rows(automation))


@pytest.mark.django_db(transaction=True)
def test_held_events_whose_job_died_are_enqueued_again_by_the_sweep(redis_conn, run_worker):
    import datetime as dt

    from django.utils import timezone

    from revops.engine.pause import held_events_sweep

    RepFactory(external_id="R-1")
    automation = make()
    automation_pause(automation=automation, actor=None, reason="stop")
    sync("leads", rec("L1", score=90, owner="R-1"))
    assert run_worker("hot") == 0
    automation_resume(automation=automation, actor=None, reason="go", held="process")
    django_rq.get_queue("hot").empty()  # the worker that took the job died: the job is gone
    assert held_events_sweep() == []  # too recent: maybe still running
    later = timezone.now() + dt.timedelta(minutes=11)
    assert held_events_sweep(now=later) == [automation.pk]
    assert run_worker("hot") == 0
    assert Task.objects.count() == 1 and held_rows(automation)[0].processed_at is not None
    assert held_events_sweep(now=later) == []
