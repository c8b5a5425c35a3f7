"""The forecast-hygiene digest: once per forecast call, one email per manager listing their open hygiene items.

``hygiene_digests_send(now=…)`` runs after each hourly scan (``jobs.monitors_hygiene_scan``). For every
open ``forecast_hygiene`` item (not snoozed) with an active owner, it finds the forecast call of the
deal owner's team (``CallBook``: the team's own, else the nearest ancestor's). When that call starts
within ``DIGEST_AHEAD`` of ``now``, the item goes into its owner's digest for that call. Items of teams
without a call are in no digest (the queue's daily digest still counts them).

**Once per call**: each digest is an ``exceptions.models.Notification`` row keyed
``forecast_digest:call:<call id>:<start, UTC>`` and unique per recipient, written before the email is
sent, so a later scan (or one racing it) sends nothing twice. A manager with no open items gets nothing.

Scarcity: a policy suppressed for a deal is not listed for it, and when the per-manager rate limit holds
deals back (``exceptions.RateLimitHold``, written by the last full scan) the digest says how many.

Times are written in the call's time zone (the team's). The email is sent here rather than through
``exceptions.notifications._send`` (private): the few lines that render and send it mirror it, a failed
send marks the row ``failed`` and is not retried.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections import defaultdict
from urllib.parse import urlencode

from django.utils import timezone
from django.utils.formats import date_format

from exceptions.models import ExceptionItem, Notification, Suppression
from exceptions.notifications import TRIAGE_PATH, base_url, notification_deliver, notification_open
from exceptions.rate_limits import rate_limit_for, rate_limit_holds
from exceptions.suppressions import suppression_active_q
from revops.models import Opportunity

from . import words
from .calls import DUE_BEFORE_CALL, CallBook, call_next_time
from .hygiene import ITEM_KIND, LIVE
from .models import ForecastCall, HygieneFinding
from .policies import POLICIES

logger = logging.getLogger(__name__)

DIGEST_REASON = "forecast_digest"
DIGEST_AHEAD = dt.timedelta(hours=24)
TEMPLATE = "monitors/email/hygiene_digest"
STATUSES = (ExceptionItem.Status.OPEN, ExceptionItem.Status.IN_PROGRESS, ExceptionItem.Status.ESCALATED)


def digest_key(call: ForecastCall, start: dt.datetime) -> str:
    """The ``Notification`` key of the digest for the call starting at ``start``."""
    return f"{DIGEST_REASON}:call:{call.pk}:{start.astimezone(dt.UTC):%Y-%m-%dT%H:%MZ}"


def _when(value: dt.datetime, tz: zoneinfo.ZoneInfo) -> str:
    """ "Monday 8 Dec, 09:00" in ``tz``."""
    return date_format(timezone.localtime(value, tz), "l j M, H:i")


def _due_calls(book: CallBook, team_ids: set, now: dt.datetime) -> dict:
    """For each team id, its call and the call's next start when that start is within ``DIGEST_AHEAD``."""
    starts: dict[int, dt.datetime] = {}
    due = {}
    for team_id in team_ids:
        call = book.call_for(team_id)
        if call is None:
            continue
        if call.pk not in starts:
            starts[call.pk] = call_next_time(call, now=now)
        if starts[call.pk] - now <= DIGEST_AHEAD:
            due[team_id] = (call, starts[call.pk])
    return due


def hygiene_digests_for(*, now: dt.datetime | None = None) -> list[dict]:
    """The digests due at ``now``: one per (manager, upcoming call) with at least one open hygiene item.

    Each is the template context: manager, call, local times, the deals with their items and policies,
    and the links. Does not look at what was already sent (``hygiene_digests_send`` does)."""
    now = now or timezone.now()
    items = list(
        ExceptionItem.objects.filter(
            kind=ITEM_KIND, status__in=STATUSES, owner__isnull=False, owner__is_active=True, object_type="opportunity"
        )
        .select_related("owner")
        .order_by("due_at", "pk")
    )
    if not items:
        return []
    deals = Opportunity.objects.select_related("owner").in_bulk([item.object_id for item in items])
    team_of = {pk: (deal.owner.team_id if deal.owner_id else None) for pk, deal in deals.items()}
    due = _due_calls(CallBook(), {team for team in team_of.values() if team is not None}, now)
    policies: dict[int, list[str]] = defaultdict(list)
    suppressed = set(
        Suppression.objects.filter(
            suppression_active_q(now), object_type="opportunity", object_id__in=list(deals), kind=ITEM_KIND
        ).values_list("object_id", "automation_id")
    )
    for deal_id, key, automation_id in (
        HygieneFinding.objects.filter(opportunity_id__in=list(deals), resolved_at__isnull=True, mode=LIVE)
        .order_by("opportunity_id", "policy")
        .values_list("opportunity_id", "policy", "automation_id")
    ):
        if (deal_id, automation_id) in suppressed:
            continue  # suppressed for this deal: not on its item
        policy = POLICIES.get(key)
        policies[deal_id].append(policy.label if policy else key.replace("_", " "))
    groups: dict[tuple, list] = defaultdict(list)
    for item in items:
        found = due.get(team_of.get(item.object_id))
        if found is None:
            continue
        call, start = found
        groups[item.owner_id, call.pk, start].append((item, call))
    triage_url = f"{base_url()}{TRIAGE_PATH}?{urlencode({'kind': ITEM_KIND, 'owner': 'me'})}"
    limit = rate_limit_for(ITEM_KIND)
    holds = rate_limit_holds(kind=ITEM_KIND, owner_ids={owner for owner, _, _ in groups})
    digests = []
    for (_owner, _call, start), rows in groups.items():
        manager, call = rows[0][0].owner, rows[0][1]
        tz = zoneinfo.ZoneInfo(call.time_zone)
        lines = []
        for item, _ in rows:
            deal = deals[item.object_id]
            lines.append(
                {
                    "deal": str(deal),
                    "external_id": deal.external_id,
                    "owner": deal.owner.name if deal.owner_id else "no owner",
                    "amount": words.money(deal.amount) if deal.amount is not None else "no amount",
                    "policies": "; ".join(policies.get(deal.pk) or ["see the item"]),
                    "due": _when(item.due_at, tz) if item.due_at else "",
                    "url": f"{base_url()}{TRIAGE_PATH}{item.pk}/change/",
                }
            )
        digests.append(
            {
                "manager": manager,
                "name": manager.get_full_name() or manager.get_username(),
                "call": call,
                "key": digest_key(call, start),
                "team": str(call.team),
                "call_at": _when(start, tz),
                "due_at": _when(start - DUE_BEFORE_CALL, tz),
                "time_zone": call.time_zone,
                "deals": lines,
                "count": len(lines),
                "held": held_sentence(holds.get(manager.pk), limit),
                "triage_url": triage_url,
            }
        )
    return digests


def held_sentence(hold, limit) -> str:
    """ "12 more deals are held back by the limit of 25 new items per manager per day: …" (empty: none held)."""
    if hold is None or not hold.held:
        return ""
    deals = "1 more deal is" if hold.held == 1 else f"{hold.held} more deals are"
    period = f" per {limit.period_text}" if limit is not None else ""
    return (
        f"{deals} held back by the limit of {hold.limit} new items per manager{period}: the biggest deals "
        "come first, and the rest reach your queue as soon as there is room."
    )


def _subject(digest: dict) -> str:
    n = digest["count"]
    deals = "1 deal" if n == 1 else f"{n} deals"
    return f"Before your forecast call ({digest['call_at']} {digest['time_zone']}): {deals} to review"[:200]


def hygiene_digests_send(*, now: dt.datetime | None = None) -> int:
    """Send each manager their forecast-hygiene digest for each call starting within ``DIGEST_AHEAD``,
    at most once per manager and call. Returns how many emails were sent."""
    sent = 0
    for digest in hygiene_digests_for(now=now):
        manager = digest["manager"]
        subject = _subject(digest)
        note = notification_open(
            recipient=manager, key=digest["key"], reason=DIGEST_REASON, event=DIGEST_REASON, subject=subject
        )
        if note is None:
            continue  # this manager already had the digest for this call
        if note.status == Notification.Status.SENT:
            sent += notification_deliver(note, template=TEMPLATE, context=digest) == Notification.Status.SENT
    return sent
