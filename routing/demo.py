"""Routing's part of the demo: pools, the default rule precedence, SLA policies, calendars, the router.

``routing_demo_build`` (registered in ``routing.apps``) creates what is missing (by name) through
routing's setup services and the engine's ``automation_create``. On an org created in the same
load it then replays the last days: each unowned new lead is routed by the live router at the
moment it arrived (its decision, owner and response clock are the router's), the CRM syncs most
owners' first call, and the SLA tick runs once at the demo's now — so a new user sees decisions
with their explanations, running clocks, met and missed SLAs, and the breaches the tick raised.

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

from django.utils import timezone

from revops.demo_records.builders import demo_revops_people
from revops.demo_records.tables import REGION_COUNTRIES
from revops.engine.pipeline import active_rules, load_records, run_rule
from revops.engine.services import automation_create
from revops.models import Automation, Lead, Rep, Team
from revops.outbox import outbox_process_batch
from revops.sync import sync_batch_apply

from .delegation import pool_managers_set
from .models import BusinessCalendar, Pool, RoutingRule, SlaPolicy
from .services import routing_rule_save
from .setup_services import business_calendar_save, pool_save, sla_policy_save
from .sla_services import sla_clocks_tick

REASON = "demo data: routing"
ZONES = {"NA": "America/New_York", "EMEA": "Europe/London", "APAC": "Asia/Singapore"}
REGIONS = {region: (REGION_COUNTRIES[region], zone) for region, zone in ZONES.items()}
HOLIDAYS = ["2026-12-25", "2026-12-26", "2027-01-01"]
STRATEGIC_QUEUE = "Strategic review"  # an exception queue of the demo (``exceptions.demo``)
ROUTER_NAME = "Lead routing"
OVERFLOW_POOL = "Inbound overflow"


def demo_pools() -> list[dict]:
    """The regional inbound pools: every account executive of the region's SMB or Mid-Market team."""
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
    """The demo's rule precedence (see the module docstring), plus a draft rule to preview and backtest."""
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
    """Response SLAs: hot inbound leads within 5 minutes, SQLs within a business hour, the rest within a day."""
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


def demo_routing_ensure(*, actor) -> dict[str, int]:
    """Create the demo's calendars, pools, rules and SLA policies that do not exist yet (by name); counts created."""
    created = {"calendars": 0, "pools": 0, "rules": 0, "policies": 0}
    for region, (_countries, zone) in REGIONS.items():
        name = f"{region} business hours"
        if not BusinessCalendar.objects.filter(name=name).exists():
            calendar = BusinessCalendar(name=name, time_zone=zone, holidays=HOLIDAYS, is_default=region == "NA")
            teams = list(Team.objects.filter(name__startswith=f"{region} "))
            business_calendar_save(calendar=calendar, teams=teams, actor=actor, reason=REASON)
            created["calendars"] += 1
    for spec in demo_pools():
        spec = dict(spec)
        team, role = Team.objects.filter(name=spec.pop("team")).first(), spec.pop("role")
        if team is None or Pool.objects.filter(name=spec["name"]).exists():
            continue
        members = [{"team": team, "role": role, "weight": 1}]
        pool = pool_save(pool=Pool(**spec), members=members, actor=actor, reason=REASON)
        # The region's sales manager runs the region's pools (Manage the pool), when they have a login.
        head = team.parent.manager if team.parent_id and team.parent.manager_id else None
        if head is not None and head.user_id is not None:
            pool_managers_set(pool=pool, users=[head.user], actor=actor, reason=REASON)
        created["pools"] += 1
    if not Pool.objects.filter(name=OVERFLOW_POOL).exists():
        managers = Rep.objects.filter(title__startswith="Sales Manager").order_by("external_id")
        pool_save(
            pool=Pool(
                name=OVERFLOW_POOL,
                description="Sales managers catch what no rule or full pool could take.",
                strategy="least_loaded",
            ),
            members=[{"rep": rep, "weight": 1} for rep in managers],
            actor=actor,
            reason=REASON,
        )
        created["pools"] += 1
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
        routing_rule_save(rule=rule, actor=actor, reason=REASON)
        created["rules"] += 1
    for spec in demo_sla_policies():
        if not SlaPolicy.objects.filter(name=spec["name"]).exists():
            sla_policy_save(policy=SlaPolicy(**spec), actor=actor, reason=REASON)
            created["policies"] += 1
    return created


def demo_router_ensure(*, actor) -> Automation:
    """The live "Lead routing" automation (created through the engine's service when missing)."""
    existing = Automation.objects.filter(name=ROUTER_NAME).first()
    if existing is not None:
        return existing
    rule_owner, failure_owner = demo_revops_people()
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
        config={"fallback": {"type": "pool", "pool": OVERFLOW_POOL}, "fuzzy_threshold": 90},
        mode="live",
        rule_owner=rule_owner,
        system_owner=rule_owner,
        failure_owner=failure_owner,
        exception_queue="RevOps triage",
        downstream_effect="Owners, matched accounts and tasks reach the CRM through the changes feed.",
        rollback_notes="Revert a run from its page; reassign in the CRM (counted as a reassignment).",
        last_reviewed_at=timezone.localdate(),
    )


def routing_demo_build(context: dict) -> None:
    """Demo builder: routing's configuration (idempotent); on a fresh org, route the arrivals and tick the SLAs."""
    actor, now = context["actor"], context["now"]
    demo_routing_ensure(actor=actor)
    router = demo_router_ensure(actor=actor)
    if not context.get("fresh"):
        return
    summary = route_arrivals(router, actor=actor, now=now)
    details = context.setdefault("details", {})
    for key, label in (
        ("routed", "routed at arrival"),
        ("first calls", "first calls synced"),
        ("breached", "SLA breached"),
    ):
        if summary[key]:
            details[f"leads:{label}"] = summary[key]


def route_arrivals(router: Automation, *, actor, now: dt.datetime) -> dict[str, int]:
    """Route the unowned new leads when they arrived, sync most owners' first call, then tick the SLA clocks.

    The router runs as it would have on each lead's arrival (the engine's ``run_rule`` at that
    moment). Owners of leads older than eight hours called most of them, a few late; the CRM syncs
    those calls (``revops.sync``) and the outbox consumer hands them to routing's event hook, which
    stops the clocks they meet. One SLA tick at ``now`` then does what the scheduler's tick does: it
    breaches the clocks past due (opening their ``sla_breach`` items, re-routing where the policy
    says so) and reminds the owners whose reminder time has come.
    """
    rules = active_rules(["lead"], automation_ids=[router.pk]).get("lead") or []
    if not rules:
        return {"routed": 0, "first calls": 0, "breached": 0}
    ids = list(
        Lead.objects.filter(owner__isnull=True, status="new")
        .order_by("source_updated_at", "pk")
        .values_list("pk", flat=True)
    )
    leads = load_records("lead", ids)
    rng = random.Random(7)
    calls = []
    for pk in ids:
        lead = leads[pk]
        arrived = min(lead.source_updated_at or now, now)
        run_rule(rules[0], lead, trigger_key=f"demo-arrival:lead:{pk}", now=arrived)
        lead.refresh_from_db()
        if lead.owner_id and now - arrived > dt.timedelta(hours=8) and rng.random() < 0.85:
            late = rng.random() < 0.15
            touch = min(arrived + dt.timedelta(minutes=rng.randint(90, 600) if late else rng.randint(1, 45)), now)
            calls.append(
                {
                    "external_id": f"ACT-FT-{lead.external_id}",
                    "source_updated_at": touch.isoformat(),
                    "kind": "call",
                    "subject": "First call",
                    "occurred_at": touch.isoformat(),
                    "rep": lead.owner.external_id,
                    "lead": lead.external_id,
                }
            )
    if calls:
        outcome = sync_batch_apply(object_name="activities", records=calls, actor=actor)
        if outcome.batch is not None:
            outbox_process_batch(batch_id=outcome.batch.pk)
    ticked = sla_clocks_tick(now=now)
    return {"routed": len(ids), "first calls": len(calls), "breached": ticked["breached"]}
