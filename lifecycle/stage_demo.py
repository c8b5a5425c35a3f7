"""The lifecycle stages of the demo, all made by the real code (registered at order 62, after the CRM's
morning sync, which the scoring model re-scored in shadow beside the CRM's scores):

* the scoring model switched live (``lifecycle_demo_go_live``): every lead re-scored, its score the portal's;

* the stages New → MQL (the live score ≥ 30, answered within the routing demo's "MQL: 24 hours"
  policy) → Sales accepted → SQL (status qualified) → Opportunity (status converted),
  Recycled (rejected MQLs, held 30 days) and Disqualified (status unqualified), through ``stage_save``;
* every lead's stage evaluated by ``lead_stages_evaluate`` as of the hour it arrived;
* the answers: MQLs older than a day accepted or rejected (a reason and a note) by their owner's login
  or their team manager's, one in eight left unanswered so the tick opens its overdue item;
* a sales rep login, ``rep.na`` (group Rep), linked to the North American rep with the most MQLs; their
  three newest MQLs wait for an answer in the browser.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Count

from exceptions import roles
from revops import services as record_services
from revops.demo_records.builders import demo_user_ensure
from revops.engine.registry import sla_timer
from revops.models import Lead, Rep

from .demo import lifecycle_demo_go_live
from .models import REJECTION_REASONS, LeadStage, Stage
from .stage_services import SLA_TIMER, lead_accept, lead_reject, lead_stages_evaluate, lead_stages_tick, stage_save

REP_USERNAME = "rep.na"
REP_TEAMS = "NA "  # the North American sales teams
MQL_SCORE = 30  # the demo model's totals run lower than 100: 30 points is a fit lead that engaged
KEEP_WAITING = 3
NOTES = {
    "not_icp": "Student project, no budget and no team to buy for.",
    "bad_data": "The phone number and the company do not match; the e-mail bounces.",
    "duplicate": "Same person as a lead I already work, different e-mail.",
    "existing_opportunity": "Their account has an open deal with us already.",
    "no_contact": "Three calls and two e-mails, no answer.",
    "other": "Asked to be contacted next quarter.",
}


def _policy(name: str) -> str:
    """``name`` when an SLA policy has it (the routing demo's), else no SLA."""
    timer = sla_timer(SLA_TIMER)
    return name if timer is not None and name in dict(timer.choices()) else ""


def _leaf(field: str, op: str, value) -> dict:
    return {"all": [{"field": field, "op": op, "value": value}]}


def demo_stages_ensure(*, actor) -> dict[str, Stage]:
    """The demo stages, created by name when missing (never overwritten)."""
    specs = [
        ("New", "new", 10, Stage.Kind.FUNNEL, {}, "Every lead starts here."),
        (
            "MQL",
            "mql",
            20,
            Stage.Kind.FUNNEL,
            _leaf("lead.score", "gte", MQL_SCORE),
            f"Marketing qualified: score ≥ {MQL_SCORE}.",
        ),
        ("Sales accepted", "sal", 30, Stage.Kind.FUNNEL, {}, "The owner accepted the MQL."),
        ("SQL", "sql", 40, Stage.Kind.FUNNEL, _leaf("lead.status", "eq", "qualified"), "Qualified by sales."),
        ("Opportunity", "opportunity", 50, Stage.Kind.FUNNEL, _leaf("lead.status", "eq", "converted"), "Converted."),
        ("Recycled", "recycled", 60, Stage.Kind.RECYCLED, {}, "Rejected by sales: back to marketing's nurture."),
        (
            "Disqualified",
            "disqualified",
            70,
            Stage.Kind.CLOSED,
            _leaf("lead.status", "eq", "unqualified"),
            "Not a fit.",
        ),
    ]
    stages = {s.key: s for s in Stage.objects.all()}
    for name, key, position, kind, condition, description in specs:
        if key not in stages:
            stage = Stage(name=name, key=key, position=position, kind=kind, description=description)
            stage.entry_condition = condition
            if key == "recycled":
                stage.hold_days = 30
            stages[key] = stage_save(stage=stage, actor=actor, reason="demo: lifecycle stage")
    mql = stages["mql"]
    if not mql.awaits_acceptance:
        mql.awaits_acceptance = True
        mql.accept_to, mql.reject_to = stages["sal"], stages["recycled"]
        mql.crm_accepted_status, mql.crm_rejected_status = Lead.Status.WORKING, Lead.Status.NURTURE
        mql.sla_policy = _policy("MQL: 24 hours")
        stage_save(stage=mql, actor=actor, reason="demo: MQLs wait for sales to accept them")
    return stages


def _rep_login(*, actor):
    """``rep.na``: a Rep login for the NA rep owning the most MQLs (and no login yet)."""
    user = demo_user_ensure(REP_USERNAME, "", "", f"{REP_USERNAME}@example.com")
    roles.assign_role(user, roles.REP)
    if Rep.objects.filter(user=user).exists():
        return user
    rep = (
        Rep.objects.filter(team__name__startswith=REP_TEAMS, user__isnull=True, is_active=True)
        .annotate(mqls=Count("leads__lifecycle_stage", filter=_waiting_q()))
        .order_by("-mqls", "pk")
        .first()
    )
    if rep is not None:
        first, _, last = rep.name.partition(" ")
        user.first_name, user.last_name = first, last
        user.save(update_fields=["first_name", "last_name"])
        rep.user = user
        record_services.record_save(instance=rep, actor=actor, reason="demo data")
    return user


def _waiting_q():
    from django.db.models import Q

    return Q(leads__lifecycle_stage__stage__awaits_acceptance=True)


def _replay(*, now: dt.datetime) -> int:
    """Evaluate every lead's stage as of the hour it arrived (at most ten days ago)."""
    floor = now - dt.timedelta(days=10)
    by_hour: dict[dt.datetime, list[int]] = {}
    for pk, seen in Lead.objects.order_by("source_updated_at", "pk").values_list("pk", "source_updated_at"):
        at = min(max(seen or now, floor) + dt.timedelta(hours=1), now).replace(minute=0, second=0, microsecond=0)
        by_hour.setdefault(at, []).append(pk)
    moved = 0
    for at, ids in sorted(by_hour.items()):
        moved += lead_stages_evaluate(lead_ids=ids, now=at)
    return moved


def _answerer(lead: Lead, fallback):
    owner = lead.owner
    if owner is None:
        return fallback
    if owner.user_id:
        return owner.user
    team = owner.team
    while team is not None:
        if team.manager_id and team.manager.user_id:
            return team.manager.user
        team = team.parent
    return fallback


def _answer_waiting(*, now: dt.datetime, actor, rep_user) -> dict[str, int]:
    """Answer the MQLs older than a day (the rep login's newest three stay waiting); one in eight stays
    unanswered. Every fourth answer is a rejection, its reason cycling through the codes."""
    counts = {"accepted": 0, "rejected": 0}
    codes = list(REJECTION_REASONS)
    keep = set(
        LeadStage.objects.filter(stage__awaits_acceptance=True, lead__owner__user=rep_user)
        .order_by("-entered_at", "-pk")
        .values_list("pk", flat=True)[:KEEP_WAITING]
    )
    waiting = (
        LeadStage.objects.filter(stage__awaits_acceptance=True, lead__owner__isnull=False)
        .exclude(pk__in=keep)
        .select_related("lead__owner__user", "lead__owner__team__manager__user")
        .order_by("entered_at", "pk")
    )
    for index, state in enumerate(list(waiting)):
        recent = state.entered_at > now - dt.timedelta(days=1)
        if (recent and state.lead.owner.user_id != getattr(rep_user, "pk", None)) or index % 8 == 7:
            continue
        at = min(state.entered_at + dt.timedelta(hours=2 + index % 18), now)
        who = _answerer(state.lead, actor)
        if index % 4 == 3:
            code = codes[(index // 4) % len(codes)]
            lead_reject(lead=state.lead, reason_code=code, note=NOTES[code], actor=who, now=at)
            counts["rejected"] += 1
        else:
            lead_accept(lead=state.lead, actor=who, now=at)
            counts["accepted"] += 1
    return counts


def lifecycle_stages_demo_build(context: dict) -> None:
    """Switch the demo scoring model live; ensure the demo stages and the rep login; on a fresh org,
    stage every lead, answer, then tick."""
    actor, now = context["actor"], context["now"]
    lifecycle_demo_go_live(context)
    demo_stages_ensure(actor=actor)
    if not context.get("fresh"):
        _rep_login(actor=actor)
        return
    moved = _replay(now=now)
    rep_user = _rep_login(actor=actor)
    answered = _answer_waiting(now=now, actor=actor, rep_user=rep_user)
    ticked = lead_stages_tick(now=now)
    details = context.setdefault("details", {})
    details["leads:staged"] = moved
    details["leads:MQLs accepted"] = answered["accepted"]
    details["leads:MQLs rejected"] = answered["rejected"]
    details["leads:MQLs overdue"] = ticked["overdue"]
