"""The "Forecast movement" panel of a deal's Why page: the signals of ``monitors.selectors`` in plain
language, with human durations and local dates, and every hygiene policy checked live on the deal —
which fire, which do not, and why, and which a person suppressed for the deal (until when, by whom, why)."""

from __future__ import annotations

from django.utils import timezone

from exceptions.models import Suppression
from exceptions.suppressions import record_suppressions
from revops.models import Opportunity

from . import words
from .findings import suppressed_words
from .selectors import deal_signals, evidence_labels, hygiene_policies, quarter_start


def _window(signals) -> str:
    return (
        "this quarter"
        if signals.window_start == quarter_start(timezone.localdate(signals.now))
        else (f"since {words.day(signals.window_start)}")
    )


def _amount_line(s) -> str:
    if s.snapshot_on is None:
        return "No forecast snapshot of this deal yet, so no amount change to compare."
    since = f"since the snapshot of {words.day(s.snapshot_on)}"
    if s.amount_change is None:
        return f"Amount not comparable {since} (one of them is empty)."
    if s.amount_change == 0:
        return f"Amount unchanged {since} ({words.money(s.amount)})."
    direction = "up" if s.amount_change > 0 else "down"
    values = f"{words.money(s.snapshot_amount)} → {words.money(s.amount)}"
    if s.amount_change_pct is None:
        return f"Amount {direction} by {words.money(abs(s.amount_change))} {since} ({values})."
    pct = abs(s.amount_change_pct)
    pct_text = f"{pct:.0f}" if pct >= 1 else f"{pct:.1f}"
    return f"Amount {direction} {pct_text} % {since} ({values})."


def forecast_lines(signals) -> list[str]:
    """The panel's sentences for one deal's ``DealSignals``."""
    stages = dict(Opportunity.Stage.choices)
    categories = dict(Opportunity.ForecastCategory.choices)
    window = _window(signals)
    if signals.pushes:
        pushes = f"Close date moved later {words.times(signals.pushes)} {window}, {words.days(signals.days_slipped)} in total."
    else:
        pushes = f"Close date not moved later {window}."
    lines = [pushes, _amount_line(signals)]
    lines.append(words.stage_stay(signals, stages.get(signals.stage, signals.stage)) + ".")
    if signals.last_category_change is not None:
        when, old, new = signals.last_category_change
        changes = (
            f"Forecast category changed {words.times(signals.category_changes)} {window}"
            if signals.category_changes
            else f"Forecast category not changed {window}"
        )
        lines.append(
            f"{changes}; last on {words.day(when)}, from {categories.get(old, old or 'none')} "
            f"to {categories.get(new, new or 'none')}."
        )
    else:
        lines.append("Forecast category never changed since the portal has known the deal.")
    if signals.days_since_activity is None:
        lines.append("No activity logged.")
    else:
        lines.append(f"Last activity {words.ago(signals.days_since_activity)} ({words.day(signals.last_activity_at)}).")
    return lines


def policy_lines(deal, signals) -> list[dict]:
    """Each live or shadow hygiene policy on ``deal`` now: ``{"name", "mode", "fired", "text"}``."""
    from revops import conditions

    from .policies import policy_check

    today = timezone.localdate(signals.now)
    labels = evidence_labels()
    suppressed = {row.automation_id: row for row in record_suppressions(object_type="opportunity", object_id=deal.pk)}
    rows = []
    for automation in hygiene_policies():
        mode = "" if automation.mode == "live" else " (shadow: recorded, no item)"
        if automation.pk in suppressed:
            mode += f" — {suppressed_words(suppressed[automation.pk], noun='deal')}"
        tree = automation.conditions or {"all": []}
        predicate = conditions.compile_condition(tree, object_type="opportunity")
        if not predicate(conditions.Context(deal, now=signals.now)):
            rows.append(
                {"name": automation.name + mode, "fired": False, "text": "Not covered: outside its conditions."}
            )
            continue
        if not deal.is_open:
            rows.append({"name": automation.name + mode, "fired": False, "text": "The deal is closed."})
            continue
        check = policy_check(automation.config, deal, signals, today=today, labels=labels)
        rows.append({"name": automation.name + mode, "fired": check.fired, "text": check.text})
    return rows


def why_forecast_panel(object_type: str, object_id: int, *, request=None) -> dict | None:
    """Shown on opportunities only (the Why page has already checked the user may see the deal)."""
    if object_type != "opportunity":
        return None
    signals = deal_signals(opportunity_ids=[object_id]).get(object_id)
    if signals is None:
        return None
    deal = Opportunity.objects.select_related("owner", "account").get(pk=object_id)
    return {
        "lines": forecast_lines(signals),
        "policies": policy_lines(deal, signals),
        "suppressions_url": _suppressions_url(deal),
    }


def _suppressions_url(deal) -> str:
    """The deal's suppressions in the admin (where a person lifts one early), when any was ever made."""
    from urllib.parse import urlencode

    from django.urls import reverse

    if not Suppression.objects.filter(object_type="opportunity", object_id=deal.pk).exists():
        return ""
    return f"{reverse('admin:exceptions_suppression_changelist')}?{urlencode({'q': deal.external_id})}"
