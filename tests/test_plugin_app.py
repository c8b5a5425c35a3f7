"""A new workflow is one app: ``tests.plugin_app`` adds an automation kind, its own action, its own
exception item kind, a Why-page panel and a schedule without touching any other app, and runs end to
end — CRM sync → outbox → a real RQ worker → its action and its item → the Why page → the cron table."""

import django_rq
import pytest
from django.urls import reverse
from rq.cron import CronScheduler

from exceptions.models import ExceptionItem, Queue
from exceptions.registry import item_kind_label
from revops.engine.registry import action_label
from revops.engine.revert import run_revert
from revops.engine.services import automation_create
from revops.models import AppliedAction, AutomationRun, Lead
from revops.services import dictionary_field_create
from revops.sync import sync_batch_apply
from revops.tokens import api_token_create
from tests.factories import UserFactory
from tests.plugin_app import jobs as plugin_jobs


def callback_automation():
    owner = UserFactory(username="callback.owner", email="callback.owner@example.com")
    Queue.objects.get_or_create(name="Callbacks")  # the exception path must name a queue
    return automation_create(
        actor=owner,
        name="Callback requests",
        purpose="Leads that ask for a callback are stamped and raised to the team.",
        kind="callback_request",
        object_type="lead",
        trigger="updated",
        conditions={"all": []},
        rule_owner=owner,
        failure_owner=owner,
        exception_queue="Callbacks",
        mode="live",
    )


@pytest.mark.django_db(transaction=True)
def test_the_plugin_runs_end_to_end_through_a_real_worker(redis_conn, run_worker, admin_client):
    callback_automation()
    token, _raw = api_token_create(name="crm", scopes=["sync:write"])
    records = [
        {"external_id": "CB-1", "source_updated_at": "2026-11-01T10:00:00Z", "email": "a@example.com"},
        {"external_id": "CB-2", "source_updated_at": "2026-11-01T10:00:00Z", "email": "b@example.com"},
    ]
    records[0]["callback_requested"] = True
    dictionary_field_create(
        actor=None,
        object_type="lead",
        key="callback_requested",
        label="Callback requested",
        field_type="boolean",
        definition="The lead asked to be called back.",
        owning_team="Marketing",
    )
    outcome = sync_batch_apply(object_name="leads", records=records, actor=token.user, token=token)
    assert [r["status"] for r in outcome.results] == ["created", "created"], outcome.results
    assert django_rq.get_queue("hot").count == 1

    assert run_worker("hot") == 0
    asked, other = Lead.objects.get(external_id="CB-1"), Lead.objects.get(external_id="CB-2")
    assert asked.attributes["callback_stamp"] == "callback requested"
    assert "callback_stamp" not in (other.attributes or {})
    run = AutomationRun.objects.get(object_id=asked.pk, automation__kind="callback_request")
    assert run.outcome == "fired"
    assert [a.action for a in run.applied.order_by("index")] == ["stamp_callback", "open_exception"]
    assert action_label("stamp_callback") == "Stamp the callback request"
    item = ExceptionItem.objects.get(kind="callback_requested")
    assert item.get_kind_display() == item_kind_label("callback_requested") == "Callback requested"
    assert item.object_id == asked.pk and item.run == run

    page = admin_client.get(reverse("admin:revops_lead_why", args=[asked.pk])).content.decode()
    assert "rv-panel-callback" in page and "Stamp the callback request" in page and "Callback requested" in page
    assert (
        "rv-panel-callback" not in admin_client.get(reverse("admin:revops_lead_why", args=[other.pk])).content.decode()
    )

    # Its action reverts through the handler it registered.
    revert = run_revert(run=run, actor=None, reason="the callback was a test")
    assert {line["index"]: line["outcome"] for line in revert.lines}[0] == "revert"
    asked.refresh_from_db()
    assert "callback_stamp" not in asked.attributes
    assert AppliedAction.objects.get(run=run, index=0).status == "reverted"


@pytest.mark.django_db(transaction=True)
def test_the_plugin_schedule_is_in_the_cron_table_and_runs_in_a_worker(redis_conn, run_worker):
    scheduler = CronScheduler(connection=redis_conn)
    scheduler.load_config_from_file("revops.cron")
    job = next(job for job in scheduler.get_jobs() if job.name == "plugin_count_callbacks")
    assert (job.func, job.interval, job.queue_name) == (plugin_jobs.count_callbacks, 600, "low")
    queued = django_rq.get_queue("low").enqueue(job.func)
    assert run_worker("low") == 0
    queued.refresh()
    assert queued.return_value() == 0
