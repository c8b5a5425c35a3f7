"""Per-owner rate limits on new items (``exceptions.models.RateLimit``), for producers that honour them.

A RevOps admin sets, per item kind, how many new items one owner gets at most in a period (e.g. 25
forecast-hygiene items per manager per day). A producer hands its would-be new items to
``rate_limit_split`` with how important each is; the most important ones that fit in each owner's
room are opened, the rest are held back and counted. ``rate_limit_holds_record`` keeps the latest
count per owner (``RateLimitHold``), for the owner's digest and the admin. Held items are not lost:
the producer offers them again on its next pass, and they open when the period has room.

The room of an owner is the limit minus the items of the kind opened for them in the period
(``first_seen_at`` within it, whoever owns them now is who counts). Items without an owner are not
limited. Refreshing or closing an open item is never limited.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction
from django.db.models import Count

from .models import ExceptionItem, RateLimit, RateLimitHold


def rate_limit_for(kind: str) -> RateLimit | None:
    """The active limit on new items of ``kind``, or None."""
    return RateLimit.objects.filter(kind=kind, is_active=True).first()


def rate_limit_room(*, limit: RateLimit, owner_ids: Iterable[int], now: dt.datetime) -> dict[int, int]:
    """How many more new items of the limit's kind each owner may get now."""
    owner_ids = {pk for pk in owner_ids if pk is not None}
    if not owner_ids:
        return {}
    since = now - dt.timedelta(hours=limit.period_hours)
    opened = dict(
        ExceptionItem.objects.filter(kind=limit.kind, owner_id__in=owner_ids, first_seen_at__gt=since)
        .values("owner_id")
        .annotate(n=Count("pk"))
        .values_list("owner_id", "n")
    )
    return {pk: max(0, limit.per_owner - opened.get(pk, 0)) for pk in owner_ids}


def rate_limit_split(
    *,
    kind: str,
    candidates: list[Any],
    owner: Callable[[Any], int | None],
    importance: Callable[[Any], tuple],
    now: dt.datetime,
) -> tuple[list[Any], Counter, RateLimit | None]:
    """Split would-be new items into those to open now and those held back by the kind's limit.

    ``owner(candidate)`` is who would get it, ``importance(candidate)`` a sort key, most important
    first. Returns ``(to open, held back per owner id, the limit or None)``; without a limit all open."""
    limit = rate_limit_for(kind)
    if limit is None or not candidates:
        return list(candidates), Counter(), limit
    room = rate_limit_room(limit=limit, owner_ids={owner(c) for c in candidates}, now=now)
    admitted, held = [], Counter()
    for candidate in sorted(candidates, key=importance):
        who = owner(candidate)
        if who is None:
            admitted.append(candidate)
        elif room[who] > 0:
            room[who] -= 1
            admitted.append(candidate)
        else:
            held[who] += 1
    return admitted, held, limit


@transaction.atomic
def rate_limit_holds_record(*, kind: str, held: Counter, limit: RateLimit | None, now: dt.datetime) -> None:
    """Replace what is held back for ``kind`` by this full pass's counts (none: nothing is held any more)."""
    RateLimitHold.objects.filter(kind=kind).exclude(owner_id__in=[pk for pk, n in held.items() if n]).delete()
    for owner_id, n in held.items():
        if n:
            RateLimitHold.objects.update_or_create(
                kind=kind,
                owner_id=owner_id,
                defaults={"held": n, "limit": limit.per_owner if limit else 0, "updated_at": now},
            )


def rate_limit_holds(*, kind: str, owner_ids: Iterable[int] | None = None) -> dict[int, RateLimitHold]:
    """What is held back now for ``kind``, by owner id."""
    rows = RateLimitHold.objects.filter(kind=kind)
    if owner_ids is not None:
        rows = rows.filter(owner_id__in=list(owner_ids))
    return {row.owner_id: row for row in rows}


def held_text(hold: RateLimitHold | None, limit: RateLimit | None = None) -> str:
    """ "12 deals held back by the limit of 25 per owner per day" (empty when nothing is held)."""
    if hold is None or not hold.held:
        return ""
    period = f" per {limit.period_text}" if limit is not None else ""
    return f"{hold.held} more held back by the limit of {hold.limit} new items per owner{period}"
