"""Who sees which handoffs: RevOps all; a manager those of their teams' deals (and accounts, for
renewals) and receivers; a rep the handoffs of their own deals and accounts and those they receive. Another team's handoff does not exist for them."""

from __future__ import annotations

from statistics import median

from django.db.models import Q, QuerySet

from revops.access import reach

from .models import Handoff


def visible_handoffs(*, user) -> QuerySet[Handoff]:
    queryset = Handoff.objects.select_related(
        "opportunity", "opportunity__owner", "account", "account__owner", "checklist", "receiver"
    )
    if user is None or not user.is_authenticated:
        return queryset.none()
    scope = reach(user)
    if scope is None:
        return queryset
    rep_ids, team_ids = scope
    return queryset.filter(
        Q(opportunity__owner_id__in=rep_ids)
        | Q(opportunity__isnull=True, account__owner_id__in=rep_ids)
        | Q(receiver_id__in=rep_ids)
        | Q(checklist__receiving_team_id__in=team_ids)
    )


def can_answer(user, handoff: Handoff) -> bool:
    """Whether ``user`` may accept or reject ``handoff``: the receiving side (its receiver, their manager) or RevOps."""
    scope = reach(user)
    if scope is None:
        return True
    rep_ids, team_ids = scope
    return handoff.receiver_id in rep_ids or handoff.checklist.receiving_team_id in team_ids


def may_answer(user, handoff: Handoff, answer: str) -> bool:
    """Whether ``user`` may give ``answer`` (accept, reject, resend, attest): the receiving side accepts
    and rejects, the deal side sends again, either side confirms an attestation; RevOps all."""
    if answer == "resend":
        return can_resend(user, handoff)
    if answer == "attest":
        return can_resend(user, handoff) or can_answer(user, handoff)
    return can_answer(user, handoff)


def can_resend(user, handoff: Handoff) -> bool:
    """Whether ``user`` may send a rejected handoff again: the giving side (the deal's or, for a renewal,
    the account's owner, and their manager) or RevOps."""
    scope = reach(user)
    if scope is None:
        return True
    rep_ids, _ = scope
    return handoff.subject.owner_id in rep_ids


def _days_after_close(handoff: Handoff):
    """Days from the deal's close date (a renewal's date) to the handoff's readiness (None while not ready).
    For a renewal, negative is good: ready that many days before the renewal."""
    close = handoff.opportunity.close_date if handoff.opportunity_id else handoff.renewal_date
    if handoff.ready_at is None or close is None:
        return None
    return (handoff.ready_at.date() - close).days


def handoff_metrics(*, user, since, group_by: str) -> list[dict]:
    """Per checklist, deal owner's team or deal owner (``group_by``): handoffs created since ``since``,
    completeness at close (ready within 0, 1 and 7 days of the close date), median hours to ready,
    acceptance rate (accepted / answered), median hours to accept, and rejection reasons."""
    from collections import Counter

    handoffs = (
        visible_handoffs(user=user)
        .filter(created_at__gte=since)
        .select_related("opportunity__owner__team", "account__owner__team", "checklist")
        .order_by()
    )
    groups: dict[str, list[Handoff]] = {}
    for handoff in handoffs:
        owner = handoff.subject.owner
        if group_by == "checklist":
            label = handoff.checklist.name
        elif group_by == "team":
            label = owner.team.name if owner and owner.team_id else "No team"
        else:
            label = owner.name if owner else "No owner"
        groups.setdefault(label, []).append(handoff)
    rows = []
    for label, items in sorted(groups.items()):
        closes = [_days_after_close(h) for h in items]
        ready_hours = [(h.ready_at - h.created_at).total_seconds() / 3600 for h in items if h.ready_at]
        accept_hours = [
            (h.accepted_at - h.sent_at).total_seconds() / 3600 for h in items if h.accepted_at and h.sent_at
        ]
        accepted = sum(1 for h in items if h.accepted_at)
        rejected = sum(1 for h in items if h.rejected_at)
        rows.append(
            {
                "label": label,
                "handoffs": len(items),
                "waiting": sum(1 for h in items if h.status == Handoff.Status.WAITING),
                "ready_0": sum(1 for d in closes if d is not None and d <= 0),
                "ready_1": sum(1 for d in closes if d is not None and d <= 1),
                "ready_7": sum(1 for d in closes if d is not None and d <= 7),
                "median_hours_to_ready": median(ready_hours) if ready_hours else None,
                "accepted": accepted,
                "rejected": rejected,
                "acceptance_rate": accepted / (accepted + rejected) if accepted + rejected else None,
                "median_hours_to_accept": median(accept_hours) if accept_hours else None,
                "rejection_reasons": Counter(h.rejection_code for h in items if h.rejection_code).most_common(),
            }
        )
    return rows
