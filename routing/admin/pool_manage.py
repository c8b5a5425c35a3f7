"""*Manage the pool*: the page a pool manager (or RevOps) runs a pool from day to day.

One form: the pool's caps, one row per member (weight, caps, active, remove), a rep to add (of the
viewer's teams), and one row per rep the pool resolves to (out of office until, in the viewer's time
zone). It validates the input and calls
``routing.delegation.pool_delegated_update``; a pool the viewer does not manage is a 404.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from revops.values import datetime_text

from ..delegation import MemberChange, pool_delegated_update, pool_is_managed_by, reps_addable_by
from ..models import Pool
from ..pools import resolve_members


def _number(raw: str, what: str, errors: list[str], *, low: int = 0, high: int | None = None) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    if not raw.isdecimal() or not raw.isascii() or int(raw) < low or (high is not None and int(raw) > high):
        span = f"{low}–{high}" if high is not None else f"{low} or more"
        errors.append(f"{what}: {raw!r} is not a whole number {span}.")
        return None
    return int(raw)


def _when(raw: str, what: str, errors: list[str]) -> dt.datetime | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        errors.append(f"{what}: {raw!r} is not a date and time (e.g. 2026-12-24T18:00).")
        return None
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _local_input(value: dt.datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M") if value else ""


def _read(post, members, reps) -> tuple[dict, list[str]]:
    errors: list[str] = []
    values = {
        "max_open_leads": _number(post.get("max_open_leads"), "Pool cap on open leads", errors),
        "max_per_day": _number(post.get("max_per_day"), "Pool cap per day", errors),
        "members": {},
        "away": {},
    }
    for member in members:
        if f"weight-{member.pk}" not in post:
            continue  # added since the page was shown: leave it as it is
        who = member.rep.name if member.rep_id else f"team {member.team}"
        weight = _number(post.get(f"weight-{member.pk}"), f"{who}'s weight", errors, low=1, high=100)
        values["members"][member.pk] = MemberChange(
            weight=weight if weight is not None else member.weight,
            max_open_leads=_number(post.get(f"max_open-{member.pk}"), f"{who}'s cap on open leads", errors),
            max_per_day=_number(post.get(f"max_day-{member.pk}"), f"{who}'s cap per day", errors),
            is_active=post.get(f"active-{member.pk}") == "on",
        )
    for rep in reps:
        if f"away-{rep.pk}" in post:
            values["away"][rep.pk] = _when(post.get(f"away-{rep.pk}"), f"{rep.name}'s out of office", errors)
    values["remove_member_ids"] = [m.pk for m in members if post.get(f"remove-{m.pk}") == "on"]
    values["add_rep_ids"] = [int(pk) for pk in post.getlist("add_rep") if pk.isdecimal() and pk.isascii()]
    return values, errors


def pool_manage_view(request, object_id):
    """The page (GET) and its save (POST)."""
    valid = str(object_id).isdecimal() and str(object_id).isascii()
    pool = Pool.objects.filter(pk=int(object_id)).first() if valid else None
    if pool is None or not pool_is_managed_by(pool, request.user):
        raise Http404("No pool you manage has this id.")
    members = list(pool.members.select_related("rep", "team").order_by("position", "pk"))
    reps = [rep for rep, _member in resolve_members(pool)]
    errors: list[str] = []
    if request.method == "POST":
        values, errors = _read(request.POST, members, reps)
        if not errors:
            try:
                changes = pool_delegated_update(pool=pool, actor=request.user, **values)
            except ValidationError as exc:
                errors = exc.messages
            else:
                if changes:
                    messages.success(request, f"Saved: {'; '.join(changes)}.")
                else:
                    messages.info(request, "Nothing changed.")
                return HttpResponseRedirect(reverse("admin:routing_pool_manage", args=[pool.pk]))
    now = timezone.now()
    context = {
        **admin.site.each_context(request),
        "opts": Pool._meta,
        "title": f"Manage {pool.name}",
        "pool": pool,
        "errors": errors,
        "members": [
            {"member": m, "who": m.rep.name if m.rep_id else f"Team {m.team}" + (f" ({m.role})" if m.role else "")}
            for m in members
        ],
        "reps": [
            {
                "rep": rep,
                "away_input": _local_input(rep.out_of_office_until),
                "away_text": datetime_text(rep.out_of_office_until)
                if rep.out_of_office_until and rep.out_of_office_until > now
                else "",
            }
            for rep in reps
        ],
        "addable": list(
            reps_addable_by(request.user)
            .exclude(pk__in=[m.rep_id for m in members if m.rep_id])
            .order_by("name")
            .values_list("pk", "name")[:500]
        ),
        "zone": timezone.get_current_timezone_name(),
        "change_url": reverse("admin:routing_pool_change", args=[pool.pk]),
    }
    return TemplateResponse(request, "admin/routing/pool/manage.html", context)
