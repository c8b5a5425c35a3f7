"""The triage list's pages (``exceptions.admin.filters.CappedPaginator``): a page's ids are read in the
list's order first, then those rows with their owners and queues — the same rows, in the same order,
as one ordered query would give."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from exceptions.admin.filters import CappedPaginator
from exceptions.models import ExceptionItem
from exceptions.services import triage_order, triage_tiers
from tests.exceptions.support import make_queue, open_item
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SEVERITIES = ["critical", "high", "medium", "low"]
STATUSES = ["open", "open", "in_progress", "escalated", "snoozed", "resolved"]


@pytest.fixture
def items():
    """121 items over two queues: every severity, overdue, due later and undated, open and closed."""
    now = timezone.now()
    queues = make_queue("NA ops"), make_queue("EMEA ops")
    owner = UserFactory(username="triager")
    made = []
    for n in range(121):
        due = [now - dt.timedelta(hours=1 + n % 5), now + dt.timedelta(hours=1 + n % 7), None][n % 3]
        item = open_item(f"k{n}", queue=queues[n % 2], severity=SEVERITIES[n % 4], due_at=due or now)
        made.append(item.pk)
        status = STATUSES[n % len(STATUSES)]
        changes = {"due_at": due, "status": status, "owner": owner if n % 4 == 0 else None}
        if status == "snoozed":
            changes["snoozed_until"] = now + dt.timedelta(days=1)
        if status == "resolved":
            changes["resolved_at"] = now
        if n % 30 == 7:
            changes["severity"] = "urgent"  # not one of the four: only SQL could store it; it ranks last
        ExceptionItem.objects.filter(pk=item.pk).update(**changes)
    return made


def ordered(now):
    return ExceptionItem.objects.select_related("owner", "queue").order_by(*triage_order(now=now))


def test_every_page_holds_the_rows_of_the_ordered_list(items):
    now = timezone.now()
    expected = list(ordered(now).values_list("pk", flat=True))
    assert sorted(expected) == sorted(items)
    paginator = CappedPaginator(ordered(now), 7)
    pages = [list(paginator.page(n).object_list) for n in paginator.page_range]
    assert [item.pk for page in pages for item in page] == expected
    assert [len(page) for page in pages] == [7] * 17 + [2]


@pytest.mark.parametrize("per_page", [1, 7, 10, 50])
@pytest.mark.parametrize("statuses", [["open", "in_progress", "escalated"], ["snoozed"], ["open"]])
def test_open_lists_read_tier_by_tier_give_the_same_pages(items, per_page, statuses):
    now = timezone.now()
    shown = ordered(now).filter(status__in=statuses)
    expected = list(shown.values_list("pk", flat=True))
    assert ExceptionItem.objects.filter(pk__in=expected, severity="urgent").exists() or statuses == ["snoozed"]
    paginator = CappedPaginator(shown, per_page, tiers=triage_tiers(now=now))
    got = [item.pk for n in paginator.page_range for item in paginator.page(n).object_list]
    assert got == expected and expected


def test_a_page_is_two_queries_with_owners_and_queues(items, django_assert_num_queries):
    paginator = CappedPaginator(ordered(timezone.now()), 20)
    assert paginator.count == 121
    with django_assert_num_queries(2):
        rows = list(paginator.page(2).object_list)
        names = {(item.queue.name, item.owner.username if item.owner else None) for item in rows}
    assert len(rows) == 20 and {queue for queue, _owner in names} == {"NA ops", "EMEA ops"}


AWAKE = ["open", "in_progress", "escalated"]


@pytest.mark.parametrize(
    ("query", "lookups"),
    [
        ({"state": "all"}, {}),
        ({}, {"status__in": AWAKE}),
        ({"overdue": "no"}, {"status__in": AWAKE, "due_at__gte": "now"}),
        ({"state": "open", "status__exact": "escalated"}, {"status": "escalated"}),
        ({"state": "snoozed"}, {"status": "snoozed"}),
    ],
    ids=["every state", "open view, tier by tier", "open, not overdue", "open and escalated", "snoozed"],
)
def test_the_changelist_pages_follow_the_triage_order(client, items, query, lookups):
    admin_user = UserFactory(username="rita.pages", is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    changelist = reverse("admin:exceptions_exceptionitem_changelist")
    now = timezone.now()
    expected = ordered(now)
    if lookups.pop("due_at__gte", None):  # not overdue: due later or undated
        expected = expected.exclude(due_at__lt=now)
    expected = list(expected.filter(**lookups).values_list("pk", flat=True))
    assert expected
    shown = []
    for page in range(1, (len(expected) + 49) // 50 + 1):
        response = client.get(changelist, {**query, "p": page})
        assert response.status_code == 200
        # the open views' pages are read tier by tier; every state's in one sorted query
        assert (response.context["cl"].paginator.tiers is None) == (query.get("state") == "all")
        shown += [int(pk) for pk in re.findall(r'name="_selected_action" value="(\d+)"', response.content.decode())]
    assert shown == expected


def test_the_items_table_is_vacuumed_after_two_percent_of_it_changed():
    """The index-only read of a page's ids needs a current visibility map (migration 0016)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's autovacuum")
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'exceptions_exceptionitem'")
        options = set(cursor.fetchone()[0] or [])
    assert {
        "autovacuum_vacuum_scale_factor=0.02",
        "autovacuum_vacuum_insert_scale_factor=0.02",
        "autovacuum_analyze_scale_factor=0.02",
    } <= options
