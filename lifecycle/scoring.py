"""Scoring as a pure function: ``score_lead(lead, account, activities, spec, now)`` → total and explanation.

``ModelSpec`` is a scoring model compiled once (its fit conditions into predicates); scoring a lead
then reads nothing from the database. The explanation lists every line that contributed, in order:
fit rules that held, each counted activity (with its age and the points before decay), a per-rule
cap when it cut a rule's points, and the model's cap or floor when the sum left the range. The
lines always sum to the total.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from revops.conditions import compile_condition
from revops.conditions.compile import Context
from revops.conditions.render import render_node


@dataclass(frozen=True)
class FitSpec:
    label: str
    points: int
    predicate: Any


@dataclass(frozen=True)
class EngagementSpec:
    label: str
    kind: str
    subject_contains: str
    points: int
    window_days: int
    decay: str = "none"
    half_life_days: float | None = None
    cap: int | None = None

    def factor(self, age_days: float) -> float:
        """How much of the points an activity ``age_days`` old still earns (1 = all)."""
        if self.decay == "linear":
            return max(0.0, 1 - age_days / self.window_days) if self.window_days else 0.0
        if self.decay == "half_life" and self.half_life_days:
            return 0.5 ** (age_days / self.half_life_days)
        return 1.0

    def matches(self, activity) -> bool:
        if activity.kind != self.kind:
            return False
        return not self.subject_contains or self.subject_contains.casefold() in (activity.subject or "").casefold()


@dataclass(frozen=True)
class ModelSpec:
    """A scoring model ready to score: its range and compiled rules."""

    pk: int | None
    name: str
    status: str
    min_total: int
    max_total: int
    fit: tuple[FitSpec, ...] = ()
    engagement: tuple[EngagementSpec, ...] = ()
    changed_at: dt.datetime | None = None  # the model's last change: a score computed before it is stale

    @property
    def longest_window(self) -> int:
        return max((r.window_days for r in self.engagement), default=0)

    @property
    def activity_kinds(self) -> set[str]:
        return {r.kind for r in self.engagement}


@dataclass
class Score:
    total: int
    lines: list[dict] = field(default_factory=list)


def spec_from_model(model) -> ModelSpec:
    """Compile a ``ScoringModel`` (its rules read once) into a ``ModelSpec``."""
    fit = []
    for rule in model.fit_rules.all():
        predicate = compile_condition(rule.condition or {"all": []}, object_type="lead")
        fit.append(FitSpec(rule.label or render_node(predicate.node), rule.points, predicate))
    engagement = [
        EngagementSpec(
            label=rule.label or rule.get_activity_kind_display(),
            kind=rule.activity_kind,
            subject_contains=rule.subject_contains,
            points=rule.points,
            window_days=rule.window_days,
            decay=rule.decay,
            half_life_days=rule.half_life_days,
            cap=rule.cap,
        )
        for rule in model.engagement_rules.all()
    ]
    return ModelSpec(
        model.pk,
        model.name,
        model.status,
        model.min_total,
        model.max_total,
        tuple(fit),
        tuple(engagement),
        getattr(model, "updated_at", None),
    )


def signed(points: int) -> str:
    """``+20``, ``−10`` (a real minus sign), ``0``."""
    return f"+{points}" if points > 0 else (f"−{-points}" if points < 0 else "0")


def age_text(age_days: float) -> str:
    if age_days < 1:
        return "today"
    days = int(age_days)
    return "1 day ago" if days == 1 else f"{days} days ago"


def _line(kind: str, points: int, text: str) -> dict:
    return {"kind": kind, "points": points, "text": text}


def score_lead(lead, account, activities, spec: ModelSpec, now: dt.datetime) -> Score:
    """Score ``lead`` (with its matched ``account`` or None) from its ``activities`` under ``spec`` at ``now``."""
    if account is not None and getattr(lead, "matched_account_id", None) == account.pk:
        lead._state.fields_cache["matched_account"] = account
    lines: list[dict] = []
    if spec.fit:
        ctx = Context(lead, now=now)
        for rule in spec.fit:
            if rule.points and rule.predicate(ctx):
                lines.append(_line("fit", rule.points, rule.label))
    for rule in spec.engagement:
        rule_lines = []
        for activity in activities:
            age = (now - activity.occurred_at).total_seconds() / 86400
            if age < 0 or age > rule.window_days or not rule.matches(activity):
                continue
            points = round(rule.points * rule.factor(age))
            if not points:
                continue
            what = f"{rule.label}: {activity.subject}" if activity.subject else rule.label
            text = f"{what}, {age_text(age)}"
            if points != rule.points:
                text += f" (decayed from {signed(rule.points)})"
            rule_lines.append(_line("engagement", points, text))
        lines.extend(rule_lines)
        earned = sum(line["points"] for line in rule_lines)
        if rule.cap is not None and abs(earned) > rule.cap:
            limit = rule.cap if earned > 0 else -rule.cap
            lines.append(_line("rule_cap", limit - earned, f"{rule.label}: at most {rule.cap} points"))
    raw = sum(line["points"] for line in lines)
    total = min(max(raw, spec.min_total), spec.max_total)
    if total != raw:
        bound = "at most" if raw > total else "at least"
        lines.append(_line("cap", total - raw, f"Score {bound} {total}"))
    return Score(total, lines)


def explanation_text(lines: list[dict]) -> list[str]:
    """The explanation as people read it: ``+20 Employees (matched account) is at least 500``."""
    return [f"{signed(line['points'])} {line['text']}" for line in lines]
