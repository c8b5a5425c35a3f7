"""The "Renewal monitors" panel of an account's Why page: every live or shadow renewal policy checked
live on the account (which fire, which do not, and why, with values), the account's recent recorded
changes of the fields they read, the tasks the monitors created for it, and which risks a person suppressed
for the account (until when, by whom, why)."""

from __future__ import annotations

from django.utils import timezone

from exceptions.suppressions import record_suppressions
from revops import conditions
from revops.models import Account

from . import words
from .findings import suppressed_words
from .models import AccountChange, RenewalTask
from .renewal_policies import POLICIES, policy_check
from .renewal_scan import renewal_facts
from .renewal_selectors import renewal_automations

RECENT_CHANGES = 8
VERB = {"risk": ("Risk", "No risk"), "task": ("Task", "No task"), "notice": ("Notice", "No notice")}


def policy_rows(account, facts) -> list[dict]:
    """Each live or shadow renewal policy on ``account`` now: ``{"name", "fired", "verdict", "text",
    "suppressed"}`` (``suppressed``: in words, when a person suppressed the risk for the account, else empty)."""
    suppressed = {row.automation_id: row for row in record_suppressions(object_type="account", object_id=account.pk)}
    rows = []
    for automation in renewal_automations():
        policy = POLICIES.get(automation.config.get("policy"))
        if policy is None:
            continue
        name = automation.name + ("" if automation.mode == "live" else " (shadow: recorded, nothing done)")
        tree = automation.conditions or {"all": []}
        predicate = conditions.compile_condition(tree, object_type="account")
        row = suppressed.get(automation.pk)
        said = {"name": name, "suppressed": suppressed_words(row, noun="account") if row is not None else ""}
        if not predicate(conditions.Context(account, now=facts.now)):
            rows.append({**said, "fired": False, "verdict": "Not covered", "text": "Outside its conditions."})
            continue
        check = policy_check(automation.config, account, facts)
        yes, no = VERB[policy.does]
        rows.append({**said, "fired": check.fired, "verdict": yes if check.fired else no, "text": check.text})
    return rows


def why_renewal_panel(object_type: str, object_id: int, *, request=None) -> dict | None:
    """Shown on customer accounts and accounts with renewal history (the Why page has checked access)."""
    if object_type != "account":
        return None
    account = Account.objects.select_related("owner").filter(pk=object_id).first()
    if account is None:
        return None
    changes = list(AccountChange.objects.filter(account=account)[:RECENT_CHANGES])
    tasks = list(RenewalTask.objects.filter(account=account).select_related("task", "automation")[:5])
    if account.customer_status != Account.CustomerStatus.CUSTOMER and not changes and not tasks:
        return None
    facts = renewal_facts(account)
    today = timezone.localdate(facts.now)
    labels = {key: info.label for key, info in facts.fields.items()}
    return {
        "policies": policy_rows(account, facts),
        "segment": facts.segment,
        "changes": [
            f"{words.day(c.changed_at, today)}: {labels.get(c.field, c.field)} {c.old_value or '—'} → "
            f"{c.new_value or '— (emptied)'}"
            for c in changes
        ],
        "tasks": [
            f"{row.task.title if row.task else 'a task since deleted'} — created {words.day(row.created_at, today)}"
            + (f", {row.task.get_status_display().lower()}" if row.task else "")
            + (f"; red spell ended {words.day(row.ended_at, today)}" if row.ended_at else "")
            for row in tasks
        ],
    }
