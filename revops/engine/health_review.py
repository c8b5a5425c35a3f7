"""The monthly health review: retire / review suggestions opened as exception items for the owner.

``automation_health_review`` brings the per-automation roll-ups up to date, judges every live
automation over ``HEALTH_WINDOW_DAYS`` (``revops.engine.health``) and, for each tripped signal,
opens an ``automation_health`` item for the automation's rule owner (its system owner when it has
none, else the queue's manager), in the automation's exception queue. The item's de-duplication key
names the automation and the signal, so there is at most one open suggestion per automation and
signal: a re-run refreshes it (new reason, one more occurrence) and never adds another. A
suggestion whose signal no longer trips is closed by the review ("not an issue", with a note).

Scheduled monthly (``HEALTH_REVIEW_CRON``); also ``manage.py automation_health_review`` and the
"Run the review now" button of the review page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from exceptions.models import ExceptionItem
from exceptions.services import exception_item_open, exception_item_resolve
from revops.audit import system_user
from revops.metrics.registry import automation_metrics
from revops.metrics.rollup import metrics_rollup
from revops.models import Automation

from .health import RETIRE, AutomationHealth, automations_health, setting, signal_label

ITEM_KIND = "automation_health"
ITEM_LABEL = "Automation health: retire or review"
ITEM_EXPECTED = (
    "Open the automation's health page, then change the rule, retire it, or close this item saying why it stays."
)
REVIEWER = "health-review"


@dataclass
class ReviewResult:
    """What one review did: suggestions opened, refreshed and closed (their signal cleared)."""

    opened: int = 0
    refreshed: int = 0
    closed: int = 0
    automations: int = 0

    def text(self) -> str:
        return (
            f"Reviewed {_count(self.automations, 'live automation')}: {_count(self.opened, 'suggestion')} opened, "
            f"{self.refreshed} still open and refreshed, {self.closed} closed because their signal cleared."
        )


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def suggestion_key(automation_id: int, signal: str) -> str:
    return f"{ITEM_KIND}:{automation_id}:{signal}"


def _open_suggestions(ids: list[int]) -> dict[str, ExceptionItem]:
    items = ExceptionItem.objects.filter(
        kind=ITEM_KIND, automation_id__in=ids, status__in=ExceptionItem.OPEN_STATUSES
    ).order_by()
    return {item.dedupe_key: item for item in items}


def _suggest(health: AutomationHealth, signal, *, actor) -> bool:
    a = health.automation
    verb = "Consider retiring" if signal.suggests == RETIRE else "Review"
    _item, created = exception_item_open(
        dedupe_key=suggestion_key(a.pk, signal.key),
        kind=ITEM_KIND,
        title=f"{verb} {a.name}: {signal_label(signal.key).lower()}",
        reason=f"{signal.text} (Monthly health review of {health.start:%d %b} to {health.end:%d %b %Y}.)",
        expected_action=ITEM_EXPECTED,
        owner=a.rule_owner or a.system_owner,
        severity="low" if signal.suggests == RETIRE else "medium",
        queue_name=a.exception_queue,
        automation=a,
        object_type="automation",
        object_id=a.pk,
        actor=actor,
    )
    return created


def automation_health_review(*, today: dt.date | None = None, actor=None, rollup: bool = True) -> ReviewResult:
    """Open, refresh or close the health suggestions of every automation (see the module docstring).

    ``rollup`` first brings the per-automation counters up to date (the scheduled job and the button
    do; a caller that just rolled everything up may skip it)."""
    today = today or timezone.localdate()
    actor = actor or system_user(REVIEWER, first_name="Monthly health review")
    if rollup:
        metrics_rollup(keys={m.key for m in automation_metrics()})
    automations = list(Automation.objects.select_related("rule_owner", "system_owner").order_by("name"))
    result = ReviewResult()
    tripped: set[str] = set()
    for health in automations_health(automations, today=today):
        if health.status is None:
            continue
        result.automations += 1
        for signal in health.signals:
            tripped.add(suggestion_key(health.automation.pk, signal.key))
            if _suggest(health, signal, actor=actor):
                result.opened += 1
            else:
                result.refreshed += 1
    window = setting("HEALTH_WINDOW_DAYS")
    for key, item in _open_suggestions([a.pk for a in automations]).items():
        if key in tripped:
            continue
        exception_item_resolve(
            item=item,
            reason_code="not_an_issue",
            note=f"The health review of {today:%d %b %Y} found the signal cleared over the last {window} days.",
            actor=actor,
        )
        result.closed += 1
    return result


def automation_health_demo_build(context: dict) -> None:
    """The monthly review over the demo's activity, as the scheduled job runs it (rolling up the
    per-automation counters first), just before the demo's full roll-up, which then counts the
    suggestions it opened among the day's items."""
    if not context.get("fresh"):
        return
    automation_health_review(today=timezone.localdate(context.get("now")))
