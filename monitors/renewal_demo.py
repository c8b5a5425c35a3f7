"""The renewal monitors' part of the demo, made by the real code from the demo org (order 75).

- The shipped renewal policies as live ``renewal_monitor`` automations (through the engine's automation
  service), over every account; the finance notice goes to ``finance@example.com``.
- On a fresh org, the CRM's and the product-usage source's recent changes to a few customer accounts
  renewing soon, synced through ``revops.sync.sync_batch_apply`` at the times they happened and handed
  to the outbox consumer, so the event hook records them as in production: health scores dropping to
  red, weekly active users falling by about half over the last weeks, executive sponsors emptied or
  replaced.
- Then one renewal scan (what the daily job runs): renewal tasks for the customers whose window is open,
  a renewal-risk item per account at risk for the owner's manager (``manager.na`` sees the NA ones),
  save plans for red accounts and finance notices — none written by hand.

Accounts are picked by external id with the demo's seed, so the same seed plays the same story. A
change is only ever dated after the account's last CRM update (the sync refuses older ones as stale).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

from revops.demo_records.tables import REGION_COUNTRIES
from revops.engine.demo import demo_specs_ensure
from revops.models import Account, Automation
from revops.outbox import outbox_process_batch
from revops.sync import sync_batch_apply
from revops.values import loose_date

from .models import RenewalTask
from .renewal_policies import POLICIES
from .renewal_scan import renewal_scan
from .renewal_selectors import CUSTOMER, as_number

FINANCE = "finance@example.com"
# The demo's thresholds where they differ from the shipped defaults: an account long red counts as a risk
# in its last 30 days before the renewal (shipped: 120), so the queues show mostly what changed.
DEMO_CONFIG = {
    "finance_notice": {"recipient": FINANCE, "threshold": 100000},
    "health_red": {"renewal_window_days": 30},
}
# Per region: how many customer accounts renewing within 120 days get each story.
HEALTH_DROP = {"NA": 1, "EMEA": 1, "APAC": 0}
USAGE_DROP = {"NA": 1, "EMEA": 0, "APAC": 1}
SPONSOR_EMPTIED = {"NA": 1, "EMEA": 1, "APAC": 0}
SPONSOR_CHANGED = {"NA": 1, "EMEA": 0, "APAC": 0}
NEW_SPONSORS = ["Hannah Brooks", "Diego Fernández", "Mei Chen", "Tomás Novak"]


def demo_renewal_specs() -> list[dict]:
    """One live automation per shipped renewal policy, over every account (the policies look at customers)."""
    return [
        {
            "name": f"Renewal: {policy.label}",
            "purpose": f"{policy.description} {policy.expected}",
            "kind": "renewal_monitor",
            "object_type": "account",
            "trigger": Automation.Trigger.FIELD_CHANGED,
            "trigger_fields": policy.fields({**policy.defaults, **DEMO_CONFIG.get(key, {})}),
            "conditions": {"all": []},
            "config": {"policy": key, **DEMO_CONFIG.get(key, {})},
            "mode": Automation.Mode.LIVE,
            "downstream_effect": {
                "risk": "None in the CRM: the renewal scan lists the risk on an item for the owner's manager.",
                "task": "A task for the account owner, reported to the CRM on the changes feed (once).",
                "notice": f"An e-mail to {FINANCE} per account and renewal at risk (once).",
            }[policy.does],
            "rollback_notes": "Pause it: its findings resolve on the next scan and items close with a note.",
        }
        for key, policy in POLICIES.items()
    ]


def _region(account: Account) -> str | None:
    return next((region for region, codes in REGION_COUNTRIES.items() if account.country in codes), None)


def _pick(accounts, per_region: dict[str, int], *, used: set[int], rng: random.Random, want=lambda a: True) -> list:
    by_region: dict[str, list[Account]] = defaultdict(list)
    for account in accounts:
        region = _region(account)
        if region in per_region and account.pk not in used and want(account):
            by_region[region].append(account)
    picked = []
    for region, count in per_region.items():
        for account in rng.sample(by_region[region], min(count, len(by_region[region]))):
            used.add(account.pk)
            picked.append(account)
    return picked


def _renewing(now: dt.datetime, days: int) -> list[Account]:
    """Owned customer accounts renewing within ``days``, last updated by the CRM at least five weeks ago."""
    today = now.date()
    accounts = (
        Account.objects.filter(
            external_id__startswith="ACC-",
            customer_status=CUSTOMER,
            owner__isnull=False,
            source_updated_at__lte=now - dt.timedelta(days=36),
        )
        .select_related("owner")
        .order_by("external_id")
    )
    result = []
    for account in accounts:
        renews = loose_date((account.attributes or {}).get("renewal_date"))
        if renews is not None and 0 <= (renews - today).days <= days:
            result.append(account)
    return result


def renewal_history_sync(*, now: dt.datetime, seed: int, actor) -> dict[str, int]:
    """Sync the recent changes of a few customer accounts renewing soon (see the module docstring)."""
    rng = random.Random(f"{seed}:monitors-renewals")
    candidates = _renewing(now, 120)
    # Big accounts first, so the finance notice (ARR at risk of 100,000 or more) has something to say.
    candidates.sort(key=lambda a: -(as_number((a.attributes or {}).get("arr")) or 0))
    used: set[int] = set()
    records: list[dict] = []
    counts = {"health": 0, "usage": 0, "sponsor": 0}

    def at(days_ago: float) -> str:
        return (now - dt.timedelta(days=days_ago)).isoformat()

    healthy = lambda a: (as_number((a.attributes or {}).get("health_score")) or 0) >= 50  # noqa: E731
    for account in _pick(candidates[:60], HEALTH_DROP, used=used, rng=rng, want=healthy):
        records.append(
            {"external_id": account.external_id, "source_updated_at": at(9), "health_score": rng.randint(22, 36)}
        )
        counts["health"] += 1
    for account in _pick(candidates, USAGE_DROP, used=used, rng=rng):
        before = rng.randint(120, 400)
        records.append({"external_id": account.external_id, "source_updated_at": at(35), "weekly_active_users": before})
        after = int(before * rng.uniform(0.4, 0.6))
        records.append({"external_id": account.external_id, "source_updated_at": at(6), "weekly_active_users": after})
        counts["usage"] += 1
    sponsored = lambda a: bool((a.attributes or {}).get("executive_sponsor"))  # noqa: E731
    for account in _pick(candidates, SPONSOR_EMPTIED, used=used, rng=rng, want=sponsored):
        records.append({"external_id": account.external_id, "source_updated_at": at(3), "executive_sponsor": None})
        counts["sponsor"] += 1
    for account in _pick(candidates, SPONSOR_CHANGED, used=used, rng=rng, want=sponsored):
        records.append(
            {
                "external_id": account.external_id,
                "source_updated_at": at(4),
                "executive_sponsor": rng.choice(NEW_SPONSORS),
            }
        )
        counts["sponsor"] += 1
    counts["changes"] = _sync(records, actor=actor)
    return counts


def _sync(records: list[dict], *, actor) -> int:
    """One batch per moment, oldest first, each processed by the outbox consumer; the records applied."""
    by_stamp: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        by_stamp[record["source_updated_at"]].append(record)
    applied = 0
    for _stamp, batch in sorted(by_stamp.items()):
        outcome = sync_batch_apply(object_name="accounts", records=batch, actor=actor)
        applied += sum(1 for result in outcome.results if result["status"] == "updated")
        if outcome.batch is not None:
            outbox_process_batch(batch_id=outcome.batch.pk)
    return applied


def renewal_demo_build(context: dict) -> None:
    """Demo builder: the renewal automations; on a fresh org, the accounts' recent changes and one scan."""
    demo_specs_ensure(demo_renewal_specs(), actor=context["actor"])
    if not context.get("fresh"):
        return
    now = context["now"]
    counts = renewal_history_sync(now=now, seed=context["seed"], actor=context["actor"])
    details = context.setdefault("details", {})
    details["accounts:with renewal changes synced"] = counts["changes"]
    renewal_scan(now=now, reason="demo: renewal scan")
    details["accounts:with a renewal or save-plan task"] = RenewalTask.objects.values("account_id").distinct().count()
