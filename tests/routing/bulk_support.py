"""What the bulk routing driver's tests share: the routing automation, pools, caches, and routing the
same pending events one by one and then in bulk from the same starting point."""

from unittest import mock

from django.db import transaction

from exceptions.models import Queue
from revops.engine.pipeline import engine_process_events
from revops.engine.services import automation_create
from routing import bulk
from routing import kind as routing_kind
from routing.matching import reset_account_index
from routing.models import Pool, PoolMember
from tests.factories import UserFactory


def fresh_caches():
    """Forget the account index and the routing setup, as a new worker process starts."""
    reset_account_index()
    routing_kind._setup_cache.clear()


def routing_automation(config: dict, *, owner=None):
    """The live "Lead routing" automation on new leads, with ``config``, its items in the RevOps queue."""
    owner = owner or UserFactory()
    Queue.objects.get_or_create(name="RevOps")
    return automation_create(
        actor=owner,
        name="Lead routing",
        purpose="Route every new lead.",
        kind="lead_routing",
        object_type="lead",
        trigger="created",
        conditions={"all": []},
        config=config,
        rule_owner=owner,
        failure_owner=owner,
        exception_queue="RevOps",
        mode="live",
    )


def pool_of(name: str, reps, **fields) -> Pool:
    """A pool with ``reps`` as members in that order."""
    pool = Pool.objects.create(name=name, **fields)
    for position, rep in enumerate(reps):
        PoolMember.objects.create(pool=pool, rep=rep, position=position)
    return pool


def one_by_one_then_bulk(ids, observe, *, now):
    """``observe()`` after routing events ``ids`` one per call, then (rolled back to the same start) all
    at once; returns (one by one, in bulk, whether the bulk driver ran)."""
    sp = transaction.savepoint()
    fresh_caches()
    for pk in ids:
        engine_process_events(event_ids=[pk], now=now)
    one_by_one = observe()
    transaction.savepoint_rollback(sp)
    fresh_caches()
    with mock.patch.object(bulk, "run_batch", wraps=bulk.run_batch) as driver:
        engine_process_events(event_ids=ids, now=now)
    return one_by_one, observe(), driver.called
