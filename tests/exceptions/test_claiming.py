"""Claiming: one person per item, "next item" hands out the oldest-due unclaimed item of my queues,
and many concurrent claimers never get the same item."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone

from exceptions.errors import ClaimConflict
from exceptions.models import ExceptionItem
from exceptions.services import exception_item_claim, exception_items_bulk_claim, exception_next_item
from tests.factories import UserFactory

from .support import history_reasons, make_queue, open_item


@pytest.mark.django_db
def test_claim_makes_me_the_owner_once_and_refuses_a_second_claimer():
    make_queue("RevOps")
    ana, bob = UserFactory(username="ana"), UserFactory(username="bob")
    item = open_item("a", queue_name="RevOps")
    exception_item_claim(item=item, actor=ana)
    assert item.owner == ana and item.status == "in_progress" and item.claimed_at is not None
    with pytest.raises(ClaimConflict):
        exception_item_claim(item=ExceptionItem.objects.get(pk=item.pk), actor=bob)
    assert ExceptionItem.objects.get(pk=item.pk).owner == ana
    assert history_reasons(item)[-1] == ("ana", "claimed")


@pytest.mark.django_db
def test_bulk_claim_counts_what_was_already_taken():
    ana, bob = UserFactory(username="ana"), UserFactory(username="bob")
    items = [open_item(f"k{i}") for i in range(3)]
    exception_item_claim(item=items[0], actor=bob)
    result = exception_items_bulk_claim(items_qs=ExceptionItem.objects.all(), actor=ana)
    assert result["done"] == 2 and result["skipped"] == 1
    assert ExceptionItem.objects.filter(owner=ana).count() == 2


@pytest.mark.django_db
def test_next_item_takes_the_oldest_due_unclaimed_item_of_my_queues_only():
    mine, other = make_queue("Mine"), make_queue("Other")
    ana = UserFactory(username="ana")
    now = timezone.now()
    later = open_item("later", queue_name="Mine", due_at=now + dt.timedelta(hours=5))
    soon = open_item("soon", queue_name="Mine", due_at=now + dt.timedelta(hours=1))
    open_item("elsewhere", queue_name="Other", due_at=now)
    claimed = open_item("claimed", queue_name="Mine", due_at=now - dt.timedelta(hours=1))
    exception_item_claim(item=claimed, actor=UserFactory(username="bob"))

    first = exception_next_item(actor=ana, queues=[mine])
    assert first.pk == soon.pk and first.owner == ana and first.status == "in_progress"
    assert history_reasons(first)[-1] == ("ana", "claimed (next item)")
    assert exception_next_item(actor=ana, queues=[mine.pk]).pk == later.pk
    assert exception_next_item(actor=ana, queues=[mine]) is None
    assert exception_next_item(actor=ana, queues=[]) is None
    assert exception_next_item(actor=ana, queues=None).queue == other


@pytest.mark.django_db
def test_next_items_history_row_is_the_claimed_item_as_simple_history_writes_it():
    make_queue("Mine")
    ana = UserFactory(username="ana")
    open_item("a", queue_name="Mine", due_at=timezone.now() - dt.timedelta(hours=1))
    item = exception_next_item(actor=ana, queues=None)
    rows = list(item.history.order_by("history_id"))
    latest = rows[-1]
    assert len(rows) == 2 and latest.history_type == "~" and latest.history_user == ana
    for field in ExceptionItem._meta.concrete_fields:
        assert getattr(latest, field.attname) == getattr(item, field.attname), field.name
    assert latest.history_date == item.claimed_at


@pytest.mark.django_db(transaction=True)
def test_concurrent_next_item_claims_every_item_exactly_once():
    queue = make_queue("RevOps")
    workers = [UserFactory(username=f"worker{i}") for i in range(8)]
    for i in range(400):
        open_item(f"k{i}", queue_name="RevOps")
    taken: dict[int, list[int]] = {w.pk: [] for w in workers}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(workers))

    def work(user):
        try:
            barrier.wait()
            for _ in range(50):
                item = exception_next_item(actor=user, queues=[queue])
                if item is None:
                    break
                taken[user.pk].append(item.pk)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    claimed = [pk for pks in taken.values() for pk in pks]
    assert len(claimed) == 400 and len(set(claimed)) == 400
    owners = dict(ExceptionItem.objects.values_list("pk", "owner_id"))
    for user_pk, pks in taken.items():
        assert all(owners[pk] == user_pk for pk in pks)
    assert not ExceptionItem.objects.filter(claimed_at__isnull=True).exists()
