"""The bulk item opener: new items and refreshed open ones, with history — on PostgreSQL (refreshes
written without loading the items) and through the ORM fallback SQLite takes."""

from __future__ import annotations

import datetime as dt

import pytest

from exceptions.bulk import ItemSpec, exception_items_open_many
from exceptions.models import ExceptionItem
from tests.exceptions.support import make_queue
from tests.factories import UserFactory
from tests.revops.test_bulk_writes import backend  # noqa: F401 (each test on PostgreSQL, then the ORM fallback)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("backend")]


def spec(n: int, queue, *, title: str = "", occurrences: int = 1) -> ItemSpec:
    return ItemSpec(
        dedupe_key=f"bulk:{n}",
        kind="missing_data",
        title=title or f"Deal {n} waits for context",
        reason=f"Deal {n} lacks its use case.",
        expected_action="Fill it in the CRM.",
        queue=queue,
        object_type="opportunity",
        object_id=n,
        external_id=f"O-{n}",
        occurrences=occurrences,
    )


def test_opens_new_items_then_refreshes_the_open_ones():
    queue = make_queue("Bulk")
    user = UserFactory(username="ops")
    first = dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)
    counts = exception_items_open_many(
        [spec(1, queue), spec(2, queue)], actor=user, change_reason="first batch", now=first
    )
    assert counts == {"created": 2, "refreshed": 0}
    first_seen = ExceptionItem.objects.get(dedupe_key="bulk:1").first_seen_at  # auto_now_add: the real clock
    resolved = ExceptionItem.objects.get(dedupe_key="bulk:2")
    resolved.status = ExceptionItem.Status.RESOLVED
    resolved.save()

    later = first + dt.timedelta(hours=2)
    counts = exception_items_open_many(
        [spec(1, queue, title="Deal 1 still waits", occurrences=3), spec(2, queue), spec(3, queue)],
        actor=user,
        change_reason="second batch",
        now=later,
    )
    assert counts == {"created": 2, "refreshed": 1}  # the resolved item does not count: a new one opens
    item = ExceptionItem.objects.get(dedupe_key="bulk:1")
    assert (item.title, item.occurrences, item.first_seen_at, item.last_seen_at) == (
        "Deal 1 still waits",
        4,
        first_seen,
        later,
    )
    assert (item.queue_id, item.external_id, item.status) == (queue.pk, "O-1", ExceptionItem.Status.OPEN)
    history = list(item.history.order_by("history_id"))
    assert [(h.history_type, h.history_user.username, h.history_change_reason) for h in history] == [
        ("+", "ops", "first batch"),
        ("~", "ops", "second batch"),
    ]
    assert (history[-1].title, history[-1].occurrences, history[-1].last_seen_at) == ("Deal 1 still waits", 4, later)
    assert ExceptionItem.objects.filter(dedupe_key="bulk:2").count() == 2
    assert ExceptionItem.objects.filter(status=ExceptionItem.Status.OPEN).count() == 3


def test_nothing_to_open_writes_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert exception_items_open_many([], change_reason="empty") == {"created": 0, "refreshed": 0}
