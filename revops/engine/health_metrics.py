"""The engine's per-automation counters, rolled up daily for the automation health pages.

Each is a ``per_automation`` metric (``revops.metrics.registry``): one number per automation and
local day, the automation's id as the row's dimension. The health pages and the monthly review
(``revops.engine.health``) add the days of a window up; they never scan runs or items themselves.
Other layers add counters the same way (routing: leads a person reassigned after routing).

What counts (live runs only: shadow runs change nothing and have their own report):

- runs, fired, not fired, errors — live runs, on the day they were created;
- actions completed — actions live runs applied and that stayed applied, other than opening an
  exception item (that is the automation handing work to a person, not finishing it);
- items created — exception items the automation opened (approvals and its own health
  suggestions left out: an approval is the designed path of a high-risk action);
- items completed / alerts ignored — of those items, closed on the day: *ignored* when dismissed,
  suppressed for the record, or closed by the system while nobody had claimed it ("not an
  issue": it expired without action); *completed* when resolved otherwise (a revert's closing
  is neither);
- approvals decided / overrides — approval items a person decided, and those overridden;
- reverts — runs a person reverted (``RunRevert``), on the day of the revert.
"""

from __future__ import annotations

from collections import Counter

from django.db.models import Count, Q

from exceptions.codes import REVERTED, SUPPRESSED
from exceptions.models import ExceptionItem
from exceptions.registry import approval_kinds
from revops.metrics.registry import Point
from revops.models import AppliedAction, Automation, AutomationRun, RunRevert
from revops.plugins import register_metric

from .metrics import runs_changed

HEALTH_ITEM_KINDS = ("automation_health", "review_overdue")  # about the automation, not raised by it
HANDED_TO_PEOPLE = ("open_exception",)
Outcome = AutomationRun.Outcome
Status = ExceptionItem.Status


def _points(rows) -> list[Point]:
    """Points from ``(automation id, count)`` rows."""
    return [Point(None, str(pk), numerator=n) for pk, n in rows if pk is not None and n]


def _runs(start, end, outcome: str | None):
    runs = AutomationRun.objects.filter(created_at__gte=start, created_at__lt=end, mode=Automation.Mode.LIVE)
    if outcome is not None:
        runs = runs.filter(outcome=outcome)
    return _points(runs.values("automation_id").annotate(n=Count("pk")).values_list("automation_id", "n").order_by())


def _runs_day(outcome: str | None):
    def compute(day, start, end):
        return _runs(start, end, outcome)

    return compute


def actions_changed(since):
    applied = AppliedAction.objects.all()
    if since is not None:
        applied = applied.filter(created_at__gte=since)
    return applied.values_list("created_at", flat=True).iterator()


def actions_day(day, start, end):
    rows = (
        AppliedAction.objects.filter(
            created_at__gte=start,
            created_at__lt=end,
            status=AppliedAction.Status.APPLIED,
            run__mode=Automation.Mode.LIVE,
        )
        .exclude(action__in=HANDED_TO_PEOPLE)
        .values("run__automation_id")
        .annotate(n=Count("pk"))
        .values_list("run__automation_id", "n")
        .order_by()
    )
    return _points(rows)


def _automation_items():
    return ExceptionItem.objects.filter(automation__isnull=False).exclude(kind__in=HEALTH_ITEM_KINDS)


def items_changed(since):
    items = _automation_items()
    if since is not None:
        items = items.filter(Q(first_seen_at__gte=since) | Q(resolved_at__gte=since))
    for opened, closed in items.values_list("first_seen_at", "resolved_at").iterator():
        yield opened
        if closed is not None:
            yield closed


def items_created_day(day, start, end):
    rows = (
        _automation_items()
        .exclude(kind__in=approval_kinds())
        .filter(first_seen_at__gte=start, first_seen_at__lt=end)
        .values("automation_id")
        .annotate(n=Count("pk"))
        .values_list("automation_id", "n")
        .order_by()
    )
    return _points(rows)


IGNORED_Q = (
    Q(status=Status.DISMISSED)
    | Q(resolution_code=SUPPRESSED)
    | Q(resolved_by__isnull=True, claimed_at__isnull=True, resolution_code="not_an_issue")
)


def _closed(start, end):
    return (
        _automation_items()
        .exclude(kind__in=approval_kinds())
        .filter(resolved_at__gte=start, resolved_at__lt=end, status__in=[Status.RESOLVED, Status.DISMISSED])
    )


def items_completed_day(day, start, end):
    closed = _closed(start, end).exclude(IGNORED_Q).exclude(resolution_code=REVERTED)
    return _points(closed.values("automation_id").annotate(n=Count("pk")).values_list("automation_id", "n").order_by())


def items_ignored_day(day, start, end):
    closed = _closed(start, end).filter(IGNORED_Q)
    return _points(closed.values("automation_id").annotate(n=Count("pk")).values_list("automation_id", "n").order_by())


def _decided(start, end):
    return _automation_items().filter(
        kind__in=approval_kinds(), resolved_at__gte=start, resolved_at__lt=end, resolved_by__isnull=False
    )


def approvals_day(day, start, end):
    decided = _decided(start, end).exclude(decision="")
    return _points(decided.values("automation_id").annotate(n=Count("pk")).values_list("automation_id", "n").order_by())


def overrides_day(day, start, end):
    decided = _decided(start, end).filter(decision=ExceptionItem.Decision.OVERRIDDEN)
    return _points(decided.values("automation_id").annotate(n=Count("pk")).values_list("automation_id", "n").order_by())


def reverts_changed(since):
    reverts = RunRevert.objects.all()
    if since is not None:
        reverts = reverts.filter(created_at__gte=since)
    return reverts.values_list("created_at", flat=True).iterator()


def reverts_day(day, start, end):
    automations = RunRevert.objects.filter(created_at__gte=start, created_at__lt=end).values_list(
        "run__automation_id", flat=True
    )
    return _points(Counter(automations).items())


# (key, label, compute_day, changed_days); the order is the health page's.
COUNTERS = (
    ("health_runs", "Runs", _runs_day(None), runs_changed),
    ("health_fired", "Fired", _runs_day(Outcome.FIRED), runs_changed),
    ("health_not_fired", "Did not fire", _runs_day(Outcome.NOT_FIRED), runs_changed),
    ("health_errors", "Errors", _runs_day(Outcome.ERROR), runs_changed),
    ("health_actions", "Actions completed", actions_day, actions_changed),
    ("health_items_created", "Items created", items_created_day, items_changed),
    ("health_items_completed", "Items completed", items_completed_day, items_changed),
    ("health_items_ignored", "Alerts ignored", items_ignored_day, items_changed),
    ("health_approvals", "Approvals decided", approvals_day, items_changed),
    ("health_overrides", "Overrides", overrides_day, items_changed),
    ("health_reverts", "Runs reverted", reverts_day, reverts_changed),
)


def health_metrics_register() -> None:
    """Register the engine's per-automation counters (``engine_setup``)."""
    for order, (key, label, compute, changed) in enumerate(COUNTERS):
        register_metric(
            key,
            label=label,
            description=f"{label}, per automation and day (the automation health page).",
            unit="count",
            group="Automation health",
            aggregate="sum",
            compute_day=compute,
            changed_days=changed,
            order=900 + order,
            per_automation=True,
        )
