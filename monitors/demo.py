"""The monitors' part of the demo, made by the real services from the demo org.

Before the pipeline's past weeks are synced (order 53, ``monitors.demo_history`` at 54 and 56): the
shipped hygiene policies as live ``forecast_hygiene`` automations (created through the engine's
automation service, covering the deals committed to the forecast), so the synced changes run them as
they would in production (a deal moved to commit without its sponsor gets a proposal to move it back
for its manager to approve), and a Monday 09:00 forecast call for each regional sales team in its
manager's time zone. Between the history's phases (order 55): last week's forecast snapshot of every
open deal. After everything (order 70): one hygiene scan, so each manager's queue holds the items the
monitors raise — none written by hand.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from revops.engine.demo import demo_specs_ensure
from revops.models import Automation, Team

from .calls import forecast_call_save
from .hygiene import hygiene_scan
from .models import ForecastCall
from .policies import POLICIES
from .services import forecast_snapshot_take

# The demo's policies cover the deals committed to the forecast (each team may widen this to best case).
IN_FORECAST = {"all": [{"field": "opportunity.forecast_category", "op": "eq", "value": "commit"}]}
REGION_ZONES = {"NA": "America/New_York", "EMEA": "Europe/Berlin", "APAC": "Asia/Singapore"}
# The demo's thresholds where they differ from the shipped defaults.
DEMO_CONFIG = {
    "missing_evidence": {"fields": ["executive_sponsor"], "categories": ["commit"]},
    # A deal moved to commit without its sponsor: the manager is asked to approve moving it back.
    "commit_without_evidence": {"fields": ["executive_sponsor"], "propose_category": "best_case"},
}


def demo_policy_specs() -> list[dict]:
    """One live automation per shipped policy, over the deals in commit."""
    return [
        {
            "name": f"Hygiene: {policy.label}",
            "purpose": f"{policy.description} Raised to the rep's manager before the forecast call.",
            "kind": "forecast_hygiene",
            "object_type": "opportunity",
            "trigger": Automation.Trigger.FIELD_CHANGED,
            "trigger_fields": list(policy.fields),
            "conditions": IN_FORECAST,
            "config": {"policy": key, **DEMO_CONFIG.get(key, {})},
            "mode": Automation.Mode.LIVE,
            "downstream_effect": "None in the CRM: the hourly hygiene scan lists the deal on an item for the rep's manager.",
            "rollback_notes": "Pause it: its findings resolve on the next scan and items close with a note.",
        }
        for key, policy in POLICIES.items()
    ]


def demo_policies_ensure(*, actor) -> list[Automation]:
    """Create the demo's hygiene automations that do not exist yet (by name); return the ones created."""
    return demo_specs_ensure(demo_policy_specs(), actor=actor)


def demo_calls_ensure(*, actor) -> list[ForecastCall]:
    """A Monday 09:00 forecast call for each regional sales team (its sub-teams inherit it), in its
    manager's time zone; teams that have a call keep it."""
    created = []
    for team in Team.objects.filter(region__in=REGION_ZONES, parent__region="").select_related("manager"):
        if ForecastCall.objects.filter(team=team).exists():
            continue
        zone = (
            team.manager.time_zone if team.manager_id and team.manager.time_zone != "UTC" else REGION_ZONES[team.region]
        )
        call = ForecastCall(team=team, weekday=0, time=dt.time(9), time_zone=zone)
        created.append(forecast_call_save(call=call, actor=actor, reason="demo: weekly forecast call"))
    return created


def monitors_demo_snapshot_build(context: dict) -> None:
    """Demo builder (before the CRM's morning sync): last week's snapshot of the open deals."""
    if not context.get("fresh"):
        return
    now = context["now"]
    forecast_snapshot_take(
        taken_on=timezone.localdate(now) - dt.timedelta(days=7),
        actor=context["actor"],
        reason="demo: last week's forecast snapshot",
        now=now,
    )


def monitors_demo_policies_build(context: dict) -> None:
    """Demo builder (order 53, before the pipeline's history is synced, so its changes run them): the
    hygiene policies and the forecast calls."""
    demo_policies_ensure(actor=context["actor"])
    demo_calls_ensure(actor=context["actor"])


def monitors_demo_build(context: dict) -> None:
    """Demo builder (after everything): on a fresh org, one hygiene scan."""
    if not context.get("fresh"):
        return
    counts = hygiene_scan(now=context["now"], reason="demo: hygiene scan")
    if counts.get("items_created"):
        context.setdefault("details", {})["opportunities:with a forecast hygiene item"] = counts["items_created"]
