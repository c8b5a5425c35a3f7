"""Reads of lifecycle stages: who may answer which MQL, the MQLs waiting for a person, the rejection
report, and a lead's stage history in words. Reach is the portal's (``revops.access``): a rep sees
their own leads, a manager their teams', RevOps all; a lead out of reach does not exist for them."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from revops.access import reach, record_visibility_q
from revops.models import Lead, Team

from .models import REJECTION_REASONS, LeadStage, StageTransition


def visible_leads(*, user) -> QuerySet[Lead]:
    """The leads ``user`` may read (and answer, when they wait for acceptance)."""
    condition = record_visibility_q(user=user, object_type="leads")
    leads = Lead.objects.all()
    return leads if condition is None else leads.filter(condition)


def may_answer(user, lead: Lead) -> bool:
    """Whether ``user`` may accept or reject ``lead``: its owner, the owner's manager, or RevOps."""
    scope = reach(user)
    if scope is None:
        return True
    rep_ids, _teams = scope
    return lead.owner_id is not None and lead.owner_id in rep_ids


def waiting_mqls(*, user) -> QuerySet[LeadStage]:
    """The MQLs waiting for an answer that ``user`` may give, the most urgent first (no due time last)."""
    from django.db.models import F

    rows = LeadStage.objects.filter(stage__awaits_acceptance=True, lead__in=visible_leads(user=user))
    return rows.select_related("stage", "lead__owner", "lead__matched_account").order_by(
        F("due_at").asc(nulls_last=True), "entered_at", "pk"
    )


def report_teams(*, user) -> list[Team]:
    """The teams whose rejections ``user`` may read (a manager: their teams; RevOps: every team)."""
    scope = reach(user)
    teams = Team.objects.order_by("name")
    return list(teams if scope is None else teams.filter(pk__in=scope[1]))


def rejections(
    *,
    user,
    team_id: int | None = None,
    reason_code: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[StageTransition]:
    """Rejected MQLs ``user`` may read (their leads, or their teams'), newest first, optionally one
    team's, one reason's, or those between ``since`` and ``until``."""
    rows = StageTransition.objects.filter(cause=StageTransition.Cause.REJECTED)
    scope = reach(user)
    if scope is not None:
        rep_ids, team_ids = scope
        from django.db.models import Q

        rows = rows.filter(Q(team_id__in=team_ids) | Q(rep_id__in=rep_ids))
    if team_id is not None:
        rows = rows.filter(team_id=team_id)
    if reason_code:
        rows = rows.filter(reason_code=reason_code)
    if since is not None:
        rows = rows.filter(at__gte=since)
    if until is not None:
        rows = rows.filter(at__lt=until)
    return rows.select_related("lead", "rep", "team", "actor", "from_stage", "to_stage").order_by("-at", "-pk")


def stage_history(lead_id: int) -> dict | None:
    """A lead's stage now (with its SLA) and every move with its cause in words, oldest first."""
    state = LeadStage.objects.select_related("stage").filter(lead_id=lead_id).first()
    moves = list(
        StageTransition.objects.filter(lead_id=lead_id)
        .select_related("from_stage", "to_stage", "actor", "rep")
        .order_by("at", "pk")
    )
    if state is None and not moves:
        return None
    return {
        "state": state,
        "moves": [
            {
                "at": move.at,
                "from": move.from_stage.name if move.from_stage_id else None,
                "to": move.to_stage.name,
                "cause": move.get_cause_display(),
                "text": move.text,
                "reason": REJECTION_REASONS.get(move.reason_code, ""),
                "note": move.note,
            }
            for move in moves
        ],
    }
