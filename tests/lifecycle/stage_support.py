"""Shared builders of the lifecycle stage tests: the funnel of docs/lifecycle.md, an SLA policy and reps."""

from __future__ import annotations

import datetime as dt

from exceptions import roles
from lifecycle.models import Stage
from lifecycle.stage_services import stage_save
from routing.models import BusinessCalendar, SlaPolicy
from routing.setup_services import business_calendar_save, sla_policy_save
from tests.factories import RepFactory, TeamFactory, UserFactory

MONDAY_9 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday, 09:00 UTC


def leaf(field, op, value):
    return {"all": [{"field": field, "op": op, "value": value}]}


def funnel(*, actor=None, mql_minutes=24 * 60, business_hours=False) -> dict[str, Stage]:
    """New → MQL (score ≥ 60, answered within ``mql_minutes``) → Sales accepted → SQL (status
    qualified) → Opportunity (converted); Recycled (held 30 days); Disqualified (unqualified)."""
    actor = actor or UserFactory()
    policy = sla_policy_save(
        policy=SlaPolicy(
            name="MQL answer",
            target_minutes=mql_minutes,
            conditions={"any": []},
            use_business_hours=business_hours,
            reminder_share=0,
        ),
        actor=actor,
    )
    specs = [
        ("New", "new", 10, "funnel", {}),
        ("MQL", "mql", 20, "funnel", leaf("lead.score", "gte", 60)),
        ("Sales accepted", "sal", 30, "funnel", {}),
        ("SQL", "sql", 40, "funnel", leaf("lead.status", "eq", "qualified")),
        ("Opportunity", "opportunity", 50, "funnel", leaf("lead.status", "eq", "converted")),
        ("Recycled", "recycled", 60, "recycled", {}),
        ("Disqualified", "disqualified", 70, "closed", leaf("lead.status", "eq", "unqualified")),
    ]
    stages = {}
    for name, key, position, kind, condition in specs:
        stage = Stage(name=name, key=key, position=position, kind=kind, entry_condition=condition)
        if key == "recycled":
            stage.hold_days = 30
        stages[key] = stage_save(stage=stage, actor=actor)
    mql = stages["mql"]
    mql.awaits_acceptance, mql.accept_to, mql.reject_to = True, stages["sal"], stages["recycled"]
    mql.crm_accepted_status, mql.crm_rejected_status = "working", "nurture"
    mql.sla_policy = policy.name
    stages["mql"] = stage_save(stage=mql, actor=actor)
    return stages


def calendar_for(team, *, actor=None):
    """Business hours 09:00–17:00 UTC, Monday to Friday, for ``team``."""
    return business_calendar_save(
        calendar=BusinessCalendar(name=f"{team.name} hours", time_zone="UTC", working_days=[0, 1, 2, 3, 4]),
        teams=[team],
        actor=actor or UserFactory(),
    )


def rep_login(username, role=roles.REP, rep=None):
    """A user with ``role`` linked to ``rep`` (a new rep in a new team when None); ``(user, rep)``."""
    user = UserFactory(username=username, is_staff=True)
    roles.assign_role(user, role)
    rep = rep or RepFactory(team=TeamFactory())
    rep.user = user
    rep.save(update_fields=["user"])
    return user, rep
