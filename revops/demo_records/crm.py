"""The CRM's morning: the changes the CRM pushes while the demo opens, through the real sync service.

``crm_morning_sync`` builds three batches from the demo org (deterministically: records are picked
by external id) and applies them with ``revops.sync.sync_batch_apply``, the function behind
``POST /api/v1/sync/<object>/``. Each batch's outbox events are then handed to the outbox
consumer (``revops.outbox.outbox_process_batch``, what the RQ job runs a moment after commit), so
the live automations of the demo's configuration react as they would in production:

- accounts: a British company just entered in the CRM, which shares its name with an unrelated
  American prospect (its country and website as the CRM has them, "United Kingdom" and a URL:
  normalised to GB and its domain, what was sent kept under "values as sent");
- leads: five new inbound leads, routed on arrival with their response clocks started (one names
  only the company the two namesakes share: an ambiguous account match for a person to settle;
  one comes from a 5,000+ employee prospect: manual review by a director; the one without a
  country gets a required-field prompt), two new leads whose score jumps (the hot-lead task), and
  two records the dictionary refuses (an invalid email, an unknown status), and a qualified lead the
  CRM converted into a contact;
- contacts: that converted lead's contact, linked to it, and two near-duplicates of stored contacts
  sent in messy forms (``crm_contacts``);
- opportunities: two deals closed won with every handoff field, two closed won without billing
  contact and executive sponsor (stored: the handoff fields are "prompt" in the dictionary, so each
  deal gets one "Required fields missing" item for its owner's manager), one with a close date the
  CRM typed as text (refused), and close dates pushed again on stale commit deals (the high-risk
  forecast automation prepares a downgrade for a manager to approve).

Refused records become ``SyncFailure`` rows and, through the sync's rejection handlers, items in
the exception queue; stored records with gaps reach the queue through the sync's gap handlers. The CRM pushes at the demo's ``now``; the sync stamps its rows with the
clock of the moment it runs.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.utils import timezone

from revops.models import Account, Lead, Opportunity, Rep
from revops.outbox import outbox_process_batch
from revops.sync import sync_batch_apply

from .crm_contacts import contact_records, converting_lead
from .tables import COUNTRIES, IMPLEMENTATION_NOTES, REGION_COUNTRIES, RISKS, SUCCESS_CRITERIA, USE_CASES

# How many stale commit deals per region get their close date pushed again this morning.
PUSHED_STALE_COMMIT = {"NA": 3, "EMEA": 3, "APAC": 1}
SPONSORS = ["Dana Whitfield (CFO)", "Marcus Lindgren (COO)", "Aiko Tanaka (CRO)", "Elena Rossi (CIO)"]


def crm_morning_sync(*, actor, now: dt.datetime) -> dict[str, int]:
    """Apply the morning's account, lead and opportunity batches as ``actor``; counts by result status and ``records``."""
    summary: Counter = Counter()
    batches = (
        ("accounts", _account_records(now)),
        ("leads", _lead_records(now)),
        ("contacts", contact_records(now)),
        ("opportunities", _opportunity_records(now)),
    )
    for object_name, records in batches:
        if not records:
            continue
        outcome = sync_batch_apply(object_name=object_name, records=records, actor=actor)
        summary.update(result["status"] for result in outcome.results)
        summary["records"] += len(records)
        if outcome.batch is not None:
            outbox_process_batch(batch_id=outcome.batch.pk)
    return dict(summary)


def _namesake() -> Account | None:
    """The US prospect whose name the morning's new British account shares (an unrelated company)."""
    return (
        Account.objects.filter(
            external_id__startswith="ACC-", country="US", customer_status="prospect", is_named=False, parent=None
        )
        .filter(children=None)
        .exclude(domain="")
        .order_by("external_id")
        .first()
    )


def _account_records(now: dt.datetime) -> list[dict]:
    namesake = _namesake()
    owner = (
        Rep.objects.filter(external_id__startswith="REP-", region="EMEA", title="Account Executive", is_active=True)
        .order_by("external_id")
        .first()
    )
    if namesake is None:
        return []
    slug = namesake.domain.split(".")[0]
    return [
        {
            "external_id": "ACC-000201",
            "source_updated_at": now.isoformat(),
            "name": f"{_brand(namesake)} Ltd",
            "domain": f"{slug}-uk.co.uk",
            "website": f"https://www.{slug}-uk.co.uk",
            "industry": namesake.industry,
            "employees": 140,
            "country": "United Kingdom",  # as the CRM's picklist has it: stored as GB, the name kept
            "state": "England",
            "owner": owner.external_id if owner is not None else None,
            "customer_status": "prospect",
        }
    ]


def _brand(account: Account) -> str:
    """The account's name without a trailing legal form ("Summit Health Inc." → "Summit Health")."""
    name = account.name
    for suffix in sorted({s for country in COUNTRIES for s in country.suffixes}, key=len, reverse=True):
        if name.endswith(" " + suffix):
            return name[: -len(suffix) - 1].rstrip(",")
    return name


def _lead_records(now: dt.datetime) -> list[dict]:
    stamp = now.isoformat()
    records = []
    namesake = _namesake()
    if namesake is not None:  # free mail and a company name two unrelated accounts carry: a person must pick
        records.append(
            {
                "external_id": "LEAD-001005",
                "source_updated_at": stamp,
                "email": "oliver.hughes1987@outlook.com",
                "first_name": "Oliver",
                "last_name": "Hughes",
                "company": _brand(namesake),
                "title": "Sales Operations Manager",
                "country": "GB",
                "state": "England",
                "source": "paid_search",
                "score": 58,
                "status": "new",
            }
        )
    strategic = (
        Account.objects.filter(
            external_id__startswith="ACC-", customer_status="prospect", is_named=False, employees__gte=5000
        )
        .exclude(domain="")
        .order_by("external_id")
        .first()
    )
    if strategic is not None:  # a 5,000+ employee prospect: a director chooses the owner
        records.append(
            {
                "external_id": "LEAD-001006",
                "source_updated_at": stamp,
                "email": f"grace.liu@{strategic.domain}",
                "first_name": "Grace",
                "last_name": "Liu",
                "company": strategic.name,
                "title": "COO",
                "country": strategic.country or "US",
                "source": "event",
                "score": 77,
                "status": "new",
            }
        )
    prospect = (
        Account.objects.filter(customer_status="prospect", is_named=False, country="US", employees__range=(200, 4999))
        .exclude(domain="")
        .order_by("external_id")
        .first()
    )
    if prospect is not None:
        records.append(
            {
                "external_id": "LEAD-001001",
                "source_updated_at": stamp,
                "email": f"ada.moreno@{prospect.domain}",
                "first_name": "Ada",
                "last_name": "Moreno",
                "company": prospect.name,
                "title": "VP Sales",
                "country": "US",
                "state": prospect.state or "CA",
                "source": "web_form",
                "score": 92,
                "status": "new",
                "utm_campaign": "brand-search",
                "product_interest": ["platform", "analytics"],
            }
        )
    records += [
        {
            "external_id": "LEAD-001002",
            "source_updated_at": stamp,
            "email": "jonas.weber@lindqvist-logistik.de",
            "first_name": "Jonas",
            "last_name": "Weber",
            "company": "Lindqvist Logistik GmbH",
            "title": "Head of Revenue Operations",
            "country": "DE",
            "state": "Hamburg",
            "source": "webinar",
            "score": 64,
            "status": "new",
            "utm_campaign": "2025-q4-forecasting-webinar",
        },
        {
            "external_id": "LEAD-001003",
            "source_updated_at": stamp,
            "email": "priya.natarajan84@gmail.com",
            "first_name": "Priya",
            "last_name": "Natarajan",
            "source": "content_download",
            "score": 35,
            "status": "new",
            "utm_campaign": "2026-q1-revops-report",
        },
        {  # the CRM's picklist has a status the dictionary does not know: refused
            "external_id": "LEAD-001004",
            "source_updated_at": stamp,
            "email": "tom.okafor@harborfreight-logistics.com",
            "first_name": "Tom",
            "last_name": "Okafor",
            "company": "Harbor Freight Logistics",
            "country": "US",
            "source": "event",
            "score": 71,
            "status": "hot",
        },
    ]
    warming = Lead.objects.filter(
        external_id__startswith="LEAD-", status="new", owner__isnull=False, score__gte=50, score__lt=80
    ).order_by("external_id")[:2]
    for lead in warming:  # marketing scoring: the lead came back to the pricing page twice
        records.append({"external_id": lead.external_id, "source_updated_at": stamp, "score": 86})
    converted = converting_lead()
    if converted is not None:  # converted into a contact (the contacts batch links it)
        records.append({"external_id": converted.external_id, "source_updated_at": stamp, "status": "converted"})
    typo = (
        Lead.objects.filter(external_id__startswith="LEAD-", status="working")
        .exclude(email="")
        .order_by("external_id")
        .first()
    )
    if typo is not None:  # a rep cut the domain off while editing: refused, the stored email stays
        records.append(
            {"external_id": typo.external_id, "source_updated_at": stamp, "email": typo.email.split("@")[0] + "@"}
        )
    records.extend(_conversions(stamp))
    return records


def _conversions(stamp: str) -> list[dict]:
    """Converted leads the CRM links to the deal they became (the matched account's, a won one first):
    the closed loop's revenue."""
    records = []
    converted = Lead.objects.filter(
        external_id__startswith="LEAD-", status="converted", matched_account__isnull=False, converted_opportunity=None
    ).order_by("external_id")
    for lead in converted:
        deals = Opportunity.objects.filter(account_id=lead.matched_account_id)
        deal = deals.filter(stage="closed_won").order_by("external_id").first() or deals.order_by("external_id").first()
        if deal is not None:
            records.append(
                {"external_id": lead.external_id, "source_updated_at": stamp, "converted_opportunity": deal.external_id}
            )
    return records


def _opportunity_records(now: dt.datetime) -> list[dict]:
    stamp, today = now.isoformat(), timezone.localdate(now)
    records: list[dict] = []
    used: set[str] = set()
    stale_commit = Opportunity.objects.filter(
        external_id__startswith="OPP-",
        stage__in=Opportunity.OPEN_STAGES,
        forecast_category="commit",
        last_activity_at__lt=now - dt.timedelta(days=30),
    ).order_by("external_id")
    for region, count in PUSHED_STALE_COMMIT.items():
        for deal in stale_commit.filter(account__country__in=REGION_COUNTRIES[region])[:count]:
            used.add(deal.external_id)
            records.append(
                {
                    "external_id": deal.external_id,
                    "source_updated_at": stamp,
                    "close_date": (max(deal.close_date or today, today) + dt.timedelta(days=21)).isoformat(),
                    "close_date_pushes": deal.close_date_pushes + 1,
                }
            )
    closing = list(
        Opportunity.objects.filter(external_id__startswith="OPP-", stage="negotiation")
        .exclude(external_id__in=used)
        .select_related("account")
        .order_by("external_id")[:5]
    )
    for index, deal in enumerate(closing[:4]):
        won = {
            "external_id": deal.external_id,
            "source_updated_at": stamp,
            "stage": "closed_won",
            "forecast_category": "closed",
            "close_date": today.isoformat(),
            **_handoff(deal, index, today),
        }
        if index >= 2:  # closed in a hurry: the handoff fields finance and onboarding need are missing
            del won["billing_contact"], won["executive_sponsor"]
        records.append(won)
    if len(closing) == 5:  # typed into a date field as text: refused
        records.append(
            {"external_id": closing[4].external_id, "source_updated_at": stamp, "close_date": "next tuesday"}
        )
    return records


def _handoff(deal: Opportunity, index: int, today: dt.date) -> dict:
    domain = deal.account.domain if deal.account is not None and deal.account.domain else "example.com"
    return {
        "contract_start_date": (today + dt.timedelta(days=14)).isoformat(),
        "products_purchased": ["platform", "analytics"] if index % 2 else ["platform"],
        "use_case": USE_CASES[index % len(USE_CASES)],
        "success_criteria": SUCCESS_CRITERIA[index % len(SUCCESS_CRITERIA)],
        "implementation_notes": IMPLEMENTATION_NOTES[index % len(IMPLEMENTATION_NOTES)],
        "billing_contact": f"billing@{domain}",
        "executive_sponsor": SPONSORS[index % len(SPONSORS)],
        "sales_risks_promises": RISKS[index % len(RISKS)],
    }
