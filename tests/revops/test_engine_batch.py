"""Claiming a batch's runs (revops.engine.batch.runs_claim): new rows come back from the insert; runs an
earlier delivery left unfinished are claimed again, finished ones are left out."""

from types import SimpleNamespace

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from revops.engine.batch import runs_claim
from revops.models import AutomationRun, Lead, OutboxEvent

from .test_engine import make, rec, sync

pytestmark = pytest.mark.django_db


def _setup(count=4):
    automation = make("Hot lead follow-up")
    sync("leads", *(rec(f"C{i}", score=10, status="new") for i in range(count)))
    leads = {lead.pk: lead for lead in Lead.objects.all()}
    items = [(event, leads[event.object_id]) for event in OutboxEvent.objects.order_by("pk")]
    rule = SimpleNamespace(automation=automation, version=automation.versions.get())
    return rule, items


def test_new_runs_are_claimed_from_the_insert_without_reading_them_back():
    rule, items = _setup()
    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
        claimed, finished = runs_claim(rule, items)
    assert finished == {}
    assert [c.event.pk for c in claimed] == [event.pk for event, _lead in items]
    for c in claimed:
        stored = AutomationRun.objects.get(pk=c.run.pk)
        assert (stored.trigger_key, stored.event_id, stored.object_id) == (
            f"event:{c.event.pk}",
            c.event.pk,
            c.record.pk,
        )
        assert stored.version_id == rule.version.pk and not c.run._state.adding
    if connection.features.can_return_rows_from_bulk_insert:
        assert len(ctx.captured_queries) == 1, [q["sql"][:80] for q in ctx.captured_queries]


def test_unfinished_runs_are_claimed_again_and_finished_ones_left_out():
    rule, items = _setup(count=4)
    with transaction.atomic():
        first, _ = runs_claim(rule, items[:3])
    done, errored, unfinished = first
    AutomationRun.objects.filter(pk=done.run.pk).update(outcome="not_fired", finished_at=timezone.now())
    AutomationRun.objects.filter(pk=errored.run.pk).update(outcome="error", attempts=4)  # gave up
    with transaction.atomic():
        claimed, finished = runs_claim(rule, items)
    assert finished == {done.event.pk: "not_fired", errored.event.pk: "error"}
    assert [c.event.pk for c in claimed] == [unfinished.event.pk, items[3][0].pk]
    assert claimed[0].run.pk == unfinished.run.pk  # the same row, not a second run
    assert AutomationRun.objects.count() == 4


@pytest.mark.parametrize("count", [1, 2])
def test_a_chunk_whose_runs_all_exist_is_claimed_again(count):
    """A chunk cut short leaves runs behind; the pipeline hands them back, often one at a time (a
    statement of one row that already exists returns no row)."""
    rule, items = _setup(count=count)
    with transaction.atomic():
        first, _ = runs_claim(rule, items)
    with transaction.atomic():
        again, finished = runs_claim(rule, items)
    assert finished == {}
    assert [c.run.pk for c in again] == [c.run.pk for c in first]
    assert AutomationRun.objects.count() == count


def test_nothing_to_claim():
    rule, _items = _setup(count=1)
    with transaction.atomic():
        assert runs_claim(rule, []) == ([], {})


def test_a_database_that_cannot_return_inserted_rows_reads_them_back(monkeypatch):
    rule, items = _setup(count=3)
    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)
    with transaction.atomic():
        first, _ = runs_claim(rule, items[:2])
        claimed, finished = runs_claim(rule, items)
    assert finished == {}
    assert [c.event.pk for c in claimed] == [event.pk for event, _lead in items]
    assert [c.run.pk for c in claimed[:2]] == [c.run.pk for c in first]
    assert AutomationRun.objects.count() == 3
