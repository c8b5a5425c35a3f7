"""Renewal handoffs: N days before an account's renewal date, a handoff to the renewal owner with its
own checklist (health, usage trend, executive sponsor, open risks).

A renewal checklist (``Checklist.kind == "renewal"``) reads account fields. Each account has at most
one open handoff per renewal checklist, for the renewal date it prepares: it starts when the date
comes within ``days_before`` days, follows the date if the CRM corrects it inside the window, and is
cancelled when the date moves out of the window (the customer renewed early: the next term's date)
or disappears. A renewal that has had its handoff (answered or cancelled) does not get another. The
rest — waiting for context with one item for the account owner's manager, the gate, the tasks, the
answer — is the deal handoffs' own code.

``renewals_evaluate`` runs daily for every account with a renewal date (the window opens by the
calendar), and for accounts the CRM or a person changed.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from revops.audit import audited
from revops.conditions.compile import Context
from revops.feed import change_entries_record
from revops.models import Account, FieldDefinition
from revops.values import loose_date

from .models import Checklist, Handoff
from .services import _item_close, _items_open, _Rules, _send, _signal_entry, _value, handoff_missing


def _accounts(rules: list[_Rules], account_ids, open_account_ids):
    queryset = Account.objects.select_related("owner")
    if account_ids is not None:
        return queryset.filter(pk__in=account_ids)
    having = Q(pk__in=open_account_ids)
    for field in {rule.checklist.renewal_field for rule in rules}:
        if field in {f.name for f in Account._meta.concrete_fields}:
            having |= Q(**{f"{field}__isnull": False})
        else:
            having |= Q(attributes__has_key=field)
    return queryset.filter(having)


@transaction.atomic
def renewals_evaluate(*, account_ids=None, actor=None, cause: str = "", now: dt.datetime | None = None) -> dict:
    """Start, re-evaluate, send or cancel the renewal handoffs of the given accounts (all accounts with
    a renewal date when ``account_ids`` is None). Idempotent: an unchanged account writes nothing.
    Returns ``{"created", "sent", "cancelled", "waiting"}`` counts."""
    now = now or timezone.now()
    today = now.date()
    counts = {"created": 0, "sent": 0, "cancelled": 0, "waiting": 0}
    checklists = Checklist.objects.filter(kind=Checklist.Kind.RENEWAL)
    rules = [r for r in (_Rules.build(c, Checklist.Kind.RENEWAL) for c in checklists if c.is_active) if r]
    open_handoffs = Handoff.objects.select_for_update(of=("self",)).filter(
        opportunity__isnull=True, checklist__in=checklists, status__in=Handoff.OPEN_STATUSES
    )
    if account_ids is not None:
        account_ids = list(account_ids)
        open_handoffs = open_handoffs.filter(account_id__in=account_ids)
    current = {(h.account_id, h.checklist_id): h for h in open_handoffs}
    if not rules and not current:
        return counts
    accounts = list(_accounts(rules, account_ids, {account_id for account_id, _ in current}))
    done = set(
        Handoff.objects.filter(
            opportunity__isnull=True, account__in=accounts, checklist__in=checklists, renewal_date__isnull=False
        ).values_list("account_id", "checklist_id", "renewal_date")
    )
    labels = dict(FieldDefinition.objects.filter(object_type="account").values_list("key", "label"))
    reason = (cause or "renewal handoffs")[:100]
    rules_by_id = {rule.checklist.pk: rule for rule in rules}
    waiting, ready, signals = [], [], []
    with audited(actor=actor, reason=reason):
        for account in accounts:
            ctx = Context(account, now=now)
            for checklist_id in {*rules_by_id, *(c for a, c in current if a == account.pk)}:
                rule = rules_by_id.get(checklist_id)
                handoff = current.get((account.pk, checklist_id))
                if handoff is not None:
                    handoff.account = account
                renews = loose_date(_value(account, rule.checklist.renewal_field)) if rule else None
                days_left = (renews - today).days if renews else None
                applies = (
                    rule is not None
                    and days_left is not None
                    and days_left <= rule.checklist.days_before
                    and (rule.applies_when is None or rule.applies_when(ctx))
                )
                if handoff is not None and not (applies and (days_left >= 0 or handoff.renewal_date == renews)):
                    handoff.status, handoff.cancelled_at = Handoff.Status.CANCELLED, now
                    handoff.save()
                    why = f"The renewal date moved to {renews}." if renews else "The account has no renewal date now."
                    if rule is None:
                        why = "The renewal checklist was switched off."
                    _item_close(handoff, code="not_an_issue", note=why, actor=actor)
                    signals.append(_signal_entry(handoff, "cancelled", key=f"cancelled:{now.isoformat()}"))
                    counts["cancelled"] += 1
                    continue
                if handoff is None:
                    if not applies or days_left < 0 or (account.pk, checklist_id, renews) in done:
                        continue  # not yet in the window, already past, or this renewal had its handoff
                    handoff = Handoff(checklist=rule.checklist, account=account, renewal_date=renews, created_at=now)
                    handoff.missing = handoff_missing(rule, account, handoff, ctx, labels)
                    handoff.save()
                    signals.append(_signal_entry(handoff, "started", key="started"))
                    counts["created"] += 1
                    touched = True
                else:
                    handoff.checklist = rule.checklist
                    missing = handoff_missing(rule, account, handoff, ctx, labels)
                    touched = missing != handoff.missing or renews != handoff.renewal_date
                    if touched:
                        handoff.missing, handoff.renewal_date = missing, renews
                        handoff.save()
                if handoff.status != Handoff.Status.WAITING:
                    continue
                if handoff.missing:
                    counts["waiting"] += 1
                    if touched:
                        waiting.append(handoff)
                else:
                    ready.append(handoff)
        _items_open(waiting, actor=actor, now=now, reason=reason)
        for handoff in ready:
            _send(handoff, actor=actor, now=now, feed=signals)
            handoff.save()
            counts["sent"] += 1
        change_entries_record(signals)
    return counts


def renewals_tick(*, now: dt.datetime | None = None) -> dict:
    """The daily pass: renewal windows open by the calendar, not only when the CRM sends something."""
    return renewals_evaluate(cause="daily renewal check", now=now)
