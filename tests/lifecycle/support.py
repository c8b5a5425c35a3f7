"""Shared builders of the lifecycle tests."""

from __future__ import annotations

from lifecycle.models import ScoringModel
from lifecycle.services import scoring_model_save
from tests.factories import UserFactory

BIG = {"field": "lead.matched_account.employees", "op": "gte", "value": 500}
FREE_MAIL = {"field": "lead.email", "op": "ends_with", "value": "@gmail.com"}
PRICING = {
    "label": "Pricing interest",
    "activity_kind": "call",
    "subject_contains": "pricing",
    "points": 20,
    "window_days": 30,
    "decay": "half_life",
    "half_life_days": 7,
    "cap": 30,
}


def scoring_model(name="Inbound", *, status="shadow", fit=None, engagement=None, actor=None, **fields) -> ScoringModel:
    fit = (
        [{"condition": BIG, "points": 20}, {"label": "Free-mail address", "condition": FREE_MAIL, "points": -10}]
        if fit is None
        else fit
    )
    engagement = [PRICING] if engagement is None else engagement
    return scoring_model_save(
        model=ScoringModel(name=name, status=status, **fields),
        fit_rules=fit,
        engagement_rules=engagement,
        actor=actor or UserFactory(),
        reason="test",
    )
