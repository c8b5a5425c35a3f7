"""The demo's routing: pools per region, the default rule precedence, SLA policies, calendars, live.

``demo_routing_ensure`` creates what is missing (by name) and, on a fresh demo org, routes the
unowned new leads at the moment they arrived — so a new user sees decisions with their
explanations, running clocks, met and missed SLAs, and SLA-breach items waiting in the queue.

Default precedence (docs/routing.md explains it):

10. Named accounts → the account's owner (subsidiaries through the parent's named owner)
20. Existing customers with an open deal → the deal's owner
30. Existing customers → the account's owner
40. Strategic prospects (5,000+ employees) → manual review in "Strategic review"
50+. Territory: region × segment pools (mid-market by matched account size, else SMB)
Fallback: the "Inbound overflow" pool, with an exception item.
"""

from __future__ import annotations

import datetime as dt
import random

from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from revops.audit import audited, system_user
from revops.models import Activity, Automation, Lead, Rep, Team

from .models import BusinessCalendar, Pool, PoolMember, RoutingRule, SlaClock, SlaPolicy

REASON = "demo data: routing"
REGIONS = {
    "NA": (["US", "CA"], "America/New_York"),
    "EMEA": (["GB", "DE", "FR", "NL", "SE", "ES", "IE", "CH"], "Europe/London"),
    "APAC": (["AU", "JP", "SG", "IN", "NZ"], "Asia/Singapore"),
}
HOLIDAYS = ["2026-12-25", "2026-12-26", "2027-01-01"]
STRATEGIC_QUEUE = "Strategic review"
ROUTER_NAME = "Lead routing"


def _team(name: str) -> Team | None:
    return Team.objects.filter(name=name).first()


def demo_pools() -> list[dict]:
    specs = []
    strategies = {"NA": "weighted", "EMEA": "round_robin", "APAC": "least_loaded"}
    for region in REGIONS:
        for label in ("SMB", "Mid-Market"):
            specs.append(
                {
                    "name": f"{region} {label} inbound",
                    "description": f"{region} {label} account executives share inbound leads.",
                    "strategy": strategies[region],
                    "max_open_leads": 150,
                    "max_per_day": 40,
                    "respect_working_hours": False,
                    "team": f"{region} {label}",
                    "role": "Account Executive",
                }
            )
    return specs


def demo_rules() -> list[dict]:
    rules = [
        {
            "name": "Named accounts → account owner",
            "description": "Named/strategic accounts keep one owner, whatever the territory says.",
            "priority": 10,
            "conditions": {"all": [{"field": "lead.matched_account.is_named", "op": "eq", "value": True}]},
            "target_type": "account_owner",
        },
        {
            "name": "Customers with an open deal → deal owner",
            "description": "Someone already works a deal there: the lead goes to them, not to a new rep.",
            "priority": 20,
            "conditions": {"all": [{"field": "lead.matched_account.customer_status", "op": "eq", "value": "customer"}]},
            "target_type": "opportunity_owner",
        },
        {
            "name": "Existing customers → account owner",
            "description": "Existing customers before lead source or territory.",
            "priority": 30,
            "conditions": {"all": [{"field": "lead.matched_account.customer_status", "op": "eq", "value": "customer"}]},
            "target_type": "account_owner",
        },
        {
            "name": "Strategic prospects → manual review",
            "description": "Prospects with 5,000+ employees are assigned by a director, not a rotation.",
            "priority": 40,
            "conditions": {"all": [{"field": "lead.matched_account.employees", "op": "gte", "value": 5000}]},
            "target_type": "queue",
            "target_queue": STRATEGIC_QUEUE,
        },
    ]
    priority = 50
    for region, (countries, _zone) in REGIONS.items():
        rules.append(
            {
                "name": f"{region} mid-market territory",
                "description": f"{region} leads from 200–4,999-employee accounts.",
                "priority": priority,
                "conditions": {
                    "all": [
                        {"field": "lead.country", "op": "in", "value": countries},
                        {"field": "lead.matched_account.employees", "op": "between", "value": [200, 4999]},
                    ]
                },
                "target_type": "pool",
                "pool": f"{region} Mid-Market inbound",
            }
        )
        rules.append(
            {
                "name": f"{region} SMB territory",
                "description": f"Every other {region} lead.",
                "priority": priority + 10,
                "conditions": {"all": [{"field": "lead.country", "op": "in", "value": countries}]},
                "target_type": "pool",
                "pool": f"{region} SMB inbound",
            }
        )
        priority += 20
    rules.append(
        {
            "name": "Partner leads → partner manager (draft)",
            "description": "Proposed: partner-sourced leads go to one partner manager. Preview and backtest it.",
            "priority": 45,
            "status": "draft",
            "conditions": {"all": [{"field": "lead.source", "op": "eq", "value": "partner"}]},
            "target_type": "rep",
            "rep_title": "Sales Manager, SMB",
        }
    )
    return rules


def demo_sla_policies() -> list[dict]:
    return [
        {
            "name": "Hot inbound: 5 minutes",
            "description": "Scores of 80+ from inbound sources: call within 5 minutes, around the clock.",
            "priority": 10,
            "conditions": {
                "all": [
                    {"field": "lead.score", "op": "gte", "value": 80},
                    {"field": "lead.source", "op": "in", "value": ["web_form", "chat", "free_trial", "paid_search"]},
                ]
            },
            "target_minutes": 5,
            "reminder_share": 0.6,
            "reroute_on_breach": True,
        },
        {
            "name": "SQL: 1 business hour",
            "description": "Qualified leads: first touch within one business hour of the owner's team.",
            "priority": 20,
            "conditions": {"all": [{"field": "lead.score", "op": "gte", "value": 60}]},
            "target_minutes": 60,
            "use_business_hours": True,
        },
        {
            "name": "MQL: 24 hours",
            "description": "Every other routed lead: first touch within a day.",
            "priority": 100,
            "conditions": {"all": []},
            "target_minutes": 24 * 60,
            "reminder_share": 0.75,
        },
    ]


@transaction.atomic
def demo_routing_ensure(*, actor=None, now: dt.datetime | None = None, route_leads: bool = True) -> dict:
    """Create the demo's routing configuration (idempotent by name); route the unowned new leads once."""
    now = now or timezone.now()
    actor = actor or system_user("demo-loader", first_name="Demo loader")
    created = {"pools": 0, "rules": 0, "policies": 0, "calendars": 0, "routed": 0}
    with audited(actor=actor, reason=REASON):
        _queue_ensure()
        for region, (_countries, zone) in REGIONS.items():
            calendar, was_created = BusinessCalendar.objects.get_or_create(
                name=f"{region} business hours",
                defaults={"time_zone": zone, "holidays": HOLIDAYS, "is_default": region == "NA"},
            )
            if was_created:
                calendar.teams.set(Team.objects.filter(name__startswith=f"{region} "))
                created["calendars"] += 1
        for spec in demo_pools():
            spec = dict(spec)
            team, role = _team(spec.pop("team")), spec.pop("role")
            pool, was_created = Pool.objects.get_or_create(name=spec["name"], defaults=spec)
            if was_created and team is not None:
                PoolMember.objects.create(pool=pool, team=team, role=role, weight=1)
                created["pools"] += 1
        overflow, was_created = Pool.objects.get_or_create(
            name="Inbound overflow",
            defaults={
                "description": "Sales managers catch what no rule or full pool could take.",
                "strategy": "least_loaded",
            },
        )
        if was_created:
            managers = Rep.objects.filter(title__startswith="Sales Manager").order_by("external_id")
            for position, rep in enumerate(managers):
                PoolMember.objects.create(pool=overflow, rep=rep, weight=1, position=position)
        for spec in demo_rules():
            spec = dict(spec)
            if RoutingRule.objects.filter(name=spec["name"]).exists():
                continue
            pool_name, rep_title = spec.pop("pool", None), spec.pop("rep_title", None)
            rule = RoutingRule(status=spec.pop("status", "live"), **spec)
            if pool_name:
                rule.target_pool = Pool.objects.get(name=pool_name)
            if rep_title:
                rule.target_rep = Rep.objects.filter(title=rep_title, is_active=True).order_by("external_id").first()
                if rule.target_rep is None:
                    continue
            from .services import routing_rule_clean

            routing_rule_clean(rule)
            rule.save()
            created["rules"] += 1
        for spec in demo_sla_policies():
            _policy, was_created = SlaPolicy.objects.get_or_create(name=spec["name"], defaults=spec)
            created["policies"] += int(was_created)
    router = _router_ensure(actor)
    if route_leads and router is not None and created["rules"]:
        created["routed"] = _route_arrivals(router, now=now)
    return created


def _queue_ensure():
    from django.contrib.auth import get_user_model

    from exceptions.models import Queue

    if not Queue.objects.filter(name=STRATEGIC_QUEUE).exists():
        director = get_user_model().objects.filter(username="revops.lead").first()
        Queue.objects.create(
            name=STRATEGIC_QUEUE,
            description="Strategic prospects waiting for a director to choose the owner.",
            manager=director,
            due_hours_medium=24,
        )


def _router_ensure(actor) -> Automation | None:
    from revops.automations import automation_create
    from revops.demo import DEMO_FAILURE_OWNER, DEMO_RULE_OWNER, _demo_owner

    existing = Automation.objects.filter(name=ROUTER_NAME).first()
    if existing is not None:
        return existing
    rule_owner, failure_owner = _demo_owner(*DEMO_RULE_OWNER), _demo_owner(*DEMO_FAILURE_OWNER)
    return automation_create(
        actor=actor,
        reason="demo automation",
        name=ROUTER_NAME,
        purpose="Route every new lead to the right owner within seconds: named accounts, customers, "
        "strategic review, then regional pools; start its response SLA.",
        kind="lead_routing",
        object_type="lead",
        trigger="created",
        conditions={"all": [{"field": "lead.status", "op": "in", "value": ["new", "working"]}]},
        config={"fallback": {"type": "pool", "pool": "Inbound overflow"}, "fuzzy_threshold": 90},
        mode="live",
        rule_owner=rule_owner,
        system_owner=rule_owner,
        failure_owner=failure_owner,
        exception_queue="RevOps triage",
        downstream_effect="Owners, matched accounts and tasks reach the CRM through the changes feed.",
        rollback_notes="Revert a run from its page; reassign in the CRM (counted as a reassignment).",
        last_reviewed_at=timezone.localdate(),
    )


def _route_arrivals(router: Automation, *, now: dt.datetime) -> int:
    """Route the unowned new leads when they arrived; touch most of them in time, breach a few."""
    from revops.engine.pipeline import active_rules, load_records, run_rule

    from .sla_services import sla_clocks_tick, sla_clocks_touch

    rules = active_rules(["lead"], automation_ids=[router.pk]).get("lead") or []
    if not rules:
        return 0
    ids = list(
        Lead.objects.filter(owner__isnull=True, status="new")
        .order_by("source_updated_at", "pk")
        .values_list("pk", flat=True)
    )
    leads = load_records("lead", ids)
    rng = random.Random(7)
    activities = []
    routed = 0
    for pk in ids:
        lead = leads[pk]
        arrived = min(lead.source_updated_at or now, now)
        _status, _run = run_rule(rules[0], lead, trigger_key=f"demo:{pk}", now=arrived)
        lead.refresh_from_db()
        routed += 1
        age = now - arrived
        if lead.owner_id and age > dt.timedelta(hours=8) and rng.random() < 0.85:
            late = rng.random() < 0.15
            touch = arrived + dt.timedelta(minutes=rng.randint(90, 600) if late else rng.randint(1, 45))
            activities.append(
                Activity(
                    external_id=f"ACT-FT-{lead.external_id}",
                    kind="call",
                    subject="First call",
                    occurred_at=min(touch, now),
                    rep_id=lead.owner_id,
                    lead=lead,
                    source_updated_at=min(touch, now),
                )
            )
    activities = bulk_create_with_history(
        activities, Activity, default_user=system_user("demo-loader"), default_change_reason="demo data"
    )
    sla_clocks_touch(activity_ids=[a.pk for a in activities], now=now)
    # Reminders due in the past are not e-mailed at load time; breaches open their items.
    SlaClock.objects.filter(status="running", remind_at__lte=now, reminded_at__isnull=True).update(reminded_at=now)
    sla_clocks_tick(now=now)
    return routed
