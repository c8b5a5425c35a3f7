"""Routing's versioned configuration: rules, pools (with their members) and SLA policies.

Registered with ``revops.versions`` in ``RoutingConfig.ready``; a restore goes through the same
service as an edit (``routing_rule_save``, ``pool_save``, ``sla_policy_save``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from revops.models import Rep, Team
from revops.versions import Child, apply_fields, missing_references, register_versioned, restore_with_save, versioned

from .models import Pool, PoolMember, RoutingRule, SlaPolicy
from .services import routing_rule_save
from .setup_services import pool_save, sla_policy_save

MEMBERS = "members"


def pool_restore(pool: Pool, data: dict, *, actor, reason: str) -> None:
    """Put a pool's fields and member list back as a version had them; refused when a member rep has
    left (inactive or deleted) or a member team no longer exists."""
    spec = versioned(Pool)
    errors = missing_references(spec, data.get("fields", {}))
    members = []
    rows = data.get(MEMBERS, [])
    reps = Rep.objects.in_bulk([row["rep"] for row in rows if row.get("rep")])
    teams = Team.objects.in_bulk([row["team"] for row in rows if row.get("team")])
    for index, row in enumerate(rows):
        rep = reps.get(row.get("rep")) if row.get("rep") else None
        team = teams.get(row.get("team")) if row.get("team") else None
        if row.get("rep") and rep is None:
            errors[f"members[{index}]"] = "a rep this version lists no longer exists; edit the pool instead"
            continue
        if rep is not None and not rep.is_active and row.get("is_active", True):
            errors[f"members[{index}]"] = (
                f"{rep.name} is no longer active (left or deactivated in the CRM); this version cannot be "
                "restored as it was — edit the pool instead"
            )
            continue
        if row.get("team") and team is None:
            errors[f"members[{index}]"] = "a team this version lists no longer exists; edit the pool instead"
            continue
        members.append(
            {
                "rep": rep,
                "team": team,
                "role": row.get("role") or "",
                "weight": row.get("weight", 1),
                "max_open_leads": row.get("max_open_leads"),
                "max_per_day": row.get("max_per_day"),
                "is_active": row.get("is_active", True),
            }
        )
    if errors:
        raise ValidationError(errors)
    apply_fields(pool, data.get("fields", {}), spec)
    pool_save(pool=pool, members=members, actor=actor, reason=reason)


def register() -> None:
    register_versioned(
        RoutingRule,
        label="routing rule",
        restore=restore_with_save(lambda rule, **kw: routing_rule_save(rule=rule, **kw)),
        conditions={"conditions": "lead"},
    )
    register_versioned(
        Pool,
        label="pool",
        restore=pool_restore,
        exclude=("last_rep",),
        children=(Child(PoolMember, "pool", MEMBERS, order=("position", "pk")),),
    )
    register_versioned(
        SlaPolicy,
        label="SLA policy",
        restore=restore_with_save(lambda policy, **kw: sla_policy_save(policy=policy, **kw)),
        conditions={"conditions": "lead"},
    )
