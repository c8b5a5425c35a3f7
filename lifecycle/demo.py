"""The lifecycle demo: a scoring model built through ``scoring_model_save`` in shadow and every demo lead
scored by ``lead_scores_refresh``, so each lead's Why page explains its score point by point; after the
CRM's morning sync it goes live (``lifecycle_demo_go_live``), and the score the lifecycle stages read
is the portal's. Registered at order 58: after the
records (10) and routing (40), before the CRM's morning sync (60), whose lead changes and new
activities the event hook then re-scores through the real pipeline."""

from __future__ import annotations

from revops.models import Lead

from .models import ScoringModel
from .selectors import lead_id_chunks
from .services import active_specs, lead_scores_refresh, scoring_model_save

DEMO_MODEL = "Inbound score"
FREE_MAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "proton.me")


def _any(*leaves) -> dict:
    return {"any": list(leaves)}


def _leaf(field: str, op: str, value=None) -> dict:
    return {"field": field, "op": op, "value": value} if value is not None else {"field": field, "op": op}


def demo_scoring_spec() -> dict:
    """The demo model's rules (also the example of docs/lifecycle.md)."""
    return {
        "description": "Fit from the lead and its matched account, engagement from the last month's touches. "
        "Live: the portal's score is the lead's score (MQL at 60).",
        "fit_rules": [
            {"label": "", "condition": _leaf("lead.matched_account.employees", "gte", 500), "points": 20},
            {"label": "", "condition": _leaf("lead.matched_account.employees", "between", [50, 499]), "points": 10},
            {
                "label": "Decision maker (title)",
                "condition": _any(
                    *(
                        _leaf("lead.title", "contains", word)
                        for word in ("VP", "Head of", "Director", "Chief", "CEO", "CFO", "COO", "Founder")
                    )
                ),
                "points": 15,
            },
            {
                "label": "",
                "condition": _leaf("lead.source", "in", ["webinar", "free_trial", "referral", "event"]),
                "points": 10,
            },
            {
                "label": "Free-mail address",
                "condition": _any(*(_leaf("lead.email", "ends_with", "@" + d) for d in FREE_MAIL_DOMAINS)),
                "points": -10,
            },
            {"label": "Student", "condition": _leaf("lead.title", "eq", "Student"), "points": -20},
        ],
        "engagement_rules": [
            {
                "label": "Pricing interest",
                "activity_kind": "call",
                "subject_contains": "pricing",
                "points": 20,
                "window_days": 30,
                "decay": "half_life",
                "half_life_days": 7,
                "cap": 30,
            },
            {
                "label": "Pricing questions",
                "activity_kind": "email",
                "subject_contains": "pricing",
                "points": 15,
                "window_days": 30,
                "decay": "half_life",
                "half_life_days": 7,
                "cap": 30,
            },
            {
                "label": "Meeting",
                "activity_kind": "meeting",
                "points": 15,
                "window_days": 60,
                "decay": "linear",
                "cap": 30,
            },
            {"label": "Call", "activity_kind": "call", "points": 5, "window_days": 30, "decay": "linear", "cap": 15},
            {"label": "Email", "activity_kind": "email", "points": 3, "window_days": 14, "cap": 9},
        ],
    }


def lifecycle_demo_build(context: dict) -> None:
    """Ensure the demo scoring model (by name); on a fresh org, score every lead as of ``now``."""
    actor, now = context["actor"], context["now"]
    spec = demo_scoring_spec()
    model = ScoringModel.objects.filter(name=DEMO_MODEL).first()
    if model is None:
        model = ScoringModel(name=DEMO_MODEL, status=ScoringModel.Status.SHADOW, description=spec["description"])
        scoring_model_save(
            model=model,
            fit_rules=spec["fit_rules"],
            engagement_rules=spec["engagement_rules"],
            actor=actor,
            reason="demo scoring model",
        )
    if not context.get("fresh"):
        return
    specs = active_specs()
    scored = 0
    for chunk in lead_id_chunks(Lead.objects.all()):
        lead_scores_refresh(lead_ids=chunk, now=now, specs=specs)
        scored += len(chunk)
    context.setdefault("details", {})["leads:scored by the scoring model"] = scored


def lifecycle_demo_go_live(context: dict) -> None:
    """After the CRM's morning sync (which the shadow model re-scored beside the CRM's scores), RevOps
    switches the model live through ``scoring_model_save``; on a fresh org every lead is re-scored at
    once, so the portal's score becomes the leads' score (history by ``lead-scoring``, changes feed)."""
    model = ScoringModel.objects.filter(name=DEMO_MODEL).first()
    if model is None or model.status == ScoringModel.Status.LIVE:
        return
    if ScoringModel.objects.filter(status=ScoringModel.Status.LIVE).exists():
        return  # another model owns the score
    model.status = ScoringModel.Status.LIVE
    scoring_model_save(model=model, actor=context["actor"], reason="demo: the scoring model goes live")
    if not context.get("fresh"):
        return
    specs = active_specs()
    for chunk in lead_id_chunks(Lead.objects.all()):
        lead_scores_refresh(lead_ids=chunk, now=context["now"], specs=specs)
