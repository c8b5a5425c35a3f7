"""The batch form of ``open_exception`` (``ActionExecutor.execute_many``), which the bulk routing driver
uses: the same items, history, results and notices as one action at a time, and the one-by-one path
wherever an item may meet another one (an open item, a key or a topic met earlier, a race)."""

import datetime as dt
import itertools
import threading

import pytest
from django.db import connection, transaction

from exceptions.models import ExceptionItem
from exceptions.services import exception_item_open
from revops.audit import audited
from revops.engine import generic_actions
from revops.engine.actions import ActionExecutor
from revops.engine.types import Action
from revops.models import AppliedAction, AutomationRun
from tests.factories import LeadFactory
from tests.revops.test_engine_topics import make

TRIGGERS = itertools.count(1)
VARYING = {"id", "dedupe_key", "object_id", "external_id", "run", "first_seen_at", "last_seen_at", "due_at"}


def executor_for(automation, lead) -> ActionExecutor:
    version = automation.versions.order_by("-number").first()
    run = AutomationRun.objects.create(
        automation=automation,
        version=version,
        trigger_key=f"batch-test:{next(TRIGGERS)}",
        mode="live",
        object_type="lead",
        object_id=lead.pk,
        external_id=lead.external_id or "",
        outcome="fired",
        summary="Conditions met.",
    )
    return ActionExecutor(run=run, automation=automation, version=version, record=lead, object_type="lead", mode="live")


def stored(item) -> dict:
    return {f.attname: getattr(item, f.attname) for f in ExceptionItem._meta.concrete_fields if f.name not in VARYING}


def history(item) -> list[tuple]:
    rows = ExceptionItem.history.filter(id=item.pk).order_by("history_id")
    return [(h.history_type, h.history_user_id, h.history_change_reason, h.run_id) for h in rows]


@pytest.mark.django_db
def test_an_item_opened_in_a_batch_is_the_item_opened_alone(django_capture_on_commit_callbacks):
    automation = make("Batch items", kind="test_scripted", config={"actions": []})
    alone_lead, batch_lead = LeadFactory(), LeadFactory()
    params = {"kind": "missing_data", "severity": "critical", "title": "A long title " * 30}
    alone, batched = executor_for(automation, alone_lead), executor_for(automation, batch_lead)
    with django_capture_on_commit_callbacks() as alone_notices:
        with audited(actor=automation.identity, reason=alone.reason):
            one = alone.execute(0, Action("open_exception", {**params, "dedupe_key": f"k:{alone_lead.pk}"}))
    with django_capture_on_commit_callbacks() as batch_notices:
        (many,) = ActionExecutor.execute_many(
            [(batched, 0, Action("open_exception", {**params, "dedupe_key": f"k:{batch_lead.pk}"}))]
        )
    first = ExceptionItem.objects.get(dedupe_key=f"k:{alone_lead.pk}")
    second = ExceptionItem.objects.get(dedupe_key=f"k:{batch_lead.pk}")
    assert stored(first) == stored(second)
    assert len(first.title) == 200 and first.severity == "critical"
    assert abs((first.due_at - first.first_seen_at) - (second.due_at - second.first_seen_at)) < dt.timedelta(seconds=1)
    assert history(first) == [("+", automation.identity.pk, alone.reason, alone.run.pk)]
    assert history(second) == [("+", automation.identity.pk, batched.reason, batched.run.pk)]
    assert {k: v for k, v in one.after.items() if k not in ("item_id", "dedupe_key")} == {
        k: v for k, v in many.after.items() if k not in ("item_id", "dedupe_key")
    }
    assert many.after["created"] is True and many.status == one.status == "applied"
    assert AppliedAction.objects.filter(pk=many.pk, run=batched.run, index=0).exists()
    assert len(alone_notices) == len(batch_notices) == 1  # a critical item notifies its owner


@pytest.mark.django_db
def test_an_item_that_may_meet_an_earlier_one_waits_for_it_as_one_by_one():
    """A's topic item goes one by one (its record has an open item of the kind); B names A's key
    explicitly, so B must come after A, and refresh the item A opens, as one action at a time would."""
    first_auto = make("Raiser A", kind="test_scripted", config={"actions": []})
    second_auto = make("Raiser B", kind="test_scripted", config={"actions": []})
    lead = LeadFactory()
    exception_item_open(
        dedupe_key=f"missing_data:country:lead:{lead.pk}",
        kind="missing_data",
        title="Country missing",
        reason="no country",
        object_type="lead",
        object_id=lead.pk,
    )
    topic_key = f"missing_data:missing_data:lead:{lead.pk}"
    rows = ActionExecutor.execute_many(
        [
            (executor_for(first_auto, lead), 0, Action("open_exception", {"kind": "missing_data"})),
            (
                executor_for(second_auto, lead),
                0,
                Action("open_exception", {"kind": "missing_data", "dedupe_key": topic_key}),
            ),
        ]
    )
    assert [row.after["created"] for row in rows] == [True, False]
    item = ExceptionItem.objects.get(dedupe_key=topic_key)
    assert item.automation == first_auto and item.occurrences == 2


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_loses_a_race_for_a_key_is_applied_one_by_one(monkeypatch):
    automation = make("Racing items", kind="test_scripted", config={"actions": []})
    raced, quiet = LeadFactory(), LeadFactory()
    create = generic_actions.exception_items_create

    def after_another_opener(**kwargs):
        def opener():
            try:
                exception_item_open(dedupe_key=f"race:{raced.pk}", kind="missing_data", title="first", reason="first")
            finally:
                connection.close()

        thread = threading.Thread(target=opener)
        thread.start()
        thread.join()
        return create(**kwargs)

    monkeypatch.setattr(generic_actions, "exception_items_create", after_another_opener)
    with transaction.atomic():
        rows = ActionExecutor.execute_many(
            [
                (
                    executor_for(automation, lead),
                    0,
                    Action("open_exception", {"kind": "missing_data", "dedupe_key": f"race:{lead.pk}"}),
                )
                for lead in (raced, quiet)
            ]
        )
    assert [row.after["created"] for row in rows] == [False, True]
    assert ExceptionItem.objects.get(dedupe_key=f"race:{raced.pk}").occurrences == 2
    assert ExceptionItem.objects.count() == 2
    # Nothing of the rolled-back batch is left: each item's history is its own.
    assert set(ExceptionItem.history.values_list("id", flat=True)) == set(
        ExceptionItem.objects.values_list("pk", flat=True)
    )
    assert ExceptionItem.history.count() == 3
