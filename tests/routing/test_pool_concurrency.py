"""Concurrent picks on real PostgreSQL: four OS processes route leads through one weighted pool at once.

Each child routes its share of the leads the way the engine does: lock and pick, assign, count, record the
decision, all in one transaction. The pool row lock must serialise them. If it did not, two children
would read the same counts and hand out leads past a cap or out of proportion.
"""

import datetime as dt
import multiprocessing
import traceback
from collections import Counter
from fractions import Fraction

import pytest
from django.db import connection, connections

from revops.models import Lead
from routing.models import Pool, PoolCounter, PoolMember, RoutingDecision
from tests.factories import LeadFactory, RepFactory
from tests.routing.test_pools import route_lead

PROCESSES = 4
LEADS_PER_PROCESS = 8
NOW = dt.datetime(2026, 3, 10, 14, 0, tzinfo=dt.UTC)

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")


def _route_share(db_name: str, pool_id: int, lead_ids: list[int], barrier, results) -> None:
    """Child process: route ``lead_ids`` through the pool and report (lead, rep, all_unavailable) per lead."""
    connections.close_all()  # forked: drop any inherited connection (the parent closed its own before forking)
    connections["default"].settings_dict["NAME"] = db_name  # the test database the parent's runner created
    try:
        leads = list(Lead.objects.filter(pk__in=lead_ids).order_by("pk"))
        barrier.wait(timeout=60)
        outcome = []
        for lead in leads:
            pick = route_lead(lead, pool_id, now=NOW, pause=0.003)
            outcome.append((lead.pk, pick.rep_id, pick.all_unavailable))
        results.put(("ok", outcome))
    except BaseException:  # noqa: BLE001 - reported to the parent
        results.put(("error", traceback.format_exc()))
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_concurrent_weighted_picks_respect_weights_caps_and_counters():
    pool = Pool.objects.create(name="Inbound", strategy="weighted", max_per_day=12)
    ana = RepFactory(name="Ana", time_zone="America/New_York")
    bo = RepFactory(name="Bo", time_zone="Europe/Berlin")
    cy = RepFactory(name="Cy", time_zone="Asia/Tokyo")
    # Caps proportional to the weights (4 per unit of weight each), one of them an open-lead cap:
    # 24 leads fit, the other 8 must be reported as all-capped.
    PoolMember.objects.create(pool=pool, rep=ana, weight=1, position=0, max_open_leads=4)
    PoolMember.objects.create(pool=pool, rep=bo, weight=2, position=1, max_per_day=8)
    PoolMember.objects.create(pool=pool, rep=cy, weight=3, position=2)
    weights = {ana.pk: 1, bo.pk: 2, cy.pk: 3}
    caps = {ana.pk: ("open", 4), bo.pk: ("day", 8), cy.pk: ("day", 12)}
    lead_ids = [LeadFactory().pk for _ in range(PROCESSES * LEADS_PER_PROCESS)]

    db_name = connection.settings_dict["NAME"]
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    connections.close_all()  # never share a live PostgreSQL socket with forked children
    children = [
        ctx.Process(target=_route_share, args=(db_name, pool.pk, lead_ids[i::PROCESSES], barrier, results))
        for i in range(PROCESSES)
    ]
    for child in children:
        child.start()
    try:
        reports = [results.get(timeout=180) for _ in children]
    finally:
        for child in children:
            child.join(timeout=30)
            if child.is_alive():
                child.terminate()
    errors = [body for status, body in reports if status == "error"]
    assert not errors, "\n".join(errors)
    assert all(child.exitcode == 0 for child in children)

    # Every lead: exactly one owner, or reported as all-capped.
    routed = [row for _, rows in reports for row in rows]
    assert sorted(lead for lead, _, _ in routed) == sorted(lead_ids)
    owners = dict(Lead.objects.filter(pk__in=lead_ids).values_list("pk", "owner_id"))
    for lead, rep_id, all_unavailable in routed:
        assert owners[lead] == rep_id
        assert (rep_id is None) == all_unavailable
    assert Counter(rep_id is None for _, rep_id, _ in routed) == {False: 24, True: 8}

    decisions = list(
        RoutingDecision.objects.filter(pool=pool).order_by("pk").values_list("lead_id", "outcome", "owner_id")
    )
    assert Counter(lead for lead, _, _ in decisions) == Counter(lead_ids)  # one decision per lead
    assigned = [owner for _, outcome, owner in decisions if outcome == "assigned"]
    per_rep = Counter(assigned)
    assert per_rep == {ana.pk: 4, bo.pk: 8, cy.pk: 12}

    # No cap exceeded (open leads are all new; the day is the same in every rep's zone here).
    open_leads = Counter(
        Lead.objects.filter(owner__isnull=False, status__in=["new", "working"]).values_list("owner_id", flat=True)
    )
    for rep_id, (kind, cap) in caps.items():
        assert (open_leads[rep_id] if kind == "open" else per_rep[rep_id]) <= cap

    # Decisions are inserted while the lock is held, so their pks give the order of the picks. After every
    # pick the per-weight counts were within 1 of each other.
    running = Counter()
    for rep_id in assigned:
        running[rep_id] += 1
        shares = [Fraction(running[r], w) for r, w in weights.items()]
        assert max(shares) - min(shares) <= 1, running

    # The counters agree with the assignments, and the last rep is the last one assigned.
    assert dict(PoolCounter.objects.filter(pool=pool).values_list("rep_id", "assigned")) == dict(per_rep)
    pool.refresh_from_db()
    assert pool.last_rep_id == assigned[-1]
