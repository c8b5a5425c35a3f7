"""Helpers of the triage admin: queue counts for the header, an item's history rows and record
fields, and how a service's refusal or a bulk result becomes a message."""

from __future__ import annotations

from django.apps import apps
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Count, Q
from django.utils import timezone

from revops.display import FieldText

from .. import errors
from ..codes import resolution_label
from ..models import ExceptionItem
from ..registry import approval_kinds
from ..selectors import visible_queues
from ..services import person_name
from .filters import OPEN

SEVERITY_TONES = {"low": "neutral", "medium": "warn", "high": "danger", "critical": "danger"}
STATUS_TONES = {
    "open": "info",
    "in_progress": "core",
    "snoozed": "neutral",
    "escalated": "danger",
    "resolved": "ok",
    "dismissed": "neutral",
}
RECORD_FIELDS = (
    "external_id",
    "name",
    "first_name",
    "last_name",
    "email",
    "company",
    "country",
    "stage",
    "forecast_category",
    "amount",
    "close_date",
    "status",
    "segment",
    "owner",
)
HISTORY_FIELDS = (
    "status",
    "owner_id",
    "escalation_level",
    "snoozed_until",
    "decision",
    "resolution_code",
    "occurrences",
)


# --- Refusals ----------------------------------------------------------------------------------


def refusals() -> tuple[type[BaseException], ...]:
    """Exceptions a service raises to refuse an action (shown as a message, never a 500)."""
    refused: list[type[BaseException]] = [ValidationError, PermissionDenied]
    for value in vars(errors).values():
        if isinstance(value, type) and issubclass(value, Exception) and value.__module__ == errors.__name__:
            refused.append(value)
    return tuple(refused)


def refusal_message(error: BaseException) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(error.messages)
    return str(error) or error.__class__.__name__


def bulk_counts(result: dict) -> tuple[int, list[str]]:
    """(done, refusal messages) from a bulk service's ``{"done", "skipped", "errors": {pk: message}}``."""
    errors_by_pk = result.get("errors") or {}
    refused = [f"#{pk}: {message}" for pk, message in errors_by_pk.items()]
    missing = int(result.get("skipped") or 0) - len(refused)
    if missing > 0:
        refused.append(f"{missing} more item(s) skipped")
    return int(result.get("done") or 0), refused


# --- Queue counts ------------------------------------------------------------------------------


QUEUE_COUNTS_SECONDS = 30


def queue_counts(user) -> list[dict]:
    """Per visible queue: open (awake), overdue, approvals waiting and snoozed — one grouped query.

    The answer is cached for ``QUEUE_COUNTS_SECONDS`` per set of queues (a triage header may be
    half a minute old; with many open items the grouped count is the page's most expensive query).
    """
    queues = list(visible_queues(user=user).order_by("name").values("pk", "name"))
    if not queues:
        return []
    key = "exceptions:queue-counts:" + ",".join(str(q["pk"]) for q in queues)
    try:
        cached = cache.get(key)
    except Exception:  # the cache is a convenience: without Redis, count every time
        cached = None
    if cached is not None:
        return cached
    counts = _queue_counts(queues)
    try:
        cache.set(key, counts, QUEUE_COUNTS_SECONDS)
    except Exception:
        pass
    return counts


def _queue_counts(queues: list[dict]) -> list[dict]:
    now = timezone.now()
    rows = (
        ExceptionItem.objects.filter(queue_id__in=[q["pk"] for q in queues], status__in=OPEN)
        .order_by()
        .values("queue_id")
        .annotate(
            open=Count("pk", filter=~Q(status=ExceptionItem.Status.SNOOZED)),
            overdue=Count("pk", filter=Q(due_at__lt=now) & ~Q(status=ExceptionItem.Status.SNOOZED)),
            approvals=Count(
                "pk", filter=Q(kind__in=approval_kinds(), decision="") & ~Q(status=ExceptionItem.Status.SNOOZED)
            ),
            snoozed=Count("pk", filter=Q(status=ExceptionItem.Status.SNOOZED)),
        )
    )
    by_queue = {row["queue_id"]: row for row in rows}
    return [
        {
            "pk": q["pk"],
            "name": q["name"],
            "open": by_queue.get(q["pk"], {}).get("open", 0),
            "overdue": by_queue.get(q["pk"], {}).get("overdue", 0),
            "approvals": by_queue.get(q["pk"], {}).get("approvals", 0),
            "snoozed": by_queue.get(q["pk"], {}).get("snoozed", 0),
        }
        for q in queues
    ]


# --- The item page -----------------------------------------------------------------------------


def record_fields(obj) -> list[tuple[str, str]]:
    """A few key fields of the record the item is about."""
    if not obj.object_type or obj.object_id is None:
        return []
    try:
        model = apps.get_model("revops", obj.object_type)
    except LookupError:
        return []
    record = model._default_manager.filter(pk=obj.object_id).first()
    if record is None:
        return [("record", "deleted")]
    fields = {f.name for f in model._meta.get_fields()}
    text = FieldText()
    rows = []
    for name in RECORD_FIELDS:
        if name in fields:
            value = getattr(record, name, None)
            if value not in (None, ""):
                shown = str(value) if isinstance(value, models.Model) else text.value(obj.object_type, name, value)
                rows.append((text.label(obj.object_type, name), shown))
    return rows


def history_rows(history) -> list[dict]:
    """The item's history as rows: when, who, what changed (against the previous version)."""
    rows = []
    for index, version in enumerate(history):
        previous = history[index + 1] if index + 1 < len(history) else None
        changes = []
        if previous is not None:
            for name in HISTORY_FIELDS:
                before, after = getattr(previous, name, None), getattr(version, name, None)
                if before != after:
                    if name == "resolution_code":
                        before, after = resolution_label(before or ""), resolution_label(after or "")
                    changes.append(f"{name.replace('_id', '')}: {before or '—'} → {after or '—'}")
        rows.append(
            {
                "when": version.history_date,
                "who": person_name(version.history_user) if version.history_user_id else "system",
                "type": {"+": "created", "~": "changed", "-": "deleted"}.get(version.history_type, "?"),
                "reason": version.history_change_reason or "",
                "changes": changes,
            }
        )
    return rows
