"""Configuration as code for lead scoring: the ``scoring_models`` section.

Imported from ``LifecycleConfig.ready`` so the section joins ``revops.configuration`` (export, plan,
apply, prune; docs/lifecycle.md has an example). A model is identified by its name; its fit and
engagement rules are lists in order. It is applied after the dictionary and the automations
(order 42, after the handoff checklists): fit conditions name dictionary fields. Writes go through ``scoring_model_save``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from revops import conditions
from revops.configuration.base import Attr, Entry, Run, Section, register_section
from revops.configuration.document import sorted_deep

from .models import ScoringModel
from .services import scoring_model_delete, scoring_model_save

FIT_ATTRS = (
    Attr("label"),
    Attr("condition", "map", default=dict),
    Attr("points", "float", required=True),
)
ENGAGEMENT_ATTRS = (
    Attr("label"),
    Attr("activity_kind", required=True),
    Attr("subject_contains"),
    Attr("points", "float", required=True),
    Attr("window_days", "int", default=30),
    Attr("decay", default="none"),
    Attr("half_life_days", "float", default=None, nullable=True),
    Attr("cap", "int", default=None, nullable=True),
)
FIT = Attr("fit_rules", "entries", default=list, items=FIT_ATTRS)
ENGAGEMENT = Attr("engagement_rules", "entries", default=list, items=ENGAGEMENT_ATTRS)


def _condition(tree: Any) -> Any:
    """A condition as the service stores it (canonical, sorted keys), or as written when it is invalid."""
    try:
        return sorted_deep(conditions.clean_condition(tree or {"all": []}, object_type="lead"))
    except ValidationError:
        return sorted_deep(tree or {})


def _whole_points(rules: list[dict], *, fit: bool = False) -> list[dict]:
    """Points read as numbers from the file are written back as whole numbers (``20``, not ``20.0``)."""
    out = []
    for rule in rules:
        rule = dict(rule)
        if isinstance(rule.get("points"), float) and rule["points"].is_integer():
            rule["points"] = int(rule["points"])
        if fit:  # an omitted condition is "every lead", stored as {"all": []}
            rule["condition"] = _condition(rule.get("condition"))
        out.append(rule)
    return out


@register_section
class ScoringModelSection(Section):
    """Scoring models: status (draft, shadow, live), the score's range, fit rules and engagement rules."""

    name = "scoring_models"
    order = 42
    identity_attrs = ("name",)
    attrs = (
        Attr("name", required=True),
        Attr("description"),
        Attr("status", default="draft"),
        Attr("min_total", "int", default=0),
        Attr("max_total", "int", default=100),
        Attr("agreement_points", "int", default=10),
        FIT,
        ENGAGEMENT,
    )

    def identity(self, data: dict[str, Any]) -> str:
        return data["name"]

    def describe(self, key: str) -> str:
        return repr(key)

    def stored(self) -> dict[str, ScoringModel]:
        rows = ScoringModel.objects.prefetch_related("fit_rules", "engagement_rules").order_by("name")
        return {row.name: row for row in rows}

    def serialize(self, obj: ScoringModel) -> dict[str, Any]:
        fit = [{"label": r.label, "condition": r.condition, "points": r.points} for r in obj.fit_rules.all()]
        engagement = [
            {
                "label": r.label,
                "activity_kind": r.activity_kind,
                "subject_contains": r.subject_contains,
                "points": r.points,
                "window_days": r.window_days,
                "decay": r.decay,
                "half_life_days": r.half_life_days,
                "cap": r.cap,
            }
            for r in obj.engagement_rules.all()
        ]
        return {
            "name": obj.name,
            "description": obj.description,
            "status": obj.status,
            "min_total": obj.min_total,
            "max_total": obj.max_total,
            "agreement_points": obj.agreement_points,
            "fit_rules": _whole_points(FIT.parse(fit), fit=True),
            "engagement_rules": _whole_points(ENGAGEMENT.parse(engagement)),
        }

    def normalize(self, entry: Entry, run: Run) -> dict[str, Any]:
        data = dict(entry.data)
        data["fit_rules"] = _whole_points(data["fit_rules"], fit=True)
        data["engagement_rules"] = _whole_points(data["engagement_rules"])
        return data

    def _save(self, model: ScoringModel, entry: Entry, values: dict[str, Any], run: Run) -> None:
        for name in ("description", "status", "min_total", "max_total", "agreement_points"):
            if name in values:
                setattr(model, name, values[name])
        run.call(
            entry.location,
            scoring_model_save,
            model=model,
            fit_rules=values.get("fit_rules"),
            engagement_rules=values.get("engagement_rules"),
            actor=run.actor,
            reason=run.reason,
        )

    def create(self, entry: Entry, desired: dict[str, Any], run: Run) -> None:
        self._save(ScoringModel(name=desired["name"]), entry, desired, run)

    def update(self, obj: ScoringModel, entry: Entry, changes: dict[str, Any], run: Run) -> None:
        self._save(obj, entry, changes, run)

    def remove(self, key: str, obj: ScoringModel, run: Run) -> None:
        location = self.location(None, key)
        run.change(self.name, "delete", self.describe(key), location)
        run.call(location, scoring_model_delete, model=obj, actor=run.actor, reason=run.reason)
