"""The automation backlog: candidates scored for priority, placed in the decision matrix, and turned
into draft automations when they are ready.

**Priority** (0–100): how often the work comes up (``volume_per_month``, on a log scale: 1,000 a month
or more scores full) and how much people feel it (``user_impact``) count double; a clear rule, ready
data and a clear exception path count once each; risk and maintenance cost count against.

**Decision matrix** (each outcome with the reasons that put it there):

* *keep human* — judgement every time (rule clarity 1–2) where a wrong result is costly (risk 4–5),
  or neither a rule nor an exception path exists (rule and exception clarity both 1–2);
* *ready to automate* — a rule anyone could write down (4–5), the data in place (4–5) and a known
  exception path (3–5);
* *needs process design* — everything else: agree the rule, fix the data or name the exception
  owner first.

``candidate_draft`` creates a *draft* automation from a ready candidate (nothing runs until someone
completes and switches it on), owned by the person who asked for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from revops.audit import audited
from revops.models import Automation, AutomationCandidate

from .kinds import KINDS
from .services import automation_create

READY, DESIGN, HUMAN = "ready", "design", "human"
OUTCOME_LABELS = {READY: "Ready to automate", DESIGN: "Needs process design", HUMAN: "Keep human"}
# Minimal parameters a draft of these kinds needs to be saved; the rest is completed on its page.
DRAFT_CONFIG = {"create_task": "title", "alert": "title", "notify": "subject"}
# The points of the worst and the best candidate: no volume and every score at its worst (7), and the
# opposite (45).
LOWEST, HIGHEST = 7, 45


@dataclass(frozen=True)
class Outcome:
    key: str
    reasons: tuple[str, ...]

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self.key]


def candidate_priority(candidate: AutomationCandidate) -> int:
    """The candidate's priority, 0–100 (see the module docstring)."""
    volume = min(5.0, 5 * math.log10(candidate.volume_per_month + 1) / 3)  # 1,000+/month: 5
    points = (
        2 * volume
        + 2 * candidate.user_impact
        + candidate.rule_clarity
        + candidate.data_readiness
        + candidate.exception_clarity
        + (6 - candidate.risk)
        + (6 - candidate.maintenance_cost)
    )
    return round(100 * (points - LOWEST) / (HIGHEST - LOWEST))


def candidate_outcome(candidate: AutomationCandidate) -> Outcome:
    """Where the decision matrix puts the candidate, and why."""
    c = candidate
    if c.rule_clarity <= 2 and c.risk >= 4:
        return Outcome(HUMAN, ("it takes judgement every time and a wrong result is costly",))
    if c.rule_clarity <= 2 and c.exception_clarity <= 2:
        return Outcome(HUMAN, ("there is neither a rule to write down nor anyone to handle its exceptions",))
    missing = []
    if c.rule_clarity < 4:
        missing.append("agree the rule so anyone could write it down")
    if c.data_readiness < 4:
        missing.append("get the data it needs into the dictionary and filled")
    if c.exception_clarity < 3:
        missing.append("name who handles what it cannot finish")
    if missing:
        return Outcome(DESIGN, tuple(missing))
    return Outcome(READY, ("the rule is clear, the data is ready and exceptions have an owner",))


@transaction.atomic
def candidate_save(*, candidate: AutomationCandidate, actor, reason: str = "") -> AutomationCandidate:
    """Validate and save a backlog candidate (history names ``actor``)."""
    if candidate.kind and candidate.kind not in KINDS:
        accepted = ", ".join(sorted(KINDS))
        raise ValidationError({"kind": f"{candidate.kind!r} is not an automation kind (accepted: {accepted})."})
    candidate.full_clean()
    with audited(actor=actor, reason=reason or f"automation backlog: {candidate.name} saved"):
        candidate.save()
    return candidate


@transaction.atomic
def candidate_draft(*, candidate: AutomationCandidate, actor) -> Automation:
    """Create a draft automation from a candidate the matrix finds ready (refused otherwise, saying why)."""
    locked = AutomationCandidate.objects.select_for_update().get(pk=candidate.pk)
    if locked.status == AutomationCandidate.Status.DRAFTED and locked.automation_id:
        raise ValidationError(f"{locked.name} already has its draft automation: {locked.automation}.")
    outcome = candidate_outcome(locked)
    if outcome.key != READY:
        raise ValidationError(
            f"{locked.name} is not ready to automate ({outcome.label.lower()}): {'; '.join(outcome.reasons)}."
        )
    if not locked.kind:
        raise ValidationError({"kind": "Say which kind of automation it would become before drafting it."})
    config = {DRAFT_CONFIG[locked.kind]: locked.name} if locked.kind in DRAFT_CONFIG else {}
    try:
        automation = automation_create(
            actor=actor,
            reason=f"drafted from the automation backlog: {locked.name}",
            name=locked.name,
            purpose=locked.process,
            kind=locked.kind,
            object_type=locked.object_type,
            trigger=Automation.Trigger.UPDATED,
            conditions={"all": []},
            config=config,
            mode=Automation.Mode.DRAFT,
            rule_owner=locked.requested_by,
        )
    except ValidationError as exc:
        raise ValidationError(
            f"The draft could not be created: {'; '.join(exc.messages)} Create it on the automations page instead."
        ) from exc
    locked.status, locked.automation = AutomationCandidate.Status.DRAFTED, automation
    with audited(actor=actor, reason=f"automation backlog: {locked.name} drafted"):
        locked.save()
    return automation
