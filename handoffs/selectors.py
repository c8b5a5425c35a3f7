"""Who sees which handoffs: RevOps all; a manager those of their teams' deals and receivers; a rep the
handoffs of their own deals and those they receive. Another team's handoff does not exist for them."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from revops.access import reach

from .models import Handoff


def visible_handoffs(*, user) -> QuerySet[Handoff]:
    queryset = Handoff.objects.select_related("opportunity", "opportunity__owner", "checklist", "receiver")
    if user is None or not user.is_authenticated:
        return queryset.none()
    scope = reach(user)
    if scope is None:
        return queryset
    rep_ids, team_ids = scope
    return queryset.filter(
        Q(opportunity__owner_id__in=rep_ids) | Q(receiver_id__in=rep_ids) | Q(checklist__receiving_team_id__in=team_ids)
    )


def can_answer(user, handoff: Handoff) -> bool:
    """Whether ``user`` may accept or reject ``handoff``: the receiving side (its receiver, their manager) or RevOps."""
    scope = reach(user)
    if scope is None:
        return True
    rep_ids, team_ids = scope
    return handoff.receiver_id in rep_ids or handoff.checklist.receiving_team_id in team_ids


def can_resend(user, handoff: Handoff) -> bool:
    """Whether ``user`` may send a rejected handoff again: the deal side (its owner, their manager) or RevOps."""
    scope = reach(user)
    if scope is None:
        return True
    rep_ids, _ = scope
    return handoff.opportunity.owner_id in rep_ids
