"""Delegation: pool managers run their pools without RevOps rights, and managers read the routing
rules and SLA clocks that concern their teams.

A pool manager changes, on *Manage the pool*: the pool's caps, each member's weight, caps and
active flag, who is a member (they add active reps of their own teams and remove members), and the
out of office of the reps the pool resolves to. Nothing else: not the strategy, the working hours,
nor the rules that route to the pool. Every change
is one audited block (history rows and one version of the pool naming the person), and a rep's
out of office is a hand edit of the Rep record like any other (history and outbox event).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from exceptions.selectors import visible_queues
from revops.access import ADMIN, reach, user_role
from revops.audit import audited
from revops.models import Rep
from revops.services import record_save
from revops.values import datetime_text

from .models import Pool, PoolMember, RoutingRule
from .pools import resolve_members


def pool_is_managed_by(pool: Pool, user) -> bool:
    """RevOps admins manage every pool; anyone else the pools that name them."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser or user_role(user) == ADMIN:
        return True
    return pool.managers.filter(pk=user.pk).exists()


def pools_managed_by(user):
    """The pools ``user`` may manage (all of them for RevOps admins)."""
    if user.is_superuser or user_role(user) == ADMIN:
        return Pool.objects.all()
    return Pool.objects.filter(managers=user)


def pool_managers_set(*, pool: Pool, users, actor, reason: str = "") -> None:
    """Name the pool's managers (RevOps' decision: the pool's page, or the demo); audited with a version."""
    with transaction.atomic(), audited(actor=actor, reason=reason or f"pool {pool.name}: pool managers named"):
        pool.managers.set(users)
        pool.save(update_fields=["updated_at"])  # one version of the pool naming who changed it


@dataclass
class MemberChange:
    """What a pool manager may set on one member row."""

    weight: int
    max_open_leads: int | None
    max_per_day: int | None
    is_active: bool


def pool_delegated_update(
    *,
    pool: Pool,
    max_open_leads: int | None,
    max_per_day: int | None,
    members: dict[int, MemberChange],
    away: dict[int, dt.datetime | None],
    actor,
    add_rep_ids: Iterable[int] = (),
    remove_member_ids: Iterable[int] = (),
) -> list[str]:
    """Apply a pool manager's changes (see the module docstring); returns them in words, empty when
    nothing changed. ``members`` maps member ids of this pool, ``away`` rep ids the pool resolves to
    (their new ``out_of_office_until``, None: back), ``add_rep_ids`` reps to add (``reps_addable_by``),
    ``remove_member_ids`` member rows to remove. Anything else is refused with ``ValidationError``."""
    if not pool_is_managed_by(pool, actor):
        raise ValidationError("You do not manage this pool.")
    changes: list[str] = []
    with transaction.atomic(), audited(actor=actor, reason=f"pool {pool.name} managed"):
        # Wait for routing picking from this pool (it holds the row lock until it commits).
        locked = Pool.objects.select_for_update().get(pk=pool.pk)
        rows = {m.pk: m for m in PoolMember.objects.filter(pool=locked).select_related("rep", "team")}
        reps = {rep.pk: rep for rep, _member in resolve_members(locked)}  # as the page showed them
        strangers = set(away) - set(reps)
        if strangers:
            raise ValidationError(f"Only the reps of {pool.name} can be marked out of office here.")
        remove = set(remove_member_ids)
        unknown = (set(members) | remove) - set(rows)
        if unknown:
            raise ValidationError(f"Not members of {pool.name}: {sorted(unknown)}.")
        for pk in sorted(remove):
            member = rows.pop(pk)
            members = {k: v for k, v in members.items() if k != pk}
            member.delete()
            changes.append(f"{_who(member)}: removed from the pool")
        add = set(add_rep_ids) - {m.rep_id for m in rows.values() if m.rep_id}
        if add:
            allowed = {rep.pk: rep for rep in reps_addable_by(actor).filter(pk__in=add)}
            if set(add) - set(allowed):
                raise ValidationError("You can add active reps of your own teams only.")
            position = max((m.position for m in rows.values()), default=-1) + 1
            for offset, pk in enumerate(sorted(add, key=lambda pk: allowed[pk].name)):
                row = PoolMember.objects.create(pool=locked, rep=allowed[pk], position=position + offset)
                rows[row.pk] = row
                changes.append(f"{allowed[pk].name}: added to the pool (weight 1)")
        if (locked.max_open_leads, locked.max_per_day) != (max_open_leads, max_per_day):
            locked.max_open_leads, locked.max_per_day = max_open_leads, max_per_day
            locked.full_clean()
            locked.save()
            changes.append(f"pool caps: {_caps(max_open_leads, max_per_day)}")
        for pk, change in members.items():
            member = rows[pk]
            before = (member.weight, member.max_open_leads, member.max_per_day, member.is_active)
            after = (change.weight, change.max_open_leads, change.max_per_day, change.is_active)
            if before == after:
                continue
            member.weight, member.max_open_leads, member.max_per_day, member.is_active = after
            try:
                member.full_clean()
            except ValidationError as exc:
                raise ValidationError({f"member {member}": exc.messages}) from None
            member.save()
            changes.append(_member_words(member, before))
        for pk, until in away.items():
            rep = reps[pk]
            if _minute(rep.out_of_office_until) == _minute(until):
                continue  # the page shows minutes: an unchanged field is not a change
            rep = Rep.objects.get(pk=pk)
            rep.out_of_office_until = until
            record_save(instance=rep, actor=actor, reason=f"out of office set by a manager of pool {pool.name}")
            changes.append(
                f"{rep.name}: {'out of office until ' + datetime_text(until) if until else 'back in office'}"
            )
    return changes


def _minute(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(second=0, microsecond=0) if value else None


def _caps(max_open: int | None, per_day: int | None) -> str:
    parts = [f"≤ {max_open} open" if max_open is not None else "", f"≤ {per_day}/day" if per_day is not None else ""]
    return " · ".join(p for p in parts if p) or "no cap"


def _member_words(member: PoolMember, before: tuple) -> str:
    weight, max_open, per_day, active = before
    words = []
    if weight != member.weight:
        words.append(f"weight {weight} → {member.weight}")
    if (max_open, per_day) != (member.max_open_leads, member.max_per_day):
        words.append(f"caps {_caps(max_open, per_day)} → {_caps(member.max_open_leads, member.max_per_day)}")
    if active != member.is_active:
        words.append("active" if member.is_active else "paused")
    return f"{_who(member)}: {', '.join(words)}"


def _who(member: PoolMember) -> str:
    return member.rep.name if member.rep_id else f"team {member.team}" + (f" ({member.role})" if member.role else "")


def reps_addable_by(user):
    """The reps ``user`` may add to a pool they manage: active reps of their teams (all for RevOps)."""
    reps = Rep.objects.filter(is_active=True)
    scope = reach(user)
    if scope is None:
        return reps
    rep_ids, team_ids = scope
    return reps.filter(Q(pk__in=rep_ids) | Q(team_id__in=team_ids))


# --- What managers read ----------------------------------------------------------------------------


def rules_affecting_q(user) -> Q | None:
    """The routing rules that affect ``user``'s teams (None: every rule, for RevOps admins).

    A rule that routes to the matched account's or opportunity's owner, or proposes an owner for
    approval, can reach any team: every manager reads it. A rule to a rep, a pool or a queue affects
    the teams of that rep, of the pool's members (or the pools the user manages), or that queue's."""
    scope = reach(user)
    if scope is None:
        return None
    rep_ids, team_ids = scope
    anyone = Q(target_type__in=[RoutingRule.Target.ACCOUNT_OWNER, RoutingRule.Target.OPPORTUNITY_OWNER])
    anyone |= Q(target_type=RoutingRule.Target.APPROVAL)
    pools = PoolMember.objects.filter(Q(rep_id__in=rep_ids) | Q(team_id__in=team_ids)).values("pool_id")
    condition = anyone | Q(target_rep_id__in=rep_ids) | Q(target_pool_id__in=pools)
    condition |= Q(target_pool_id__in=Pool.objects.filter(managers=user).values("pk"))
    queues = list(visible_queues(user=user).values_list("name", flat=True))
    if queues:
        condition |= Q(target_type=RoutingRule.Target.QUEUE, target_queue__in=queues)
    return condition


def clocks_visible_q(user) -> Q | None:
    """The SLA clocks ``user`` may read (their teams' owners'; None: all)."""
    scope = reach(user)
    if scope is None:
        return None
    rep_ids, team_ids = scope
    return Q(owner_id__in=rep_ids) | Q(owner__team_id__in=team_ids)


def decisions_visible_q(user) -> Q | None:
    """The routing decisions ``user`` may read: on leads their teams own, or routed to one of their reps (None: all)."""
    scope = reach(user)
    if scope is None:
        return None
    rep_ids, _team_ids = scope
    return Q(lead__owner_id__in=rep_ids) | Q(owner_id__in=rep_ids)
