"""Writes of the lifecycle app: scoring models with their rules, and lead scores.

``scoring_model_save`` validates and stores a model and (when given) replaces its rules, with
history attributed to the actor. ``lead_scores_refresh`` re-scores leads under every shadow and live
model: one query for the leads (and the models' version), one for their activities, one for their
stored scores, scoring in memory, then the changed ``LeadScore`` rows; under a live model a changed total is written to the lead's ``score`` (history
by the ``lead-scoring`` system user) and told to the CRM through the changes feed, once per change.
"""

from __future__ import annotations

import datetime as dt
import logging

import django_rq
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import DateTimeField, IntegerField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from revops import conditions
from revops.audit import audited, system_user
from revops.bulk_writes import InArray, bulk_update_audited
from revops.feed import change_entries_record
from revops.models import Activity, ChangeEntry, Lead

from .models import EngagementRule, FitRule, LeadScore, ScoringModel
from .scoring import ModelSpec, score_lead, spec_from_model

logger = logging.getLogger(__name__)

SCORING_USER = "lead-scoring"
RESCORE_JOB = "lifecycle.jobs.lifecycle_rescore"
FIT_KEYS = {"label", "condition", "points"}
ENGAGEMENT_KEYS = {
    "label",
    "activity_kind",
    "subject_contains",
    "points",
    "window_days",
    "decay",
    "half_life_days",
    "cap",
}


def _whole(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValidationError({where: f"Points are a whole number, e.g. 20 or -10; got {value!r}."})
    return int(value)


def _fit_rule(model: ScoringModel, index: int, data: dict) -> FitRule:
    where = f"fit_rules[{index}]"
    unknown = set(data) - FIT_KEYS
    if unknown:
        raise ValidationError(
            {where: f"Unknown keys {', '.join(sorted(unknown))}; accepted: {', '.join(sorted(FIT_KEYS))}."}
        )
    try:
        condition = conditions.clean_condition(data.get("condition") or {"all": []}, object_type="lead")
    except ValidationError as exc:
        raise ValidationError({where: [f"Condition: {m}" for m in exc.messages]}) from None
    rule = FitRule(
        model=model,
        position=index,
        label=data.get("label") or "",
        condition=condition,
        points=_whole(data.get("points"), where),
    )
    return rule


def _engagement_rule(model: ScoringModel, index: int, data: dict) -> EngagementRule:
    where = f"engagement_rules[{index}]"
    unknown = set(data) - ENGAGEMENT_KEYS
    if unknown:
        accepted = ", ".join(sorted(ENGAGEMENT_KEYS))
        raise ValidationError({where: f"Unknown keys {', '.join(sorted(unknown))}; accepted: {accepted}."})
    rule = EngagementRule(model=model, position=index, **{k: v for k, v in data.items() if v is not None})
    rule.points = _whole(data.get("points"), where)
    engagement_rule_clean(rule, where=where)
    return rule


def engagement_rule_clean(rule: EngagementRule, *, where: str = "__all__") -> None:
    """The rules a form and the service share: half-life decay needs its days; the window is ≥ 1 day."""
    problems = []
    if rule.decay == EngagementRule.Decay.HALF_LIFE and not (rule.half_life_days and rule.half_life_days > 0):
        problems.append("Half-life decay needs the half-life in days (a number above 0).")
    if not rule.window_days:
        problems.append("The window is at least 1 day.")
    if problems:
        raise ValidationError({where: problems})


def scoring_model_clean(model: ScoringModel) -> None:
    model.full_clean(exclude=["created_at", "updated_at"])
    if model.min_total >= model.max_total:
        raise ValidationError({"max_total": "The highest score must be above the lowest."})
    if model.status == ScoringModel.Status.LIVE:
        other = ScoringModel.objects.filter(status=ScoringModel.Status.LIVE).exclude(pk=model.pk).first()
        if other is not None:
            raise ValidationError(
                {
                    "status": f"Only one model can be live (the lead has one score): {other.name} is live; "
                    "put it in shadow or draft first."
                }
            )


@transaction.atomic
def scoring_model_save(
    *,
    model: ScoringModel,
    fit_rules: list[dict] | None = None,
    engagement_rules: list[dict] | None = None,
    actor,
    reason: str = "",
) -> ScoringModel:
    """Validate and save ``model``; with ``fit_rules``/``engagement_rules`` (lists of dicts, see
    docs/lifecycle.md) replace its rules of that sort. Raises ``ValidationError`` naming the rule."""
    scoring_model_clean(model)
    with audited(actor=actor, reason=reason or f"scoring model {model.name} saved"):
        model.save()
        if fit_rules is not None:
            rules = [_fit_rule(model, i, dict(data)) for i, data in enumerate(fit_rules)]
            model.fit_rules.all().delete()
            for rule in rules:
                rule.full_clean()
                rule.save()
        if engagement_rules is not None:
            rules = [_engagement_rule(model, i, dict(data)) for i, data in enumerate(engagement_rules)]
            model.engagement_rules.all().delete()
            for rule in rules:
                rule.full_clean()
                rule.save()
    _SPECS.pop(model.pk, None)
    if model.status != ScoringModel.Status.DRAFT:
        transaction.on_commit(lifecycle_rescore_enqueue)
    return model


def lifecycle_rescore_enqueue() -> bool:
    """Queue the re-score of every lead not scored under the models as they are now (``low`` queue);
    False (logged) when Redis is down: the nightly run catches up."""
    try:
        django_rq.get_queue("low", commit_mode="auto").enqueue(RESCORE_JOB, job_id="lifecycle-rescore")
    except Exception:
        logger.exception("could not enqueue the lead re-score; the nightly run will do it")
        return False
    return True


@transaction.atomic
def scoring_model_delete(*, model: ScoringModel, actor, reason: str = "") -> None:
    """Delete a model, its rules and its scores (a live model's last scores stay on the leads)."""
    with audited(actor=actor, reason=reason or f"scoring model {model.name} deleted"):
        _SPECS.pop(model.pk, None)
        model.delete()


# --- scoring leads ---------------------------------------------------------------------------------

_SPECS: dict[int, tuple[dt.datetime, ModelSpec]] = {}
# What ``active_specs`` last returned, with the models' version it saw: (how many shadow and live models,
# their latest change).
_CURRENT: dict = {"version": None, "specs": []}


def _scored_models():
    return ScoringModel.objects.exclude(status=ScoringModel.Status.DRAFT)


def active_specs() -> list[ModelSpec]:
    """The shadow and live models compiled, reused while a model is unchanged (keyed by ``updated_at``:
    saving a model or its rules through ``scoring_model_save`` bumps it). One query when nothing changed."""
    current = dict(_scored_models().order_by("name").values_list("pk", "updated_at"))
    stale = [pk for pk, updated_at in current.items() if pk not in _SPECS or _SPECS[pk][0] != updated_at]
    if stale:
        for row in ScoringModel.objects.filter(pk__in=stale).prefetch_related("fit_rules", "engagement_rules"):
            _SPECS[row.pk] = (row.updated_at, spec_from_model(row))
    specs = [_SPECS[pk][1] for pk in current if pk in _SPECS]
    _CURRENT.update(version=(len(current), max(current.values(), default=None)), specs=specs)
    return specs


def _models_version():
    """The shadow and live models' (count, latest change) as two SQL expressions, for a query to carry."""
    table = connection.ops.quote_name(ScoringModel._meta.db_table)
    where = f"FROM {table} WHERE status <> %s"
    draft = [ScoringModel.Status.DRAFT.value]
    return {
        "models_n": RawSQL(f"SELECT COUNT(*) {where}", draft, output_field=IntegerField()),
        "models_at": RawSQL(f"SELECT MAX(updated_at) {where}", draft, output_field=DateTimeField()),
    }


def _locked_leads(lead_ids: list[int], specs: list[ModelSpec] | None):
    """The leads with their accounts, locked when a live model may write their score, and the specs to
    score them with. With ``specs`` None (the event hook) the models' version comes back with the leads
    and the specs ``active_specs`` compiled last are used while it is unchanged: no query of its own."""
    cached = specs is None
    if cached:
        specs = _CURRENT["specs"] or active_specs()
        if not specs:
            return [], specs
    leads = Lead.objects.select_related("matched_account").filter(InArray("pk", lead_ids)).order_by("pk")
    if cached:
        leads = leads.annotate(**_models_version())
    live = any(s.status == ScoringModel.Status.LIVE for s in specs)
    rows = list(leads.select_for_update(of=("self",)) if live else leads)
    if cached and rows and (rows[0].models_n, rows[0].models_at) != _CURRENT["version"]:
        specs = active_specs()  # a model changed since: compile it, and lock the leads if it went live
        if not live and any(s.status == ScoringModel.Status.LIVE for s in specs):
            rows = list(leads.select_for_update(of=("self",)))
    return rows, specs


@transaction.atomic
def lead_scores_refresh(*, lead_ids, now: dt.datetime | None = None, specs: list[ModelSpec] | None = None) -> int:
    """Re-score ``lead_ids`` under the active models (``specs``, or those in force); returns how many
    scores changed.

    One query for the leads (with their accounts, locked when a live model may write their score), one
    for their activities inside the longest window, one for their stored scores, scoring in memory. A
    ``LeadScore`` row is written only when its total or explanation changed; under a live model the
    lead's ``score`` is written, with a changes-feed entry, only when it differs from the stored one.
    """
    now = now or timezone.now()
    lead_ids = sorted(set(lead_ids))
    if not lead_ids:
        return 0
    leads, specs = _locked_leads(lead_ids, specs)
    if not specs or not leads:
        return 0
    by_lead: dict[int, list] = {lead.pk: [] for lead in leads}
    window = max(s.longest_window for s in specs)
    kinds = set().union(*(s.activity_kinds for s in specs))
    if window and kinds:
        # Plain rows, not model instances: building instances would cost more than the scoring.
        rows = Activity.objects.filter(
            InArray("lead_id", by_lead), kind__in=kinds, occurred_at__gte=now - dt.timedelta(days=window)
        ).values_list("lead_id", "kind", "subject", "occurred_at", named=True)
        for activity in rows:
            by_lead[activity.lead_id].append(activity)
    # By lead only, through the (lead, model) unique index: a filter on the model too lets stale statistics
    # (right after a model's first score of every lead) pick the (model, total) index and scan every score.
    scored = {s.pk for s in specs}
    stored = {
        (row.lead_id, row.model_id): row
        for row in LeadScore.objects.filter(InArray("lead_id", by_lead)).values_list(
            "pk", "lead_id", "model_id", "total", "explanation", "crm_score", "computed_at", named=True
        )
        if row.model_id in scored
    }
    changed = 0
    upserts, touched = [], []
    writes = []
    for lead in leads:
        for spec in specs:
            score = score_lead(lead, lead.matched_account, by_lead[lead.pk], spec, now)
            live = spec.status == ScoringModel.Status.LIVE
            crm_score = score.total if live else lead.score  # a live model's total becomes the lead's score
            row = stored.get((lead.pk, spec.pk))
            if row is None or row.total != score.total or row.explanation != score.lines or row.crm_score != crm_score:
                changed += row is None or row.total != score.total
                upserts.append(
                    LeadScore(
                        lead_id=lead.pk,
                        model_id=spec.pk,
                        total=score.total,
                        explanation=score.lines,
                        crm_score=crm_score,
                        computed_at=now,
                    )
                )
            elif spec.changed_at is not None and row.computed_at < spec.changed_at:
                touched.append(row.pk)  # unchanged under the new model: scored since the change all the same
            if live and lead.score != score.total:
                writes.append((lead, spec, score.total))
    if upserts:
        # One INSERT … ON CONFLICT per batch for new and changed rows alike.
        LeadScore.objects.bulk_create(
            upserts,
            update_conflicts=True,
            unique_fields=["lead", "model"],
            update_fields=["total", "explanation", "crm_score", "computed_at"],
        )
    if touched:
        LeadScore.objects.filter(InArray("pk", touched)).update(computed_at=now)
    if writes:
        _write_live_scores(writes, now)
    return changed


def _write_live_scores(writes, now: dt.datetime) -> None:
    """The live model's totals onto the leads (one bulk update with one history row each, by
    ``lead-scoring``), then their changes-feed entries (one insert, keyed by lead, transition and time)."""
    actor = system_user(SCORING_USER, first_name="Lead scoring")
    entries = []
    spec = writes[0][1]
    for lead, _spec, total in writes:
        entries.append(
            {
                "kind": ChangeEntry.Kind.FIELD_UPDATED,
                "object_type": "lead",
                "external_id": lead.external_id,
                "payload": {"field": "score", "value": total, "previous": lead.score},
                "reason": f"Scoring model {spec.name}",
                "dedupe_key": f"lifecycle:score:{lead.pk}:{lead.score}:{total}:{now.isoformat()}",
            }
        )
        lead.score, lead.updated_at = total, now
    bulk_update_audited(
        model=Lead,
        objs=[lead for lead, _spec, _total in writes],
        fields=["score", "updated_at"],
        actor=actor,
        reason=f"scoring model {spec.name}",
        date=now,
    )
    change_entries_record(entries)
