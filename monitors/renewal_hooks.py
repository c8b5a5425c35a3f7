"""The renewal monitors' engine event hook (``revops.engine.hooks``): every batch of applied changes,
before the automations run, records the changes of the account fields the renewal policies read
(``AccountChange``), then re-scans the accounts whose tracked fields changed, so that a sponsor loss,
a drop to red or a corrected renewal date is acted on within minutes rather than at the next daily scan.

Idempotent: a re-delivered event records nothing twice (one row per event and field), and the scan
writes only what changed.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from revops.models import Account, Automation

from .models import AccountChange
from .renewal_policies import POLICIES
from .renewal_selectors import KIND, as_text

# The fields the shipped policies read by default, recorded even before any automation names them.
DEFAULT_FIELDS = frozenset(
    config[key] for policy in POLICIES.values() for key in policy.field_keys if (config := policy.defaults).get(key)
)


def tracked_fields() -> set[str]:
    """The default fields plus every field a renewal automation (not retired) names in its config."""
    fields = set(DEFAULT_FIELDS)
    for config in (
        Automation.objects.filter(kind=KIND).exclude(mode=Automation.Mode.RETIRED).values_list("config", flat=True)
    ):
        policy = POLICIES.get((config or {}).get("policy"))
        if policy is not None:
            fields.update(policy.fields(config))
    return fields


def account_changes_record(*, events) -> set[int]:
    """Record an ``AccountChange`` for each change of a tracked field that the given outbox events carry for
    existing accounts; return the ids of the accounts with new rows.

    Only ``updated`` events count (a new account has not changed yet). The time is the CRM's time of a
    synced change (the event's ``source_updated_at``, never later than the portal applied it), else the
    event's time (an edit in the portal). ``(outbox_event_id, field)`` is unique: a re-delivered event
    inserts nothing.
    """
    relevant = [e for e in events if e.object_type == "account" and e.kind == "updated" and e.changes]
    if not relevant:
        return set()
    fields = tracked_fields()
    rows = []
    for event in relevant:
        when = event.created_at or timezone.now()
        if event.source_updated_at is not None and event.source_updated_at < when:
            when = event.source_updated_at
        for field, pair in event.changes.items():
            if field not in fields or not isinstance(pair, list | tuple) or len(pair) != 2:
                continue
            old, new = as_text(pair[0]), as_text(pair[1])
            if old == new:
                continue
            rows.append(
                AccountChange(
                    account_id=event.object_id,
                    field=field,
                    old_value=old,
                    new_value=new,
                    changed_at=when,
                    outbox_event_id=event.pk,
                )
            )
    if not rows:
        return set()
    present = set(
        AccountChange.objects.filter(Q(outbox_event_id__in={row.outbox_event_id for row in rows})).values_list(
            "outbox_event_id", "field"
        )
    )
    fresh = [row for row in rows if (row.outbox_event_id, row.field) not in present]
    alive = set(Account.objects.filter(pk__in={row.account_id for row in fresh}).values_list("pk", flat=True))
    fresh = [row for row in fresh if row.account_id in alive]
    # ignore_conflicts: two workers handling the same event at once insert it once.
    AccountChange.objects.bulk_create(fresh, ignore_conflicts=True)
    return {row.account_id for row in fresh}


def renewal_note_changes(events, *, now=None) -> int:
    """Record the tracked account changes, then run the renewal policies on those accounts."""
    changed = account_changes_record(events=events)
    if changed:
        from .renewal_scan import renewal_scan

        renewal_scan(account_ids=sorted(changed), now=now, reason="account changed")
    return len(changed)
