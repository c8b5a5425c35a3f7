"""Configuration as code for routing: ``business_calendars``, ``pools``, ``routing_rules``, ``sla_policies``.

Imported from ``RoutingConfig.ready`` so the sections join ``revops.configuration`` (export, plan,
apply, prune; the file format is in docs/config.md). References are by the CRM's external ids
(reps, teams) and by name (pools), never by database ids, so a file applies to any portal.

Section order (lower is applied first and pruned last): the dictionary (10), business calendars
(12), pools (14), automations (20, the routing automation's fallback may name a pool), routing
rules (30, they target pools), SLA policies (32).

Every change goes through the write services of ``routing.setup_services`` (calendars, pools,
routing rules, SLA policies): keyword-only, atomic, ``full_clean`` plus the routing rules, history
attributed with ``audited``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError

from revops import conditions
from revops.configuration.base import Attr, Entry, Run, Section, format_time, register_section
from revops.configuration.document import sorted_deep
from revops.models import Rep, Team

from .models import BusinessCalendar, Pool, RoutingRule, SlaPolicy, default_weekdays
from .services import routing_rule_save
from .setup_services import (
    business_calendar_delete,
    business_calendar_save,
    pool_delete,
    pool_save,
    routing_rule_delete,
    sla_policy_delete,
    sla_policy_save,
)

# --- sections ------------------------------------------------------------------------------------


def _time(value: str) -> dt.time:
    return dt.time.fromisoformat(value)


def _canonical_conditions(tree: Any) -> Any:
    """``tree`` as the services would store it (sorted keys), or as written when it is invalid."""
    try:
        return sorted_deep(conditions.clean_condition(tree or {"all": []}, object_type="lead"))
    except ValidationError:
        return sorted_deep(tree or {})


class _NamedSection(Section):
    """A section of model rows identified by their unique ``name``."""

    model: Any
    ordering: tuple[str, ...] = ("name",)
    identity_attrs = ("name",)

    def identity(self, data: dict[str, Any]) -> str:
        return data["name"]

    def describe(self, key: str) -> str:
        return repr(key)

    def queryset(self):
        return self.model.objects.order_by(*self.ordering)

    def stored(self) -> dict[str, Any]:
        return {row.name: row for row in self.queryset()}

    def serialize(self, obj: Any) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for a in self.attrs:
            value = getattr(obj, a.name)
            if a.type == "time":
                value = format_time(value)
            elif a.type == "weekdays":
                value = sorted({int(d) for d in value or []})
            elif a.type == "date_list":
                value = sorted({str(d) for d in value or []})
            elif a.type == "float":
                value = float(value)
            data[a.name] = value
        return data

    def create(self, entry: Entry, desired: dict[str, Any], run: Run) -> None:
        if not self.incomplete(desired):
            self._save(self.model(), entry, desired, run)

    def update(self, obj: Any, entry: Entry, changes: dict[str, Any], run: Run) -> None:
        if not self.incomplete(changes):
            self._save(obj, entry, changes, run)

    def _save(self, obj: Any, entry: Entry, values: dict[str, Any], run: Run) -> None:
        """Set ``values`` on ``obj`` (resolving references) and call the section's save service."""
        raise NotImplementedError

    def incomplete(self, values: dict[str, Any]) -> bool:
        """Whether a required key is missing (already reported by the file check; nothing to save)."""
        return any(a.required and a.name in values and values[a.name] in (None, "") for a in self.attrs)

    def remove(self, key: str, obj: Any, run: Run) -> None:
        location = self.location(None, key)
        run.change(self.name, "delete", self.describe(key), location)
        run.call(location, self.delete_service, actor=run.actor, reason=run.reason, **{self.delete_arg: obj})

    delete_arg: str
    delete_service: Any


def _lookup(model, external_id: str, what: str, entry: Entry, key: str, run: Run):
    """The record with ``external_id``, or None and a located problem."""
    obj = model.objects.filter(external_id=external_id).first()
    if obj is None:
        run.error(entry.location, key, f"no {what} with external id {external_id!r}")
    return obj


@register_section
class BusinessCalendarSection(_NamedSection):
    """Business calendars: working days and hours in one time zone, holidays, the teams that use them.

    ``teams`` are team external ids. A calendar the file creates or changes may not share a team
    with another calendar, nor be a second default; both are checked once the file's calendars
    are applied, so a team or the default can move between calendars within one file.
    """

    name = "business_calendars"
    order = 12
    model = BusinessCalendar
    attrs = (
        Attr("name", required=True),
        Attr("time_zone", default="UTC"),
        Attr("working_days", "weekdays", default=default_weekdays),
        Attr("day_start", "time", default="09:00"),
        Attr("day_end", "time", default="17:00"),
        Attr("holidays", "date_list", default=list),
        Attr("teams", "text_list", default=list),
        Attr("is_default", "bool", default=False),
    )

    def queryset(self):
        return BusinessCalendar.objects.prefetch_related("teams").order_by("name")

    def serialize(self, obj: BusinessCalendar) -> dict[str, Any]:
        data = super().serialize(obj)
        data["teams"] = sorted(team.external_id for team in obj.teams.all())
        return data

    def normalize(self, entry: Entry, run: Run) -> dict[str, Any]:
        data = dict(entry.data)
        data["teams"] = sorted(set(data["teams"]))
        return data

    def _teams(self, entry: Entry, external_ids: list[str], run: Run) -> list[Team] | None:
        found = {t.external_id: t for t in Team.objects.filter(external_id__in=external_ids)}
        missing = [e for e in external_ids if e not in found]
        for external_id in missing:
            run.error(entry.location, "teams", f"no team with external id {external_id!r}")
        return None if missing else [found[e] for e in external_ids]

    def _save(self, calendar: BusinessCalendar, entry: Entry, values: dict[str, Any], run: Run) -> None:
        self.touched.add(entry.key)
        teams = self._teams(entry, values["teams"], run) if "teams" in values else None
        if "teams" in values and teams is None:
            return
        for name, value in values.items():
            if name != "teams":
                setattr(calendar, name, _time(value) if name in ("day_start", "day_end") else value)
        run.call(
            entry.location, business_calendar_save, calendar=calendar, teams=teams, actor=run.actor, reason=run.reason
        )

    delete_arg = "calendar"
    delete_service = staticmethod(business_calendar_delete)

    def upsert(self, entries, run: Run) -> None:
        """Create and update, then check the calendars this file changed: one default, one calendar per team."""
        self.touched: set[str] = set()
        entries = list(entries)
        super().upsert(entries, run)
        in_file = {entry.key: entry for entry in entries if entry.key in self.touched}
        calendars = list(self.queryset())
        defaults = [c.name for c in calendars if c.is_default]
        if len(defaults) > 1:
            for name in defaults:
                if name in in_file:
                    others = ", ".join(repr(n) for n in defaults if n != name)
                    run.error(
                        in_file[name].location, "is_default", f"only one calendar can be the default; so is {others}"
                    )
        owners: dict[str, list[str]] = {}
        for calendar in calendars:
            for team in calendar.teams.all():
                owners.setdefault(team.external_id, []).append(calendar.name)
        for external_id, names in sorted(owners.items()):
            if len(names) > 1:
                for name in names:
                    if name in in_file:
                        others = ", ".join(repr(n) for n in names if n != name)
                        run.error(
                            in_file[name].location,
                            "teams",
                            f"team {external_id} is also in calendar {others}; a team has one calendar",
                        )


MEMBER_ATTRS = (
    Attr("rep"),
    Attr("team"),
    Attr("role"),
    Attr("weight", "int", default=1),
    Attr("max_open_leads", "int", default=None, nullable=True),
    Attr("max_per_day", "int", default=None, nullable=True),
    Attr("is_active", "bool", default=True),
)


@register_section
class PoolSection(_NamedSection):
    """Pools with their members (rep or team external ids, in rotation order).

    Apply replaces a pool's member list with the file's. Prune deletes a pool only when no routing
    rule targets it and no routing automation falls back to it.
    """

    name = "pools"
    order = 14
    model = Pool
    attrs = (
        Attr("name", required=True),
        Attr("description"),
        Attr("strategy", default=Pool.Strategy.WEIGHTED.value),
        Attr("max_open_leads", "int", default=None, nullable=True),
        Attr("max_per_day", "int", default=None, nullable=True),
        Attr("respect_working_hours", "bool", default=False),
        Attr("working_hours_start", "time", default="09:00"),
        Attr("working_hours_end", "time", default="17:00"),
        Attr("working_days", "weekdays", default=default_weekdays),
        Attr("is_active", "bool", default=True),
        Attr("members", "entries", default=list, items=MEMBER_ATTRS),
    )

    def queryset(self):
        return Pool.objects.prefetch_related("members__rep", "members__team").order_by("name")

    def serialize(self, obj: Pool) -> dict[str, Any]:
        data = super().serialize(obj)
        members = []
        for member in sorted(obj.members.all(), key=lambda m: (m.position, m.pk)):
            values = {
                "rep": member.rep.external_id if member.rep_id else "",
                "team": member.team.external_id if member.team_id else "",
                "role": member.role,
                "weight": member.weight,
                "max_open_leads": member.max_open_leads,
                "max_per_day": member.max_per_day,
                "is_active": member.is_active,
            }
            members.append({a.name: values[a.name] for a in MEMBER_ATTRS if values[a.name] != a.empty()})
        data["members"] = members
        return data

    def _members(self, entry: Entry, members: list[dict[str, Any]], run: Run) -> list[dict[str, Any]] | None:
        resolved, ok = [], True
        for index, spec in enumerate(members):
            item = dict(spec)
            for key, model, what in (("rep", Rep, "rep"), ("team", Team, "team")):
                if spec.get(key):
                    item[key] = _lookup(model, spec[key], what, entry, f"members[{index}].{key}", run)
                    ok = ok and item[key] is not None
                else:
                    item[key] = None
            resolved.append(item)
        return resolved if ok else None

    def _save(self, pool: Pool, entry: Entry, values: dict[str, Any], run: Run) -> None:
        members = self._members(entry, values["members"], run) if "members" in values else None
        if "members" in values and members is None:
            return
        for name, value in values.items():
            if name != "members":
                setattr(pool, name, _time(value) if name.startswith("working_hours_") else value)
        run.call(entry.location, pool_save, pool=pool, members=members, actor=run.actor, reason=run.reason)

    delete_arg = "pool"
    delete_service = staticmethod(pool_delete)


@register_section
class RoutingRuleSection(_NamedSection):
    """Routing rules, in the order they are tried (priority, then creation).

    ``target_rep`` is a rep external id, ``target_pool`` a pool name. Conditions and the target
    are validated by ``routing_rule_clean``; ``fields_used`` is derived and not in the file.
    """

    name = "routing_rules"
    order = 30
    model = RoutingRule
    ordering = ("priority", "pk")
    attrs = (
        Attr("name", required=True),
        Attr("description"),
        Attr("priority", "int", default=100),
        Attr("status", default=RoutingRule.Status.DRAFT.value),
        Attr("conditions", "map", default=dict),
        Attr("target_type", required=True),
        Attr("target_rep"),
        Attr("target_pool"),
        Attr("target_queue"),
        Attr("approval_owner"),
        Attr("use_parent_account", "bool", default=True),
        Attr("when_unavailable", default=RoutingRule.WhenUnavailable.NEXT_RULE.value),
    )

    def queryset(self):
        return RoutingRule.objects.select_related("target_rep", "target_pool").order_by("priority", "pk")

    def serialize(self, obj: RoutingRule) -> dict[str, Any]:
        data = super().serialize(obj)
        data["conditions"] = _canonical_conditions(obj.conditions)
        data["target_rep"] = obj.target_rep.external_id if obj.target_rep_id else ""
        data["target_pool"] = obj.target_pool.name if obj.target_pool_id else ""
        return data

    def normalize(self, entry: Entry, run: Run) -> dict[str, Any]:
        data = dict(entry.data)
        data["conditions"] = _canonical_conditions(data["conditions"])
        if data["target_type"] == RoutingRule.Target.APPROVAL and not data["approval_owner"]:
            data["approval_owner"] = RoutingRule.ApprovalOwner.ACCOUNT_OWNER.value  # as routing_rule_clean does
        return data

    def _save(self, rule: RoutingRule, entry: Entry, values: dict[str, Any], run: Run) -> None:
        values = dict(values)
        ok = True
        if "target_rep" in values:
            ref = values.pop("target_rep")
            rule.target_rep = _lookup(Rep, ref, "rep", entry, "target_rep", run) if ref else None
            ok = ok and (rule.target_rep is not None or not ref)
        if "target_pool" in values:
            ref = values.pop("target_pool")
            rule.target_pool = Pool.objects.filter(name=ref).first() if ref else None
            if ref and rule.target_pool is None:
                run.error(entry.location, "target_pool", f"no pool named {ref!r}")
                ok = False
        if not ok:
            return
        for name, value in values.items():
            setattr(rule, name, value)
        run.call(entry.location, routing_rule_save, rule=rule, actor=run.actor, reason=run.reason)

    delete_arg = "rule"
    delete_service = staticmethod(routing_rule_delete)


@register_section
class SlaPolicySection(_NamedSection):
    """Response-SLA policies, in the order they are tried (priority, then creation)."""

    name = "sla_policies"
    order = 32
    model = SlaPolicy
    ordering = ("priority", "pk")
    attrs = (
        Attr("name", required=True),
        Attr("description"),
        Attr("priority", "int", default=100),
        Attr("is_active", "bool", default=True),
        Attr("conditions", "map", default=dict),
        Attr("target_minutes", "int", required=True),
        Attr("reminder_share", "float", default=0.5),
        Attr("use_business_hours", "bool", default=False),
        Attr("reroute_on_breach", "bool", default=False),
    )

    def serialize(self, obj: SlaPolicy) -> dict[str, Any]:
        data = super().serialize(obj)
        data["conditions"] = _canonical_conditions(obj.conditions)
        return data

    def normalize(self, entry: Entry, run: Run) -> dict[str, Any]:
        data = dict(entry.data)
        data["conditions"] = _canonical_conditions(data["conditions"])
        return data

    def _save(self, policy: SlaPolicy, entry: Entry, values: dict[str, Any], run: Run) -> None:
        for name, value in values.items():
            setattr(policy, name, value)
        run.call(entry.location, sla_policy_save, policy=policy, actor=run.actor, reason=run.reason)

    delete_arg = "policy"
    delete_service = staticmethod(sla_policy_delete)
