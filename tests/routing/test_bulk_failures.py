"""The bulk routing driver when things go wrong, and where it once parted from routing one by one."""

import datetime as dt
from unittest import mock

import pytest
from django.db import OperationalError

from revops.engine.pipeline import EngineRetry, engine_process_events
from revops.models import ApiToken, AutomationRun, ChangeEntry, Lead, OutboxEvent
from revops.sync import sync_batch_apply
from revops.tokens import api_token_create
from routing import bulk
from routing.models import RoutingDecision, RoutingRule, SlaPolicy
from tests.factories import LeadFactory, RepFactory
from tests.routing.bulk_support import fresh_caches, one_by_one_then_bulk, pool_of, routing_automation

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)


def _sync(records):
    token = ApiToken.objects.filter(name="crm").first() or api_token_create(name="crm", scopes=["sync:write"])[0]
    sync_batch_apply(object_name="leads", records=records, actor=token.user, token=token)
    return list(
        OutboxEvent.objects.filter(status="pending", object_type="lead").order_by("pk").values_list("pk", flat=True)
    )


def _rec(n, **extra):
    return {
        "external_id": f"RV-{n:03d}",
        "source_updated_at": "2026-11-24T14:00:00Z",
        "email": f"p{n}@prospect{n}.test",
        "company": f"Prospect {n}",
        "country": "US",
        "score": 10,
        "status": "new",
        **extra,
    }


def test_least_loaded_ties_go_to_who_waited_longest_as_one_by_one():
    """least_loaded ties go to the member who waited longest; the chunk stamps every in-memory pick with
    the same engine `now`, the one-lead path with each assignment's wall clock."""
    a, b, c = (RepFactory(name=n, time_zone="UTC") for n in ("A", "B", "C"))
    pool = pool_of("LL", (a, b, c), strategy="least_loaded")
    LeadFactory(owner=b, status="new")  # B starts with one open lead
    RoutingRule.objects.create(name="All", priority=10, status="live", target_type="pool", target_pool=pool)
    routing_automation({"fallback": {"type": "none"}})
    fresh_caches()
    ids = _sync([_rec(n) for n in range(6)])
    assert len(ids) == 6

    def owners():
        return [
            lead.owner.name if lead.owner else None
            for lead in Lead.objects.filter(external_id__startswith="RV-").order_by("external_id")
        ]

    one_by_one, in_bulk, bulk_driver_ran = one_by_one_then_bulk(ids, owners, now=NOW)
    assert bulk_driver_ran
    assert in_bulk == one_by_one


def test_a_failed_one_run_inside_a_chunk_leaves_its_event_to_be_retried():
    """A lead of the chunk that goes through the one-run path and fails (retry) must leave its event pending."""
    r1, r2 = RepFactory(name="R1", time_zone="UTC"), RepFactory(name="R2", time_zone="UTC")
    pool = pool_of("P", (r1,), strategy="round_robin")
    RoutingRule.objects.create(name="All", priority=10, status="live", target_type="pool", target_pool=pool)
    SlaPolicy.objects.create(name="Default", priority=100, target_minutes=60)
    routing_automation({"fallback": {"type": "none"}, "route_owned_leads": True})
    fresh_caches()
    # lead 1 has an owner: its plan replaces the running clock -> not bulkable -> _one_run
    ids = _sync([_rec(0), _rec(1, owner=r2.external_id), _rec(2)])
    assert len(ids) == 3

    calls = {"n": 0}
    from routing import actions as routing_actions

    real = routing_actions.sla_clocks_cancel

    def flaky(**kw):
        calls["n"] += 1
        raise OperationalError("deadlock detected (simulated transient error)")

    with mock.patch.object(routing_actions, "sla_clocks_cancel", side_effect=flaky):
        with pytest.raises(EngineRetry):  # the job is retried
            engine_process_events(event_ids=ids, now=NOW)
    assert calls["n"] == 1 and real
    run = AutomationRun.objects.get(trigger_key=f"event:{ids[1]}")
    assert run.outcome == "error" and run.attempts == 1
    assert OutboxEvent.objects.get(pk=ids[1]).status == "pending", "the failed run's event must be retried"
    assert set(OutboxEvent.objects.filter(pk__in=[ids[0], ids[2]]).values_list("status", flat=True)) == {"processed"}


def test_a_chunk_that_raises_is_routed_one_by_one_from_fresh_records():
    """The chunk assigned owners in memory before it failed: the one-run path must not see them."""
    r1 = RepFactory(name="R1", time_zone="UTC")
    pool = pool_of("P", (r1,), strategy="round_robin")
    RoutingRule.objects.create(name="All", priority=10, status="live", target_type="pool", target_pool=pool)
    routing_automation({"fallback": {"type": "none"}})
    fresh_caches()
    ids = _sync([_rec(0), _rec(1), _rec(2)])

    with mock.patch.object(bulk, "change_entries_record", side_effect=OperationalError("deadlock detected (sim)")):
        engine_process_events(event_ids=ids, now=NOW)
    rows = list(
        Lead.objects.filter(external_id__startswith="RV-")
        .order_by("external_id")
        .values_list("external_id", "owner_id")
    )
    assert RoutingDecision.objects.count() == 3
    assert all(owner == r1.pk for _ext, owner in rows)


def test_the_feed_keeps_routing_order_when_a_lead_takes_the_one_run_path():
    """Feed ids (the API cursor order) when a chunk mixes bulk leads and a one-run lead."""
    r1, r2 = RepFactory(name="R1", time_zone="UTC"), RepFactory(name="R2", time_zone="UTC")
    pool = pool_of("P", (r1,), strategy="round_robin")
    RoutingRule.objects.create(name="All", priority=10, status="live", target_type="pool", target_pool=pool)
    SlaPolicy.objects.create(name="Default", priority=100, target_minutes=60)
    routing_automation({"fallback": {"type": "none"}, "route_owned_leads": True})
    fresh_caches()
    ids = _sync([_rec(0), _rec(1, owner=r2.external_id), _rec(2)])

    def order():  # the order the CRM reads the feed in (decision rows' ids may differ)
        return list(
            ChangeEntry.objects.filter(object_type="lead", kind="owner_assigned")
            .order_by("pk")
            .values_list("external_id", flat=True)
        )

    expected, got, _bulk_driver_ran = one_by_one_then_bulk(ids, order, now=NOW)
    assert got == expected


def test_shadow_picks_follow_the_pools_current_rotation():
    """A shadow rule on a round-robin pool that live rules also assign from."""
    a, b, c = (RepFactory(name=n, time_zone="UTC") for n in ("A", "B", "C"))
    pool = pool_of("RR", (a, b, c), strategy="round_robin")
    RoutingRule.objects.create(name="Shadow", priority=5, status="shadow", target_type="pool", target_pool=pool)
    RoutingRule.objects.create(name="Live", priority=10, status="live", target_type="pool", target_pool=pool)
    routing_automation({"fallback": {"type": "none"}})
    fresh_caches()
    ids = _sync([_rec(n) for n in range(4)])

    def shadows():
        return [
            (d.lead.external_id, d.explanation["shadow"]["would_route_to"], d.owner.name)
            for d in RoutingDecision.objects.select_related("lead", "owner").order_by("lead__external_id")
        ]

    expected, got, _bulk_driver_ran = one_by_one_then_bulk(ids, shadows, now=NOW)
    assert got == expected


def test_an_error_on_one_lead_does_not_lose_the_earlier_leads_of_its_chunk():
    r1 = RepFactory(name="R1", time_zone="UTC")
    pool = pool_of("P", (r1,), strategy="round_robin")
    RoutingRule.objects.create(name="All", priority=10, status="live", target_type="pool", target_pool=pool)
    routing_automation({"fallback": {"type": "none"}})
    fresh_caches()
    ids = _sync([_rec(0), _rec(1), _rec(2)])
    from routing.engine import Router

    real = Router.decide

    def decide(self, lead, **kw):
        if lead.external_id == "RV-002":
            raise ValueError("bad data on one lead")
        return real(self, lead, **kw)

    with mock.patch.object(Router, "decide", decide):
        try:
            engine_process_events(event_ids=ids, now=NOW)
        except Exception:
            pass  # the job is retried: what matters is what was stored
    rows = list(
        Lead.objects.filter(external_id__startswith="RV-")
        .order_by("external_id")
        .values_list("external_id", "owner_id")
    )
    assert rows[0][1] == r1.pk and rows[1][1] == r1.pk


def test_a_failed_one_run_does_not_count_against_the_daily_cap():
    a, b, c = (RepFactory(name=n, time_zone="UTC") for n in ("A", "B", "C"))
    pool = pool_of("P", (a, b), strategy="round_robin", max_per_day=1)
    RoutingRule.objects.create(name="All", priority=10, status="live", target_type="pool", target_pool=pool)
    SlaPolicy.objects.create(name="Default", priority=100, target_minutes=60)
    routing_automation({"fallback": {"type": "none"}, "route_owned_leads": True})
    fresh_caches()
    ids = _sync([_rec(0, owner=c.external_id), _rec(1)])
    from routing import actions as routing_actions

    with mock.patch.object(routing_actions, "sla_clocks_cancel", side_effect=OperationalError("transient")):
        try:
            engine_process_events(event_ids=ids, now=NOW)
        except Exception:
            pass  # EngineRetry: the failed lead's job is retried
    lead1 = Lead.objects.get(external_id="RV-001")
    assert lead1.owner == a  # the failed run wrote no decision: A has had no lead today
