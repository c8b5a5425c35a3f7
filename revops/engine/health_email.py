"""The weekly e-mail to RevOps admins: the dashboard's headline numbers and the open health suggestions.

``weekly_revops_email_send`` (scheduled by ``HEALTH_WEEKLY_CRON``, default Monday 07:00) sends each
active RevOps admin (and superuser) one e-mail about the seven local days that ended yesterday,
through the queue's notification records (``exceptions.models.Notification``):

- **once per week**: the row's key is ``weekly_revops:<ISO year>-W<week>``, unique per recipient,
  written before the e-mail is sent, so a re-run (or one racing it) sends nothing twice;
- **on the recipient's channels** for "RevOps weekly" (*My notifications*), and **rate-limited like
  every notification**: a recipient who already got their hourly limit of notices
  (``NotificationLimits``) gets none (the row says ``rate_limited``; the dashboard and the review page
  show the same numbers);
- a recipient without an address gets a ``no_address`` row; nobody gets an e-mail with nothing in it.

Links start with ``PORTAL_BASE_URL``; times are in the portal's time zone, with its name.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from exceptions.models import ExceptionItem, Notification
from exceptions.notifications import TRIAGE_PATH, base_url, notification_deliver, notification_open
from revops.access import ADMIN
from revops.metrics.selectors import metrics_read
from revops.metrics.views import number_text
from revops.values import date_text, datetime_text

from .health import STATUS_LABELS, health_review_rows
from .health_review import ITEM_KIND

REASON = "weekly_revops"
TEMPLATE = "revops/email/weekly"
HEADLINE_SERIES = 3


def weekly_key(end: dt.date) -> str:
    year, week, _ = end.isocalendar()
    return f"{REASON}:{year}-W{week:02d}"


def weekly_recipients():
    """Active RevOps admins and superusers."""
    users = get_user_model().objects.filter(is_active=True)
    return users.filter(Q(is_superuser=True) | Q(groups__name=ADMIN)).distinct().order_by("username")


def _headlines(start: dt.date, end: dt.date) -> list[dict]:
    lines = []
    for data in metrics_read(start=start, end=end, team_ids=None):
        figures = [
            f"{series['name']}: {number_text(series['total'], data['unit'])}"
            if len(data["series"]) > 1
            else number_text(series["total"], data["unit"])
            for series in data["series"]
            if series["total"] is not None
        ][:HEADLINE_SERIES]
        if figures:
            lines.append({"label": data["label"], "figures": "; ".join(figures)})
    return lines


def weekly_revops_content(*, now: dt.datetime | None = None) -> dict:
    """What the week's e-mail says (the template's context), the same for every recipient."""
    now = now or timezone.now()
    end = timezone.localdate(now) - dt.timedelta(days=1)
    start = end - dt.timedelta(days=6)
    url = base_url()
    suggestions = [
        {
            "title": item.title,
            "reason": item.reason,
            "owner": (item.owner.get_full_name() or item.owner.get_username()) if item.owner else "nobody",
            "since": date_text(timezone.localdate(item.first_seen_at)),
            "url": f"{url}{TRIAGE_PATH}{item.pk}/change/",
            "health_url": f"{url}{reverse('admin:revops_automation_health', args=[item.automation_id])}"
            if item.automation_id
            else "",
        }
        for item in ExceptionItem.objects.filter(kind=ITEM_KIND, status__in=ExceptionItem.OPEN_STATUSES)
        .select_related("owner")
        .order_by("first_seen_at", "pk")
    ]
    statuses: dict[str, int] = {}
    for health in health_review_rows(today=timezone.localdate(now)):  # as the suggestions see it
        if health.status is not None:
            statuses[health.status] = statuses.get(health.status, 0) + 1
    return {
        "start": start,
        "end": end,
        "period": f"{date_text(start)} to {date_text(end)}",
        "generated": datetime_text(now),
        "headlines": _headlines(start, end),
        "suggestions": suggestions,
        "statuses": [(STATUS_LABELS[key], statuses[key]) for key in STATUS_LABELS if statuses.get(key)],
        "dashboard_url": f"{url}{reverse('revops-dashboard')}?start={start.isoformat()}&end={end.isoformat()}",
        "review_url": f"{url}{reverse('admin:revops_automation_health_review')}",
        "triage_url": f"{url}{TRIAGE_PATH}?kind={ITEM_KIND}",
    }


def weekly_revops_email_send(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Send the week's e-mail to every RevOps admin who has not had it (see the module docstring).

    Returns how many rows of each status were written this time."""
    now = now or timezone.now()
    content = weekly_revops_content(now=now)
    done: dict[str, int] = {}
    if not content["headlines"] and not content["suggestions"]:
        return done
    n = len(content["suggestions"])
    subject = (f"RevOps weekly, {content['period']}: {n} automation health suggestion{'s' if n != 1 else ''} open")[
        :200
    ]
    key = weekly_key(content["end"])
    for recipient in weekly_recipients():
        # Rate-limited like every notification, but never held for quiet hours (only items' notices are).
        note = notification_open(
            recipient=recipient,
            key=key,
            reason=REASON,
            event=REASON,
            subject=subject,
            immediate=True,
            hold=False,
            now=now,
        )
        if note is None:
            continue  # this week's e-mail was already handled for them
        status = note.status
        if status == Notification.Status.SENT:
            context = {**content, "recipient": recipient, "name": recipient.get_full_name() or recipient.get_username()}
            status = notification_deliver(note, template=TEMPLATE, context=context)
        done[status] = done.get(status, 0) + 1
    return done
