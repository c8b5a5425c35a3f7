"""The data-quality demo: the demo's duplicate rules, the duplicates already in the demo's data found by
a real full scan, and a few more arriving through the real sync service, where the rules act on ingest.

Registered at order 65, after the CRM's morning sync (60). On a fresh org, before the rules exist,
the CRM has three near-duplicate accounts (a typo, another legal suffix and a website sent as a URL,
shouting capitals) — synced as ordinary records. Then the rules are ensured by name, a full scan
runs (``scan_step`` until done: the 30 duplicate leads of the record builder, the CRM's two
near-duplicate contacts and those accounts become duplicate sets), and the CRM sends two more near-duplicate leads (a typo with the e-mail in
capitals; first and last name swapped at the same company) — reported on ingest — and re-enters an
existing account, which the blocking rule refuses naming the account it looks like (a "Sync record
rejected" item in the queue).
"""

from __future__ import annotations

from revops.models import Account, Lead
from revops.names import company_key
from revops.outbox import outbox_process_batch
from revops.sync import sync_batch_apply

from .models import DuplicateMember, DuplicateRule, DuplicateSet
from .scan import scan_start, scan_step
from .services import duplicate_rule_save


def demo_rule_specs() -> list[dict]:
    """The demo's duplicate rules (also the example of docs/dataquality.md)."""
    return [
        {
            "name": "Leads: same person",
            "object_type": "lead",
            "description": "Same e-mail, or a similar name at the same company (its domain, e-mail domain or name).",
            "action": "report",
            "threshold": 100,
            "fields": [
                {"field": "email", "method": "normalised", "weight": 100, "blocking": True},
                {"field": "name", "method": "fuzzy", "similarity": 88, "weight": 50, "blocking": True},
                {"field": "email", "method": "domain", "weight": 25, "blocking": False},
                {"field": "domain", "method": "normalised", "weight": 25, "blocking": False},
                {"field": "company", "method": "fuzzy", "similarity": 90, "weight": 25, "blocking": False},
            ],
        },
        {
            "name": "Contacts: same person",
            "object_type": "contact",
            "description": "Same e-mail, or a similar name with the same phone (colleagues share a switchboard).",
            "action": "report",
            "threshold": 100,
            "fields": [
                {"field": "email", "method": "normalised", "weight": 100, "blocking": True},
                {"field": "phone", "method": "normalised", "weight": 50, "blocking": True},
                {"field": "name", "method": "fuzzy", "similarity": 88, "weight": 50, "blocking": True},
                {"field": "email", "method": "domain", "weight": 25, "blocking": False},
            ],
        },
        {
            "name": "Accounts: same company",
            "object_type": "account",
            "description": "A similar company name with the same web domain (its domain, else its website); the country adds weight.",
            "action": "report",
            "threshold": 100,
            "fields": [
                {"field": "name", "method": "fuzzy", "similarity": 80, "weight": 60, "blocking": False},
                {"field": "web_domain", "method": "domain", "weight": 60, "blocking": True},
                {"field": "country", "method": "exact", "weight": 20, "blocking": False},
            ],
        },
        {
            "name": "Accounts: no re-entry",
            "object_type": "account",
            "description": "Refuse a new account whose name and domain an existing account already has.",
            "action": "block",
            "threshold": 100,
            "fields": [
                {"field": "name", "method": "normalised", "weight": 50, "blocking": False},
                {"field": "web_domain", "method": "domain", "weight": 50, "blocking": True},
            ],
        },
    ]


def demo_rules_ensure(*, actor) -> list[DuplicateRule]:
    """The demo rules, created by name when missing (an existing rule is left as someone edited it)."""
    rules = []
    for spec in demo_rule_specs():
        rule = DuplicateRule.objects.filter(name=spec["name"]).first()
        if rule is None:
            rule = DuplicateRule(**{k: v for k, v in spec.items() if k != "fields"})
            duplicate_rule_save(rule=rule, fields=spec["fields"], actor=actor, reason="demo duplicate rules")
        rules.append(rule)
    return rules


def _typo(word: str) -> str:
    """Drop the third letter: "Globex" → "Glbex" (a realistic one-letter slip)."""
    return word[:2] + word[3:] if len(word) > 4 else word


def _near_duplicate_accounts(now) -> list[dict]:
    """Three existing accounts as the CRM holds them a second time (see the module docstring)."""
    picked = [
        a
        for a in Account.objects.filter(external_id__startswith="ACC-", parent=None)
        .exclude(domain="")
        .order_by("external_id")[:200]
        if len(company_key(a.name)) >= 10 and " " not in company_key(a.name)[:6]
    ][:3]
    records = []
    for index, account in enumerate(picked):
        first, _, rest = account.name.partition(" ")
        name = [f"{_typo(first)} {rest}".strip(), f"{company_key(account.name).title()}, Inc.", account.name.upper()][
            index
        ]
        records.append(
            {
                "external_id": f"ACC-{900 + index:06d}",
                "source_updated_at": now.isoformat(),
                "name": name,
                "domain": account.domain,
                "website": f"https://www.{account.domain}/" if index == 1 else "",
                "country": account.country or None,
                "industry": account.industry,
            }
        )
    return records


def _near_duplicate_leads(now) -> list[dict]:
    leads = list(
        Lead.objects.filter(external_id__startswith="LEAD-")
        .exclude(domain="")
        .exclude(company="")
        .exclude(first_name="")
        .filter(last_name__regex=r"^[A-Za-z]{5,}$")
        .order_by("external_id")[:2]
    )
    records = []
    if len(leads) >= 1:
        lead = leads[0]
        last = lead.last_name
        records.append(
            {
                "external_id": "LEAD-009001",
                "source_updated_at": now.isoformat(),
                "email": lead.email.upper(),
                "first_name": lead.first_name,
                "last_name": last[:2] + last[3] + last[2] + last[4:],  # two letters swapped
                "company": lead.company,
                "country": lead.country or None,
                "source": "webinar",
            }
        )
    if len(leads) >= 2:
        lead = leads[1]
        domain = lead.email.rpartition("@")[2]
        records.append(
            {
                "external_id": "LEAD-009002",
                "source_updated_at": now.isoformat(),
                "email": f"{lead.first_name[:1].lower()}{lead.last_name.lower()}@{domain}",
                "first_name": lead.last_name,  # first and last name swapped in the form
                "last_name": lead.first_name,
                "company": lead.company,
                "country": lead.country or None,
                "source": "event",
            }
        )
    return records


def _account_reentry(now) -> list[dict]:
    account = Account.objects.filter(external_id__startswith="ACC-").exclude(domain="").order_by("external_id").first()
    if account is None:
        return []
    return [
        {
            "external_id": "ACC-000950",
            "source_updated_at": now.isoformat(),
            "name": f"{company_key(account.name).upper()} Inc",
            "domain": f"https://{account.domain}",
            "country": account.country or None,
        }
    ]


def _sync(object_name: str, records: list[dict], actor) -> dict:
    if not records:
        return {}
    outcome = sync_batch_apply(object_name=object_name, records=records, actor=actor)
    if outcome.batch is not None:
        outbox_process_batch(batch_id=outcome.batch.pk)
    return outcome.counts


def dataquality_demo_build(context: dict) -> None:
    """Ensure the demo rules; on a fresh org, the near-duplicates, a full scan and the ingest examples."""
    actor, now = context["actor"], context["now"]
    fresh = context.get("fresh")
    if fresh:
        _sync("accounts", _near_duplicate_accounts(now), actor)
    demo_rules_ensure(actor=actor)
    if not fresh:
        return
    scan = scan_start(reason="demo: the duplicates already in the CRM's data")
    while scan_step(scan_id=scan.pk, seconds=60):
        pass
    scan.refresh_from_db()
    details = context.setdefault("details", {})
    for object_type in scan.counts.get("objects", []):
        details[f"duplicate sets:{object_type} sets found by the scan"] = scan.counts[object_type].get("sets_opened", 0)
    leads = _sync("leads", _near_duplicate_leads(now), actor)
    accounts = _sync("accounts", _account_reentry(now), actor)
    details["duplicate sets:lead sets opened on ingest"] = leads.get("created", 0)
    details["duplicate sets:account refused on ingest"] = accounts.get("rejected", 0)
    _demo_merges(actor, details)
    context.setdefault("counts", {})["duplicate sets"] = DuplicateSet.objects.filter(
        status=DuplicateSet.Status.OPEN
    ).count()


def _demo_merges(actor, details: dict) -> None:
    """Three of the lead sets the scan found, through the real merge services: one proposal left waiting
    in the queue, one approved (merged), one merged and then undone."""
    from django.db.models import Count

    from exceptions.approvals import exception_approval_approve
    from exceptions.models import ExceptionItem
    from revops.models import Lead

    from .merges import merge_propose, merge_undo

    candidates = list(
        DuplicateSet.objects.filter(object_type="lead", status=DuplicateSet.Status.OPEN)
        .annotate(n=Count("members"))
        .filter(n=2)
    )
    # By the records' CRM ids, not the sets' ids: the scan's steps are cut by time, so the order in which
    # it opens sets (their ids) depends on the machine's speed; the demo must not.
    members = {}
    for set_id, object_id in DuplicateMember.objects.filter(set__in=candidates).values_list("set_id", "object_id"):
        members.setdefault(set_id, []).append(object_id)
    names = dict(Lead.objects.filter(pk__in=[i for m in members.values() for i in m]).values_list("pk", "external_id"))
    pairs = sorted(candidates, key=lambda s: min(names.get(i, "") for i in members.get(s.pk, [0])))[:3]
    if len(pairs) < 3:
        return
    merge_propose(dup_set=pairs[0], actor=actor)
    for dup_set, note in ((pairs[1], "Same person: one address from a webinar, one from a trial."), (pairs[2], "")):
        [merge] = merge_propose(dup_set=dup_set, actor=actor)
        # Approved in the queue, as a person does: the item's approval applies the merge.
        item = ExceptionItem.objects.get(dedupe_key=f"merge:{merge.pk}", status__in=ExceptionItem.OPEN_STATUSES)
        exception_approval_approve(item=item, actor=actor, note=note)
    merge.refresh_from_db()
    merge_undo(merge=merge, actor=actor, reason="Two people at the same company share the name.")
    details["merges:proposals waiting for approval"] = 1
    details["merges:merged"] = 1
    details["merges:merged then undone"] = 1
