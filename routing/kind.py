"""The ``lead_routing`` automation kind: routes new leads through the ordered routing rules.

One automation of this kind (object type lead, trigger "record created") is the router. Its own
conditions are a gate (e.g. skip converted leads); its config holds what the rules share:

```
{"fallback": {"type": "pool", "pool": "Inbound overflow"},   # or rep / queue / none
 "fuzzy_threshold": 90,       # account name matching, 0–100
 "review_unmatched": false,   # also an item when a business lead matches no account
 "route_owned_leads": false,  # leads that arrive with an owner keep it
 "start_sla": true}           # start the response clock of the first matching SLA policy
```

Live mode picks pool members under the pool's row lock inside the run's transaction (the
engine holds it until the run commits), so concurrent workers never break fairness or caps.
Shadow mode decides without locking and applies nothing; both write a ``RoutingDecision``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from exceptions.queues import queue_require
from revops.engine.kinds import AutomationKind, register
from revops.engine.types import Outcome
from revops.models import Lead, Rep

from .bulk import BATCH_LOOKUPS
from .engine import DbLookups, Router, RoutingConfig, compile_rules, decision_row, load_rules
from .models import Pool, RoutingDecision, SlaClock, SlaPolicy
from .plan_actions import plan_actions
from .selectors import reassignment_rates

FALLBACK_TYPES = ("pool", "rep", "queue", "none")


def _err(message: str):
    return ValidationError({"config": message})


@register
class LeadRouting(AutomationKind):
    """Route a lead: match its account, apply the first routing rule that can take it, start its SLA."""

    key = "lead_routing"
    label = "Lead routing"
    description = (
        "Matches the lead to an account, applies the ordered routing rules (Routing → Routing rules), "
        'assigns the owner and starts the response SLA. Config: {"fallback": {"type": "pool"|"rep"|"queue"|"none", '
        '"pool"|"rep"|"queue": name}, "fuzzy_threshold": 90, "review_unmatched": false, '
        '"route_owned_leads": false, "start_sla": true}.'
    )
    object_types = ("lead",)
    run_order = 0  # before the lead's other automations, so they see the owner it assigns
    runs_while_paused = True  # paused, it sends new leads to the fallback with an item instead of holding them
    paused_help = (
        "new leads are not held: each goes to the fallback owner set in this automation's config, with a "
        "'Routing paused' exception item that says why, so no lead waits unassigned."
    )

    def validate_config(self, config: dict[str, Any], *, object_type: str) -> dict[str, Any]:
        allowed = {"fallback", "fuzzy_threshold", "review_unmatched", "route_owned_leads", "start_sla"}
        unknown = sorted(set(config) - allowed)
        if unknown:
            raise _err(
                f"{self.label} has no parameter {', '.join(map(repr, unknown))} (allowed: {', '.join(sorted(allowed))})."
            )
        fallback = config.get("fallback") or {"type": "none"}
        if not isinstance(fallback, dict) or fallback.get("type") not in FALLBACK_TYPES:
            raise _err(f"fallback.type must be one of {', '.join(FALLBACK_TYPES)}.")
        kind = fallback["type"]
        extra = sorted(set(fallback) - {"type", kind})
        if extra:
            raise _err(f"fallback of type {kind} takes only {kind!r}, not {', '.join(map(repr, extra))}.")
        if kind != "none":
            name = fallback.get(kind)
            if not isinstance(name, str) or not name.strip():
                raise _err(f"fallback.{kind} must name the {kind}.")
            if kind == "pool" and not Pool.objects.filter(name=name).exists():
                raise _err(f"fallback.pool: there is no pool named {name!r}.")
            if kind == "rep" and not Rep.objects.filter(external_id=name).exists():
                raise _err(f"fallback.rep: there is no rep with external id {name!r}.")

        threshold = config.get("fuzzy_threshold", 90)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 50 <= threshold <= 100:
            raise _err("fuzzy_threshold must be a number between 50 and 100.")
        flags = {}
        for key, default in (("review_unmatched", False), ("route_owned_leads", False), ("start_sla", True)):
            value = config.get(key, default)
            if not isinstance(value, bool):
                raise _err(f"{key} is true or false.")
            flags[key] = value
        return {"fallback": {k: v for k, v in fallback.items()}, "fuzzy_threshold": threshold, **flags}

    def evaluate(self, record, *, version, predicate, context) -> Outcome:
        matched, explanation = context.conditions_checked(predicate)
        explanation["kind"] = self.key
        if not matched:
            return Outcome(fired=False, explanation=explanation, summary="The routing gate's conditions do not hold.")
        config = RoutingConfig.from_config(context.config)
        options = context.options or {}
        if record.owner_id and not config.route_owned_leads and not options.get("force"):
            owner = record.owner
            return Outcome(
                fired=False,
                explanation=explanation,
                summary=f"Not routed: {record} arrived with an owner ({owner.name if owner else record.owner_id}).",
            )
        batch = context.cache.values.get(BATCH_LOOKUPS) if context.cache is not None else None
        live = context.automation.mode == "live"
        if live and batch is None and record.pk is not None:
            # The lead before its pools, as the bulk driver locks them: a lead routed alone and the same
            # lead in a bulk chunk never wait for each other in a circle.
            list(Lead.objects.select_for_update().filter(pk=record.pk).values_list("pk", flat=True))
        router = build_router(config=config, lock=live, context=context, lookups=batch)
        pause = options.get("paused")
        plan = router.decide(
            record,
            match=batch.match_for(record) if batch is not None else None,
            now=context.now,
            exclude_rep_ids=options.get("exclude") or (),
            reason=options.get("reason", ""),
            paused=pause.sentence(context.automation.name) if pause is not None else "",
        )
        # The plan's explanation is stored once, with the decision (``record_outcome``), which the Why page shows.
        return Outcome(
            fired=True,
            actions=plan_actions(plan, record),
            explanation=explanation,
            summary=plan.summary,
            expected_next=plan.expected_next(),
            data=plan,
        )

    def run_batch(self, rule, items, *, now, cache) -> dict[int, str]:
        """Route many new leads in one transaction (``routing.bulk``): same decisions, set-based writes."""
        from .bulk import run_batch

        return run_batch(self, rule, items, now=now, cache=cache, setup=routing_setup())

    def reference_problems(self, config: dict[str, Any]) -> list[str]:
        """A fallback to manual review must name an existing exception queue."""
        fallback = config.get("fallback") or {}
        if fallback.get("type") != "queue":
            return []
        try:
            queue_require(fallback.get("queue", ""), field="fallback")
        except ValidationError as exc:
            return [f"fallback.queue: {exc.message_dict['fallback'][0]}"]
        return []

    def admin_report(self, *, days: int):
        """ "Reassignment rate (30 d): 12% of 40 routed leads — per rule: routing rules · decisions"."""
        rates = reassignment_rates(since=timezone.now() - dt.timedelta(days=days))
        assigned = sum(entry["assigned"] for entry in rates.values())
        reassigned = sum(entry["reassigned"] for entry in rates.values())
        if assigned:
            rate = f"{reassigned * 100 / assigned:.0f}% of {assigned} routed lead{'s' if assigned != 1 else ''}"
            rate += f" ({reassigned} reassigned by hand)"
        else:
            rate = "no routed leads yet"
        return format_html(
            'Reassignment rate ({} d): {} — per rule: <a href="{}">routing rules</a> · <a href="{}">decisions</a>',
            days,
            rate,
            reverse("admin:routing_routingrule_changelist"),
            reverse("admin:routing_routingdecision_changelist"),
        )

    def record_outcome(self, *, run, outcome, applied, context) -> None:
        """Write the ``RoutingDecision`` of a fired run (same transaction as its actions)."""
        if not outcome.fired or outcome.data is None:
            return
        decision = decision_record(
            plan=outcome.data,
            lead=context.record,
            run=run,
            mode=run.mode,
            event=context.event,
            now=context.now,
        )
        clocks = [row.after.get("clock_id") for row in applied if row.action == "start_sla_clock" and row.after]
        clocks = [pk for pk in clocks if pk]
        if clocks:
            SlaClock.objects.filter(pk__in=clocks).update(decision=decision)


_setup_cache: dict = {}


def routing_setup() -> tuple[list, list, list]:
    """(live + shadow rules, active SLA policies, calendars), cached per process until one of them changes.

    One query checks whether anything changed: the latest change and row count of rules, policies,
    calendars (their history) and pools (rules carry their target pool). Changes made with
    ``QuerySet.update()`` (which leaves ``updated_at`` alone) are not noticed until the next real save.
    """
    from django.db import connection

    from .models import BusinessCalendar, Pool, RoutingRule
    from .sla import load_calendars, load_policies

    parts = []
    for model, column in (
        (RoutingRule, "updated_at"),
        (SlaPolicy, "updated_at"),
        (BusinessCalendar.history.model, "history_date"),
        (Pool, "updated_at"),
    ):
        table = connection.ops.quote_name(model._meta.db_table)
        parts.append(f"(SELECT MAX({column}) FROM {table}), (SELECT COUNT(*) FROM {table})")
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts))
        stamp = tuple(cursor.fetchone())
    if _setup_cache.get("stamp") != stamp:
        _setup_cache["value"] = (load_rules(), load_policies(), load_calendars())
        _setup_cache["stamp"] = stamp
    return _setup_cache["value"]


def routing_warm_up() -> None:
    """Load this process's account index (with its fuzzy name search), routing setup and compiled rules
    (a forking worker's warm-up)."""
    from revops import conditions

    from .matching import account_index

    account_index().prepare_fuzzy()
    fields = conditions.load_fields()
    compile_rules(routing_setup()[0], fields)


def build_router(*, config: RoutingConfig, lock: bool, context=None, statuses=None, lookups=None) -> Router:
    """A router over the stored rules (live + shadow by default, cached per process) with database
    lookups, or ``lookups`` (the bulk driver's, ``routing.bulk.BatchLookups``)."""
    from revops import conditions

    from .matching import account_index
    from .sla import load_calendars, load_policies

    fields = context.fields if context is not None and context.fields is not None else conditions.load_fields()
    if lookups is not None and statuses is None:  # the bulk driver read them once for its chunk
        rules, policies, calendars = lookups.setup
    elif statuses is None:
        rules, policies, calendars = routing_setup()
    else:
        rules, policies, calendars = load_rules(statuses), load_policies(), load_calendars()
    return Router(
        rules=compile_rules(rules, fields),
        config=config,
        lookups=lookups if lookups is not None else DbLookups(lock=lock),
        index=lookups.index if lookups is not None else account_index(),
        policies=policies,
        calendars=calendars,
        fields=fields,
    )


def decision_record(*, plan, lead, run=None, mode: str = "live", event=None, now=None) -> RoutingDecision:
    """Store ``plan`` as the lead's decision, with its explanation (stored here only: the run keeps its
    gate's conditions); latency counts from the CRM event's arrival when known.

    ``decided_at`` is the moment routing evaluated (``now``: the engine's clock, in the past when
    leads are replayed as they arrived); daily pool caps count decisions by it.
    """
    committed = timezone.now()
    arrived = getattr(event, "created_at", None)
    latency = (committed - arrived).total_seconds() * 1000 if arrived else 0.0
    explanation = {**plan.explanation(), "latency_ms": round(latency, 1)}
    decision = decision_row(plan, lead=lead, run=run, mode=mode, decided_at=now or committed, explanation=explanation)
    decision.latency_ms = round(latency, 3)
    decision.save()
    return decision
