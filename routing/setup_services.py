"""Write services for routing setup: business calendars, pools (with their members), routing rules, SLA policies.

Config-as-code (``routing.configuration``) and the admin (``routing.admin``) write through these.
Each is keyword-only and atomic: it validates (``full_clean`` plus the routing checks, all errors
at once) and writes inside ``audited(actor=…, reason=…)`` so every history row names the actor.
Routing rules are saved by ``routing.services.routing_rule_save`` (which runs the model's checks too).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.db import transaction

from revops import conditions
from revops.audit import audited
from revops.configuration.base import format_time
from revops.models import Automation, Team

from .models import BusinessCalendar, Pool, PoolMember, RoutingRule, SlaPolicy
from .services import ROUTING_KIND

# --- validation helpers --------------------------------------------------------------------------


def _merge(errors: dict[str, list[str]], exc: ValidationError) -> None:
    """Add ``exc``'s messages to ``errors`` by field, without repeating a message."""
    items = exc.message_dict.items() if hasattr(exc, "error_dict") else [("__all__", exc.messages)]
    for name, messages in items:
        errors.setdefault(name, []).extend(m for m in messages if m not in errors.get(name, []))


def _clean_conditions(obj: RoutingRule | SlaPolicy, errors: dict[str, list[str]]) -> None:
    """Canonical lead conditions and the fields they read, or an error on ``conditions``."""
    try:
        obj.conditions = conditions.clean_condition(obj.conditions or {"all": []}, object_type="lead")
        obj.fields_used = sorted(conditions.fields_used(obj.conditions))
    except ValidationError as exc:
        errors["conditions"] = exc.messages


def _full_clean(obj, errors: dict[str, list[str]], exclude=()) -> None:
    """The model's own checks (fields, uniqueness, constraints) added to ``errors``."""
    try:
        obj.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        _merge(errors, exc)


# --- business calendars --------------------------------------------------------------------------


def business_calendar_clean(calendar: BusinessCalendar) -> None:
    """Validate ``calendar``: a known time zone, at least one working day, a day that ends after it starts."""
    errors: dict[str, list[str]] = {}
    _full_clean(calendar, errors)
    try:
        if not calendar.time_zone:
            raise ValueError
        ZoneInfo(calendar.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        errors["time_zone"] = [f"unknown time zone {calendar.time_zone!r} (use an IANA name such as Europe/Berlin)"]
    if not calendar.working_days:
        errors["working_days"] = ["a business calendar needs at least one working day"]
    if calendar.day_end <= calendar.day_start:
        errors["day_end"] = [
            f"the working day must end after it starts ({format_time(calendar.day_end)} is not after "
            f"{format_time(calendar.day_start)})"
        ]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def business_calendar_save(
    *, calendar: BusinessCalendar, teams: list[Team] | None = None, actor, reason: str = ""
) -> BusinessCalendar:
    """Validate and save a business calendar (and set its teams when given); history names ``actor``."""
    business_calendar_clean(calendar)
    with audited(actor=actor, reason=reason or f"business calendar {calendar.name} saved"):
        calendar.save()
        if teams is not None:
            calendar.teams.set(teams)
    return calendar


@transaction.atomic
def business_calendar_delete(*, calendar: BusinessCalendar, actor, reason: str = "") -> None:
    """Delete a business calendar; its teams fall back to the default calendar (or 24/7)."""
    with audited(actor=actor, reason=reason or f"business calendar {calendar.name} deleted"):
        calendar.delete()


# --- pools ---------------------------------------------------------------------------------------


def pool_clean(pool: Pool) -> None:
    """Validate ``pool`` as the admin's form does: its fields, and working hours that end after they start."""
    errors: dict[str, list[str]] = {}
    _full_clean(pool, errors, exclude=["last_rep"])
    if pool.respect_working_hours and pool.working_hours_start >= pool.working_hours_end:
        errors["working_hours_end"] = [
            f"working hours end after they start ({format_time(pool.working_hours_end)} is not after "
            f"{format_time(pool.working_hours_start)})"
        ]
    if errors:
        raise ValidationError(errors)


def pool_member_problems(*, rep, team, role: str) -> dict[str, str]:
    """What is wrong with a pool entry's rep, team and role, by field (``""``: the entry); empty when nothing.

    An entry is a rep or a team, never both or neither; a role only narrows a team. Shared by
    ``pool_save`` and the admin's member inline (which saves through its formset).
    """
    if (rep is None) == (team is None):
        return {"": "give either a rep or a team (with an optional role), not both"}
    if rep is not None and role:
        return {"role": "a role narrows a team; leave it out for a single rep"}
    return {}


def _member_key(rep_id: int | None, team_id: int | None, role: str) -> tuple:
    return ("rep", rep_id) if rep_id is not None else ("team", team_id, role.strip().casefold())


def _spec_key(spec: dict[str, Any]) -> tuple:
    rep, team = spec.get("rep"), spec.get("team")
    return _member_key(
        rep.pk if rep is not None else None, team.pk if team is not None else None, spec.get("role") or ""
    )


def _pool_members_set(pool: Pool, members: list[dict[str, Any]]) -> None:
    """Make the pool's member list ``members`` (in rotation order); keep the entries that stay (by rep, or team and role)."""
    # Wait for routing that is picking from this pool (it holds the row lock until it commits).
    Pool.objects.select_for_update().filter(pk=pool.pk).first()
    errors: dict[str, list[str]] = {}
    seen: dict[tuple, int] = {}
    for index, spec in enumerate(members):
        problems = pool_member_problems(rep=spec.get("rep"), team=spec.get("team"), role=spec.get("role") or "")
        if "" in problems:
            errors[f"members[{index}]"] = [problems[""]]
            continue
        if "role" in problems:
            errors[f"members[{index}].role"] = [problems["role"]]
        key = _spec_key(spec)
        if key in seen:
            errors[f"members[{index}]"] = [f"duplicate of members[{seen[key]}]"]
        seen.setdefault(key, index)
    if errors:
        raise ValidationError(errors)
    existing: dict[tuple, PoolMember] = {}
    stale: list[PoolMember] = []
    for member in pool.members.order_by("position", "pk"):
        key = _member_key(member.rep_id, member.team_id, member.role)
        if key in existing:
            stale.append(member)  # a second entry for the same rep (or team and role): the file lists it once
        else:
            existing[key] = member
    for position, spec in enumerate(members):
        member = existing.pop(_spec_key(spec), None) or PoolMember(pool=pool)
        values = {
            "rep": spec.get("rep"),
            "team": spec.get("team"),
            "role": spec.get("role") or "",
            "weight": spec.get("weight", 1),
            "max_open_leads": spec.get("max_open_leads"),
            "max_per_day": spec.get("max_per_day"),
            "is_active": spec.get("is_active", True),
            "position": position,
        }
        changed = member.pk is None
        for name, value in values.items():
            current = getattr(member, f"{name}_id") if name in ("rep", "team") else getattr(member, name)
            wanted = value.pk if name in ("rep", "team") and value is not None else value
            if current != wanted:
                setattr(member, name, value)
                changed = True
        if not changed:
            continue
        try:
            member.full_clean(exclude=["pool"])
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                where = f"members[{position}]" + ("" if name == "__all__" else f".{name}")
                errors.setdefault(where, []).extend(messages)
            continue
        member.save()
    if errors:
        raise ValidationError(errors)
    for member in [*existing.values(), *stale]:
        member.delete()


@transaction.atomic
def pool_save(*, pool: Pool, members: list[dict[str, Any]] | None = None, actor, reason: str = "") -> Pool:
    """Validate and save a pool; with ``members``, replace its member list with them.

    ``members`` are maps of ``PoolMember`` fields (``rep``/``team`` as objects) in rotation order.
    Entries that stay (same rep, or same team and role) keep their row; the others are deleted. The
    pool's counters are per rep, so a rep who stays keeps their share.
    """
    pool_clean(pool)
    with audited(actor=actor, reason=reason or f"pool {pool.name} saved"):
        pool.save()
        if members is not None:
            _pool_members_set(pool, members)
    return pool


def routing_queue_users(queue_name: str) -> list[str]:
    """What sends leads to the exception queue ``queue_name`` for manual review: rules and fallbacks."""
    users = [
        f"routing rule {name!r}"
        for name in RoutingRule.objects.filter(target_queue=queue_name)
        .order_by("priority", "pk")
        .values_list("name", flat=True)
    ]
    for automation in (
        Automation.objects.filter(kind=ROUTING_KIND).exclude(mode=Automation.Mode.RETIRED).order_by("name")
    ):
        fallback = (automation.config or {}).get("fallback") or {}
        if fallback.get("type") == "queue" and fallback.get("queue") == queue_name:
            users.append(f"the routing automation {automation.name!r} (its fallback)")
    return users


def pool_users(pool: Pool) -> list[str]:
    """What still routes to ``pool``: routing rules, and routing automations (not retired) falling back to it."""
    users = [f"routing rule {name!r}" for name in pool.rules.order_by("priority", "pk").values_list("name", flat=True)]
    for automation in (
        Automation.objects.filter(kind=ROUTING_KIND).exclude(mode=Automation.Mode.RETIRED).order_by("name")
    ):
        fallback = (automation.config or {}).get("fallback") or {}
        if fallback.get("type") == "pool" and fallback.get("pool") == pool.name:
            users.append(f"the routing automation {automation.name!r} (its fallback)")
    return users


@transaction.atomic
def pool_delete(*, pool: Pool, actor, reason: str = "") -> None:
    """Delete a pool that nothing routes to (its members and counters go with it; decisions keep their text)."""
    users = pool_users(pool)
    if users:
        raise ValidationError(
            f"{', '.join(users)} still route(s) to pool {pool.name!r}; change them first, "
            "or keep the pool (is_active: false)."
        )
    with audited(actor=actor, reason=reason or f"pool {pool.name} deleted"):
        pool.delete()


# --- routing rules -------------------------------------------------------------------------------


@transaction.atomic
def routing_rule_delete(*, rule: RoutingRule, actor, reason: str = "") -> None:
    """Delete a routing rule; its decisions keep the rule's name."""
    with audited(actor=actor, reason=reason or f"routing rule {rule.name} deleted"):
        rule.delete()


# --- SLA policies --------------------------------------------------------------------------------


def sla_policy_clean(policy: SlaPolicy) -> None:
    """Validate ``policy``: its fields, lead conditions (canonicalised, ``fields_used`` derived), a target ≥ 1 minute."""
    errors: dict[str, list[str]] = {}
    _full_clean(policy, errors, exclude=["conditions", "fields_used"])
    _clean_conditions(policy, errors)
    if policy.target_minutes is not None and policy.target_minutes < 1:
        errors.setdefault("target_minutes", []).append("the response target must be at least 1 minute")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def sla_policy_save(*, policy: SlaPolicy, actor, reason: str = "") -> SlaPolicy:
    """Validate and save an SLA policy; history names ``actor``. Running clocks keep their target."""
    sla_policy_clean(policy)
    with audited(actor=actor, reason=reason or f"SLA policy {policy.name} saved"):
        policy.save()
    return policy


@transaction.atomic
def sla_policy_delete(*, policy: SlaPolicy, actor, reason: str = "") -> None:
    """Delete an SLA policy; its clocks keep the policy's name and their target."""
    with audited(actor=actor, reason=reason or f"SLA policy {policy.name} deleted"):
        policy.delete()
