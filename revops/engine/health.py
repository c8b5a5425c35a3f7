"""Automation health: each automation's numbers over a window, its status and the reasons, in words.

Read from the per-automation daily roll-ups (``revops.engine.health_metrics`` and what other layers
register with ``per_automation=True``), never from runs or items directly: a page costs the same
few queries for one automation or for all of them (the automations, the window's sums, the last
``HEALTH_NO_FIRE_DAYS`` days' fires, the deprecated dictionary fields).

Statuses, worst first:

- **retire** — a live automation that has not fired in ``HEALTH_NO_FIRE_DAYS`` days (and is that old);
- **review** — most alerts ignored, a high override rate, more exceptions than completed actions,
  or a deprecated dictionary field in its conditions;
- **watch** — errors at or above ``HEALTH_WATCH_ERROR_PERCENT`` of its runs, runs reverted by a
  person, its review date passed, or its kill switch on;
- **healthy** — none of those.

Only live automations get a status; drafts, shadow, switched-off and retired ones are shown as
not live. The thresholds are settings (``revops/settings.py``, docs/health.md).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Sum
from django.utils import formats, timezone

from revops.access import ADMIN, user_role
from revops.metrics.registry import automation_metrics
from revops.models import Automation, FieldDefinition, MetricDaily

RETIRE, REVIEW, WATCH, HEALTHY = "retire", "review", "watch", "healthy"
STATUS_LABELS = {RETIRE: "Retire", REVIEW: "Review", WATCH: "Watch", HEALTHY: "Healthy"}
STATUS_TONES = {RETIRE: "danger", REVIEW: "warn", WATCH: "info", HEALTHY: "ok"}
SEVERITY = {RETIRE: 0, REVIEW: 1, WATCH: 2, HEALTHY: 3}

# The signals that open suggestion items, and what each suggests.
IGNORED, OVERRIDES, EXCEPTIONS, NO_FIRES, DEPRECATED = "ignored", "overrides", "exceptions", "no_fires", "deprecated"
SIGNAL_LABELS = {
    IGNORED: "Most alerts ignored",
    OVERRIDES: "High override rate",
    EXCEPTIONS: "More exceptions than completed actions",
    NO_FIRES: "No fires in {days} days",
    DEPRECATED: "Uses a deprecated dictionary field",
}
WINDOW_CHOICES = (7, 30, 90, 180, 365)
MAX_WINDOW_DAYS = 731


def setting(name: str) -> int:
    defaults = {
        "HEALTH_WINDOW_DAYS": 30,
        "HEALTH_IGNORED_PERCENT": 50,
        "HEALTH_IGNORED_MIN": 3,
        "HEALTH_OVERRIDE_PERCENT": 30,
        "HEALTH_OVERRIDE_MIN": 5,
        "HEALTH_EXCEPTIONS_MIN": 3,
        "HEALTH_NO_FIRE_DAYS": 90,
        "HEALTH_WATCH_ERROR_PERCENT": 5,
    }
    return int(getattr(settings, name, defaults[name]))


def health_visible(user) -> bool:
    """Who sees the health pages: RevOps admins (and superusers). Managers and reps do not: retiring
    or reviewing an automation is a RevOps decision, and its numbers count every team's records."""
    return user_role(user) == ADMIN


@dataclass(frozen=True)
class Signal:
    """A tripped signal: its key, what it suggests (retire or review) and the reason in words."""

    key: str
    suggests: str
    text: str

    @property
    def label(self) -> str:
        return signal_label(self.key)


def signal_label(key: str) -> str:
    """A signal's name in words ("No fires in 90 days")."""
    return SIGNAL_LABELS.get(key, key.replace("_", " ").capitalize()).format(days=setting("HEALTH_NO_FIRE_DAYS"))


@dataclass
class AutomationHealth:
    """One automation's health over ``start``..``end`` (local days)."""

    automation: Automation
    start: dt.date
    end: dt.date
    counts: dict[str, int]
    fired_recent: int
    runs_recent: int
    deprecated: list[str] = field(default_factory=list)
    status: str | None = None
    reasons: list[str] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, "Not live")

    @property
    def status_tone(self) -> str:
        return STATUS_TONES.get(self.status, "neutral")

    @property
    def minutes_saved(self) -> int | None:
        per_run = self.automation.minutes_saved_per_run
        return None if not per_run else per_run * self.counts.get("health_fired", 0)

    def rows(self) -> list[tuple[str, int]]:
        """The counters in words, in the page's order (what other layers registered included)."""
        return [(m.label, self.counts.get(m.key, 0)) for m in automation_metrics()]


def _percent(part: float, whole: float) -> int:
    return round(part * 100 / whole) if whole else 0


def _window_words(days: int) -> str:
    return "today" if days == 1 else f"the last {days} days"


def _date(value: dt.date) -> str:
    return formats.date_format(value, "j M Y")


def _judge(health: AutomationHealth, *, today: dt.date) -> None:
    """Fill in the status, the reasons and the tripped signals."""
    a, c = health.automation, health.counts
    window = _window_words(health.days)
    if a.mode != Automation.Mode.LIVE:
        health.reasons = [
            f"Not live: it is {a.get_mode_display().lower()}. A health status is given to live automations only."
        ]
        return
    signals: list[Signal] = []
    closed = c.get("health_items_ignored", 0) + c.get("health_items_completed", 0)
    ignored = c.get("health_items_ignored", 0)
    share = _percent(ignored, closed)
    if closed >= setting("HEALTH_IGNORED_MIN") and share > setting("HEALTH_IGNORED_PERCENT"):
        signals.append(
            Signal(
                IGNORED,
                REVIEW,
                f"Most of its alerts are ignored: of the {closed} items it raised that were closed in {window}, "
                f"{ignored} ({share} %) were dismissed or expired without action.",
            )
        )
    decided, overridden = c.get("health_approvals", 0), c.get("health_overrides", 0)
    rate = _percent(overridden, decided)
    if decided >= setting("HEALTH_OVERRIDE_MIN") and rate >= setting("HEALTH_OVERRIDE_PERCENT"):
        signals.append(
            Signal(
                OVERRIDES,
                REVIEW,
                f"People override it often: {overridden} of the {decided} approvals decided in {window} "
                f"({rate} %) changed what it prepared.",
            )
        )
    opened, done = c.get("health_items_created", 0), c.get("health_actions", 0)
    if opened >= setting("HEALTH_EXCEPTIONS_MIN") and opened > done:
        signals.append(
            Signal(
                EXCEPTIONS,
                REVIEW,
                f"It hands more work to people than it finishes: {opened} exception items opened in {window} "
                f"against {done} actions completed.",
            )
        )
    quiet_days = setting("HEALTH_NO_FIRE_DAYS")
    live_since = timezone.localdate(a.created_at)
    if not health.fired_recent and (today - live_since).days >= quiet_days and a.paused_at is None:
        ran = f"it ran {_times(health.runs_recent)} without firing" if health.runs_recent else "it did not run at all"
        signals.append(
            Signal(NO_FIRES, RETIRE, f"It has not fired in the last {quiet_days} days ({ran}); nothing needs it.")
        )
    if health.deprecated:
        signals.append(
            Signal(
                DEPRECATED,
                REVIEW,
                f"Its conditions read deprecated dictionary fields: {', '.join(health.deprecated)}.",
            )
        )
    watch: list[str] = []
    runs, errors = c.get("health_runs", 0), c.get("health_errors", 0)
    if errors and _percent(errors, runs) >= setting("HEALTH_WATCH_ERROR_PERCENT"):
        watch.append(f"{errors} of its {runs} runs in {window} ended in an error ({_percent(errors, runs)} %).")
    if c.get("health_reverts"):
        n = c["health_reverts"]
        watch.append(
            f"A person reverted {n} of its runs in {window}."
            if n > 1
            else f"A person reverted one of its runs in {window}."
        )
    reviewed = a.last_reviewed_at or timezone.localdate(a.created_at)
    due = reviewed + dt.timedelta(days=a.review_cadence_days)
    if due < today:
        watch.append(f"Its review was due on {_date(due)} (every {a.review_cadence_days} days).")
    if a.paused_at is not None:
        watch.append("Its kill switch is on: it is paused.")
    health.signals = signals
    if signals:
        health.status = min((s.suggests for s in signals), key=SEVERITY.__getitem__)
    elif watch:
        health.status = WATCH
    else:
        health.status = HEALTHY
    health.reasons = [s.text for s in signals] + watch
    if not health.reasons:
        fired = c.get("health_fired", 0)
        if fired:
            health.reasons = [f"It fired {_times(fired)} in {window}; no signal tripped."]
        else:
            health.reasons = [
                f"It did not fire in {window}, but it is younger than {quiet_days} days (created "
                f"{_date(live_since)}), so it is not yet a candidate to retire; no signal tripped."
                if (today - live_since).days < quiet_days
                else f"It did not fire in {window}, but it did within {quiet_days} days; no signal tripped."
            ]


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _sums(ids: list[int], start: dt.date, end: dt.date, keys: list[str]) -> dict[int, dict[str, int]]:
    found: dict[int, dict[str, int]] = defaultdict(dict)
    if not ids or not keys:
        return found
    rows = (
        MetricDaily.objects.filter(metric__in=keys, day__gte=start, day__lte=end, dimension__in=[str(i) for i in ids])
        .values_list("metric", "dimension")
        .annotate(n=Sum("numerator"))
        .order_by()
    )
    for key, dimension, n in rows:
        found[int(dimension)][key] = int(n or 0)
    return found


def _deprecated_fields() -> dict[str, str]:
    """``object.key`` → "Label (object.key)" of every deprecated dictionary field."""
    rows = FieldDefinition.objects.filter(is_deprecated=True).values_list("object_type", "key", "label")
    return {f"{obj}.{key}": f"{label} ({obj}.{key})" for obj, key, label in rows}


def automations_health(automations, *, days: int | None = None, today: dt.date | None = None) -> list[AutomationHealth]:
    """The health of each of ``automations`` over the ``days`` up to ``today`` (default the
    ``HEALTH_WINDOW_DAYS`` up to today), in the order given."""
    today = today or timezone.localdate()
    days = days or setting("HEALTH_WINDOW_DAYS")
    start = today - dt.timedelta(days=days - 1)
    automations = list(automations)
    ids = [a.pk for a in automations]
    keys = [m.key for m in automation_metrics()]
    window = _sums(ids, start, today, keys)
    recent_start = today - dt.timedelta(days=setting("HEALTH_NO_FIRE_DAYS") - 1)
    recent = _sums(ids, recent_start, today, ["health_fired", "health_runs"])
    deprecated = _deprecated_fields()
    result = []
    for a in automations:
        health = AutomationHealth(
            automation=a,
            start=start,
            end=today,
            counts=window.get(a.pk, {}),
            fired_recent=recent.get(a.pk, {}).get("health_fired", 0),
            runs_recent=recent.get(a.pk, {}).get("health_runs", 0),
            deprecated=[deprecated[path] for path in a.fields_used or [] if path in deprecated],
        )
        _judge(health, today=today)
        result.append(health)
    return result


def automation_health(automation: Automation, **kwargs) -> AutomationHealth:
    return automations_health([automation], **kwargs)[0]


def health_review_rows(*, days: int | None = None, today: dt.date | None = None) -> list[AutomationHealth]:
    """Every automation's health, worst first (not-live ones last), then by name."""
    automations = Automation.objects.select_related("rule_owner", "system_owner").order_by("name")
    rows = automations_health(automations, days=days, today=today)
    return sorted(rows, key=lambda h: (SEVERITY.get(h.status, 9), h.automation.name.lower()))


def window_days(raw) -> int:
    """The window a page asks for (``?days=``): a whole number of days from 1 to 731; raises
    ``ValueError`` with a sentence that says what is accepted."""
    text = (raw or "").strip()
    if not text:
        return setting("HEALTH_WINDOW_DAYS")
    if not text.isdigit() or not 1 <= int(text) <= MAX_WINDOW_DAYS:
        raise ValueError(f"“{text[:20]}” is not a window; give a whole number of days from 1 to {MAX_WINDOW_DAYS}.")
    return int(text)
