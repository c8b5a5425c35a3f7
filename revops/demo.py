"""A realistic, reproducible demo org: teams, reps, accounts, leads, opportunities, activities, tasks.

``demo_load(seed=42)`` builds the same org for the same seed (``random.Random(seed)`` plus a
seeded Faker): a sales team tree by region (NA, EMEA, APAC) and segment (SMB, Mid-Market,
Enterprise) with Customer Success, Onboarding and Billing; ~30 reps with managers, time zones,
two out of office and one inactive; ~200 accounts (named/strategic ones, subsidiaries, customers
with ARR and renewal dates); ~1,000 leads (corporate emails that match an account domain,
free-mail addresses, legal-suffix company names, a few duplicates); ~500 opportunities (some
open past their close date, pushed close dates, closed-won deals with handoff attributes, some
deliberately incomplete); ~2,000 activities and some tasks.

Every record has a stable external id (``ACC-000123``) so the load is idempotent: if any demo
record exists, nothing is created. Rows are bulk-created with their history rows, attributed
to the ``demo-loader`` system user with the reason "demo data".
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from faker import Faker
from simple_history.utils import bulk_create_with_history

from . import services
from .audit import system_user
from .models import Account, Activity, FieldDefinition, Lead, Opportunity, Rep, Task, Team

DEMO_USER = "demo-loader"
REASON = "demo data"
DEFAULT_SEED = 42
ID_PREFIXES = {
    Team: "TEAM-",
    Rep: "REP-",
    Account: "ACC-",
    Lead: "LEAD-",
    Opportunity: "OPP-",
    Activity: "ACT-",
    Task: "TSK-",
}

# --- Reference data --------------------------------------------------------------------------


@dataclass(frozen=True)
class Country:
    code: str
    region: str
    weight: int
    tld: str
    suffixes: tuple[str, ...]
    states: tuple[str, ...]
    locale: str
    free_mail: tuple[str, ...] = ()


# fmt: off
COUNTRIES = [
    Country("US", "NA", 80, "com", ("Inc.", "LLC", "Corp."), ("CA", "NY", "TX", "WA", "MA", "IL", "GA", "CO", "FL", "NC"), "en_US"),
    Country("CA", "NA", 20, "ca", ("Inc.", "Ltd."), ("ON", "BC", "QC", "AB"), "en_CA"),
    Country("GB", "EMEA", 30, "co.uk", ("Ltd", "PLC"), ("England", "Scotland", "Wales"), "en_GB", ("yahoo.co.uk", "btinternet.com")),
    Country("DE", "EMEA", 22, "de", ("GmbH", "AG"), ("Berlin", "Bayern", "Hamburg", "Hessen", "Nordrhein-Westfalen"), "de_DE", ("gmx.de", "web.de")),
    Country("FR", "EMEA", 14, "fr", ("SAS", "SA"), ("Île-de-France", "Auvergne-Rhône-Alpes", "Occitanie"), "fr_FR", ("orange.fr",)),
    Country("NL", "EMEA", 10, "nl", ("B.V.", "N.V."), ("Noord-Holland", "Zuid-Holland", "Utrecht"), "nl_NL"),
    Country("SE", "EMEA", 7, "se", ("AB",), ("Stockholm", "Västra Götaland", "Skåne"), "sv_SE"),
    Country("ES", "EMEA", 7, "es", ("S.L.", "S.A."), ("Madrid", "Cataluña", "Valencia"), "es_ES"),
    Country("IE", "EMEA", 5, "ie", ("Ltd", "DAC"), ("Dublin", "Cork", "Galway"), "en_IE"),
    Country("CH", "EMEA", 5, "ch", ("AG", "SA", "GmbH"), ("Zürich", "Genève", "Basel-Stadt"), "de_CH"),
    Country("AU", "APAC", 35, "com.au", ("Pty Ltd",), ("NSW", "VIC", "QLD", "WA"), "en_AU", ("bigpond.com",)),
    Country("JP", "APAC", 20, "co.jp", ("K.K.", "Co., Ltd."), ("Tokyo", "Osaka", "Kanagawa"), "ja_JP", ("yahoo.co.jp",)),
    Country("SG", "APAC", 15, "sg", ("Pte. Ltd.",), (), "en_GB"),
    Country("IN", "APAC", 20, "in", ("Pvt. Ltd.", "Ltd."), ("Maharashtra", "Karnataka", "Delhi", "Tamil Nadu"), "en_IN", ("rediffmail.com",)),
    Country("NZ", "APAC", 10, "co.nz", ("Ltd",), ("Auckland", "Wellington", "Canterbury"), "en_NZ"),
]
COUNTRY = {c.code: c for c in COUNTRIES}
REGION_WEIGHTS = [("NA", 50), ("EMEA", 32), ("APAC", 18)]
TIME_ZONES = {  # per country; a rep gets one of their country's zones
    "US": ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"],
    "CA": ["America/Toronto", "America/Vancouver"], "GB": ["Europe/London"], "DE": ["Europe/Berlin"],
    "FR": ["Europe/Paris"], "NL": ["Europe/Amsterdam"], "SE": ["Europe/Stockholm"], "ES": ["Europe/Madrid"],
    "IE": ["Europe/Dublin"], "CH": ["Europe/Zurich"], "AU": ["Australia/Sydney", "Australia/Melbourne", "Australia/Perth"],
    "JP": ["Asia/Tokyo"], "SG": ["Asia/Singapore"], "IN": ["Asia/Kolkata"], "NZ": ["Pacific/Auckland"],
}
FREE_MAIL = ["gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "proton.me"]
SELLER_DOMAIN = "cloudberry.example"  # the company using the portal; .example never delivers mail

SEGMENTS = {"SMB": (5, 199), "MM": (200, 1999), "ENT": (2000, 120_000)}  # employees
SEGMENT_NAMES = {"SMB": "SMB", "MM": "Mid-Market", "ENT": "Enterprise"}
INDUSTRIES = {
    "Software": ["Software", "Systems", "Labs", "Cloud", "Technologies", "Data"],
    "Financial Services": ["Capital", "Financial", "Payments", "Partners"],
    "Healthcare": ["Health", "Medical", "Care", "Biotech"],
    "Manufacturing": ["Manufacturing", "Industries", "Robotics", "Components"],
    "Retail": ["Retail", "Brands", "Outfitters", "Goods"],
    "Logistics": ["Logistics", "Freight", "Shipping", "Transport"],
    "Education": ["Learning", "Academy", "Education"],
    "Media": ["Media", "Studios", "Publishing"],
    "Energy": ["Energy", "Power", "Renewables"],
    "Telecommunications": ["Telecom", "Networks", "Communications"],
    "Professional Services": ["Consulting", "Advisory", "Group"],
    "Insurance": ["Insurance", "Assurance", "Mutual"],
}
BRAND_PREFIX = [
    "North", "Blue", "Silver", "Bright", "Iron", "Summit", "Harbor", "Pioneer", "Granite", "Cedar", "Atlas", "Vertex",
    "Lumen", "Nimbus", "Quantum", "Polar", "Crescent", "Evergreen", "Redwood", "Apex", "Orbit", "Beacon", "Falcon",
    "Maple", "Sterling", "Cobalt", "Helix", "Nova", "Meridian", "Keystone", "Horizon", "Tidal", "Aurora", "Juniper",
    "Onyx", "Willow", "Zenith", "Copper", "Sapphire", "Everest", "Kestrel", "Solace", "Larch", "Marble", "Clear",
]
BRAND_CORE = [
    "wind", "stone", "field", "bridge", "point", "gate", "line", "ridge", "path", "works", "wave", "light", "peak",
    "forge", "leaf", "crest", "brook", "view", "spring", "haven", "mark", "star", "shore", "vale", "beam",
]
LEAD_TITLES = [
    ("VP Sales", 8), ("Head of Revenue Operations", 7), ("Sales Operations Manager", 8), ("CFO", 4), ("CEO", 4),
    ("COO", 3), ("IT Manager", 6), ("Director of Operations", 6), ("Marketing Manager", 7), ("Procurement Lead", 3),
    ("Software Engineer", 5), ("Data Analyst", 5), ("Customer Success Lead", 4), ("Founder", 3), ("Student", 2),
    ("Consultant", 3), ("", 4),
]
LEAD_SOURCES = [
    ("web_form", 25), ("content_download", 12), ("webinar", 10), ("event", 10), ("paid_search", 12),
    ("referral", 6), ("partner", 5), ("outbound", 10), ("chat", 5), ("free_trial", 5),
]
LEAD_STATUSES = [("new", 28), ("working", 22), ("nurture", 14), ("qualified", 10), ("unqualified", 14), ("converted", 12)]
CAMPAIGNS = ["2025-q4-forecasting-webinar", "2026-q1-revops-report", "brand-search", "competitor-search", "saastr-booth"]
PRODUCTS = ["platform", "analytics", "integrations", "premium_support", "services"]
OPEN_STAGES = [("prospecting", 14), ("discovery", 18), ("solution", 14), ("proposal", 12), ("negotiation", 8)]
NEXT_STEPS = [
    "Send proposal", "Security review with IT", "Pricing call with CFO", "Legal redlines", "Demo to stakeholders",
    "Mutual action plan review", "Procurement onboarding", "Technical validation", "Reference call", "Order form signature",
]
USE_CASES = [
    "Route inbound leads to the right rep within minutes", "Forecast hygiene across regional teams",
    "Replace spreadsheet territory planning", "Automate the sales-to-CS handoff", "Consolidate pipeline reporting",
]
SUCCESS_CRITERIA = [
    "Speed-to-lead under 5 minutes for 95% of inbound leads", "Forecast accuracy within 10% by Q3",
    "Handoff completed within 2 business days of close", "All reps using the portal weekly by day 60",
]
IMPLEMENTATION_NOTES = [
    "CRM is Salesforce; SSO via Okta; go-live before fiscal year start.", "Needs EU data residency; legal review of DPA.",
    "Migrate 3 years of historical opportunities; sandbox first.", "Phased rollout: NA first, EMEA a quarter later.",
]
RISKS = [
    "None known.", "Promised SSO by go-live.", "Discount contingent on a public case study.",
    "Champion leaving in Q2; executive sponsor engaged.", "Custom report promised in the first month.",
]
ACTIVITY_KINDS = [("email", 40), ("call", 30), ("meeting", 15), ("note", 10), ("task", 5)]
SUBJECTS = {
    "call": ["Discovery call", "Follow-up call", "Left voicemail", "Connect call", "Pricing call"],
    "email": ["Intro email", "Sent case study", "Follow-up: next steps", "Proposal sent", "Re: pricing questions"],
    "meeting": ["Product demo", "Technical deep dive", "Executive alignment", "Mutual action plan review", "Security review"],
    "note": ["Call notes", "Champion identified", "Budget confirmed", "Competitor in play"],
    "task": ["Send contract", "Book demo", "Update mutual action plan"],
}
# fmt: on

# Custom dictionary fields the demo records use (created only if missing).
DEMO_CUSTOM_FIELDS = [
    {
        "object_type": "account",
        "key": "arr",
        "label": "ARR",
        "field_type": "decimal",
        "definition": "Annual recurring revenue in USD, as billed.",
        "source_of_truth": "billing",
        "owning_team": "Finance",
    },
    {
        "object_type": "account",
        "key": "renewal_date",
        "label": "Renewal date",
        "field_type": "date",
        "definition": "When the customer's current subscription term ends.",
        "source_of_truth": "billing",
        "owning_team": "Finance",
    },
    {
        "object_type": "account",
        "key": "health_score",
        "label": "Health score",
        "field_type": "integer",
        "definition": "Product usage health, 0 (at risk) to 100 (healthy), computed nightly.",
        "source_of_truth": "product_usage",
        "owning_team": "Customer Success",
    },
    {
        "object_type": "lead",
        "key": "utm_campaign",
        "label": "UTM campaign",
        "field_type": "text",
        "definition": "The marketing campaign that brought the lead in (utm_campaign).",
        "source_of_truth": "marketing_automation",
        "owning_team": "Marketing",
    },
    {
        "object_type": "lead",
        "key": "product_interest",
        "label": "Product interest",
        "field_type": "multi_choice",
        "definition": "Products the lead asked about.",
        "allowed_values": PRODUCTS,
        "source_of_truth": "marketing_automation",
        "owning_team": "Marketing",
    },
]
HANDOFF_FIELDS = [
    "contract_start_date",
    "products_purchased",
    "use_case",
    "success_criteria",
    "implementation_notes",
    "billing_contact",
    "executive_sponsor",
    "sales_risks_promises",
]

# Team tree: key, name, parent key, region, segment. Order gives the external ids.
TEAM_TREE = [("sales", "Sales", None, "", "")]
for _r in ("NA", "EMEA", "APAC"):
    TEAM_TREE.append((_r.lower(), f"{_r} Sales", "sales", _r, ""))
    for _s in ("SMB", "MM", "ENT"):
        TEAM_TREE.append((f"{_r.lower()}-{_s.lower()}", f"{_r} {SEGMENT_NAMES[_s]}", _r.lower(), _r, _s))
TEAM_TREE += [
    ("cs", "Customer Success", None, "", ""),
    ("onb", "Onboarding", "cs", "", ""),
    ("billing", "Billing", None, "", ""),
]
TEAM_TREE_BY_KEY = {row[0]: row for row in TEAM_TREE}


@dataclass(frozen=True)
class RepPlan:
    key: str
    team: str
    title: str
    region: str
    segments: tuple[str, ...] = ()
    manager: str | None = None
    manages: tuple[str, ...] = ()


def _rep_plan() -> list[RepPlan]:
    plan = [RepPlan("vp", "sales", "VP Sales", "", (), None, ("sales",))]
    for region in ("NA", "EMEA", "APAC"):
        r = region.lower()
        plan.append(
            RepPlan(f"{r}-dir", r, f"Sales Director, {region}", region, ("ENT", "STRATEGIC"), "vp", (r, f"{r}-ent"))
        )
        for seg in ("SMB", "MM"):
            s = seg.lower()
            title = f"Sales Manager, {SEGMENT_NAMES[seg]}"
            plan.append(RepPlan(f"{r}-{s}-mgr", f"{r}-{s}", title, region, (seg,), f"{r}-dir", (f"{r}-{s}",)))
            for i in (1, 2):
                ae_title = "Account Executive" if seg == "SMB" else "Account Executive, Mid-Market"
                plan.append(RepPlan(f"{r}-{s}-{i}", f"{r}-{s}", ae_title, region, (seg,), f"{r}-{s}-mgr"))
        for i in range(1, 3 if region == "NA" else 2):
            strategic = region == "NA" and i == 1
            title = "Strategic Account Director" if strategic else "Enterprise Account Executive"
            segs = ("ENT", "STRATEGIC") if strategic else ("ENT",)
            plan.append(RepPlan(f"{r}-ent-{i}", f"{r}-ent", title, region, segs, f"{r}-dir"))
    plan += [
        RepPlan("cs-dir", "cs", "Director, Customer Success", "NA", (), None, ("cs",)),
        RepPlan("cs-1", "cs", "Customer Success Manager", "NA", (), "cs-dir"),
        RepPlan("cs-2", "cs", "Customer Success Manager", "EMEA", (), "cs-dir"),
        RepPlan("onb-mgr", "onb", "Onboarding Manager", "EMEA", (), "cs-dir", ("onb",)),
        RepPlan("onb-1", "onb", "Onboarding Specialist", "APAC", (), "onb-mgr"),
        RepPlan("billing-mgr", "billing", "Billing Manager", "NA", (), None, ("billing",)),
        RepPlan("billing-1", "billing", "Billing Specialist", "EMEA", (), "billing-mgr"),
    ]
    return plan


REP_PLAN = _rep_plan()
OUT_OF_OFFICE = {"na-mm-1": 6, "emea-smb-2": 13, "apac-mm-1": -2}  # days from now; negative = already back
INACTIVE = {"na-smb-2"}


# --- Result ----------------------------------------------------------------------------------


@dataclass
class DemoResult:
    """What ``demo_load`` did: counts per object, notable details and how long it took."""

    created: bool
    seed: int
    counts: dict[str, int] = field(default_factory=dict)
    details: dict[str, int] = field(default_factory=dict)
    dictionary_defaults: int = 0
    custom_fields: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        if not self.created:
            return [
                "Demo already loaded: found existing demo records (external ids such as ACC-000001); created nothing."
            ]
        lines = [f"Demo org loaded (seed {self.seed}) in {self.seconds:.1f} s:"]
        for name, count in self.counts.items():
            extra = ", ".join(f"{v} {k}" for k, v in self.details.items() if k.startswith(name + ":"))
            extra = extra.replace(name + ":", "")
            lines.append(f"  {name:<14}{count:>6}" + (f"  ({extra})" if extra else ""))
        lines.append(
            f"  dictionary: {self.dictionary_defaults} default entries and {self.custom_fields} custom fields added"
        )
        return lines


# --- Public API ------------------------------------------------------------------------------


def demo_loaded() -> bool:
    """Whether any demo record (by its external-id prefix) exists."""
    return any(model.objects.filter(external_id__startswith=prefix).exists() for model, prefix in ID_PREFIXES.items())


def demo_load(*, seed: int = DEFAULT_SEED, actor=None, now: dt.datetime | None = None) -> DemoResult:
    """Ensure the default dictionary, then build the demo org unless one is already loaded.

    Everything is written in one transaction; history rows name ``actor`` (default: the
    ``demo-loader`` system user) with the reason "demo data".
    """
    started = time.monotonic()
    actor = actor or system_user(DEMO_USER, first_name="Demo loader")
    with transaction.atomic():
        defaults = len(services.dictionary_load_defaults(actor=actor))
        demo_automations_ensure(actor=actor)
        builder = None
        if not demo_loaded():
            builder = DemoBuilder(seed=seed, actor=actor, now=now)
            builder.build()
        from exceptions.demo import demo_exception_queue_ensure

        demo_exception_queue_ensure(actor=actor, now=now)  # the morning queue and its managers (idempotent)
        from routing.demo import demo_routing_ensure

        routing = demo_routing_ensure(actor=actor, now=now, route_leads=builder is not None)
        if builder is None:
            return DemoResult(created=False, seed=seed, dictionary_defaults=defaults)
    builder.details["leads:routed at arrival"] = routing["routed"]
    return DemoResult(
        created=True,
        seed=seed,
        counts=builder.counts,
        details=builder.details,
        dictionary_defaults=defaults,
        custom_fields=builder.custom_fields,
        seconds=time.monotonic() - started,
    )


# --- Demo automations ------------------------------------------------------------------------

# The people who own the demo rules: a RevOps lead agrees them, the RevOps on-call hears about failures.
DEMO_RULE_OWNER = ("revops.lead", "Riley", "Ops", "revops.lead@example.com")
DEMO_FAILURE_OWNER = ("revops.oncall", "Sam", "Oncall", "revops.oncall@example.com")
HANDOFF_FIELDS = ["contract_start_date", "products_purchased", "billing_contact", "executive_sponsor"]


def _demo_owner(username: str, first: str, last: str, email: str):
    from django.contrib.auth import get_user_model

    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"first_name": first, "last_name": last, "email": email, "is_staff": True}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def demo_automation_specs() -> list[dict]:
    """The demo's automations: live, shadow and high-risk examples of the built-in kinds."""
    return [
        {
            "name": "Hot lead follow-up task",
            "purpose": "A new lead scoring 80 or more gets a call from its owner within two hours.",
            "kind": "create_task",
            "object_type": "lead",
            "trigger": "updated",
            "conditions": {
                "all": [
                    {"field": "lead.score", "op": "gte", "value": 80},
                    {"field": "lead.status", "op": "eq", "value": "new"},
                ]
            },
            "config": {"title": "Call the lead", "due_in_hours": 2, "assignee": "owner"},
            "mode": "live",
            "downstream_effect": "A task for the owner appears in the CRM through the changes feed.",
            "rollback_notes": "Cancel the tasks it created (they name the automation).",
        },
        {
            "name": "Missing country prompt",
            "purpose": "Routing needs a country and a company; new leads without them get a task for the owner.",
            "kind": "required_fields",
            "object_type": "lead",
            "trigger": "created",
            "conditions": {"all": [{"field": "lead.status", "op": "in", "value": ["new", "working"]}]},
            "config": {"fields": ["country", "company"], "task": True, "exception": False, "due_in_hours": 24},
            "mode": "live",
        },
        {
            "name": "Closed-won handoff fields",
            "purpose": "A deal moving to closed won must carry what onboarding and finance need.",
            "kind": "required_fields",
            "object_type": "opportunity",
            "trigger": "stage_changed_to",
            "trigger_value": "closed_won",
            "conditions": {"all": []},
            "config": {
                "fields": HANDOFF_FIELDS,
                "task": False,
                "exception": True,
                "exception_kind": "handoff_incomplete",
                "due_in_hours": 24,
            },
            "mode": "live",
        },
        {
            "name": "Enterprise lead alert",
            "purpose": "Leads matched to enterprise accounts (1,000+ employees) deserve a human look (in shadow).",
            "kind": "alert",
            "object_type": "lead",
            "trigger": "updated",
            "conditions": {"all": [{"field": "lead.matched_account.employees", "op": "gte", "value": 1000}]},
            "config": {
                "title": "Enterprise lead {record}",
                "exception_kind": "hygiene_alert",
                "severity": "medium",
                "expected_action": "Check the account match and hand the lead to the named account owner.",
                "owner": "rule_owner",
            },
            "mode": "shadow",
        },
        {
            "name": "Downgrade stale commit deals",
            "purpose": "Deals in commit with no activity for 30 days move to best case (forecast change: approved).",
            "kind": "field_update",
            "object_type": "opportunity",
            "trigger": "updated",
            "risk": "high",
            "conditions": {
                "all": [
                    {"field": "opportunity.forecast_category", "op": "eq", "value": "commit"},
                    {"field": "opportunity.last_activity_at", "op": "older_than_days", "value": 30},
                ]
            },
            "config": {"set": {"forecast_category": "best_case"}},
            "mode": "live",
        },
    ]


def demo_automations_ensure(*, actor) -> list:
    """Create the demo automations that do not exist yet (by name); return the ones created."""
    from .automations import automation_create
    from .models import Automation

    rule_owner = _demo_owner(*DEMO_RULE_OWNER)
    failure_owner = _demo_owner(*DEMO_FAILURE_OWNER)
    existing = set(Automation.objects.values_list("name", flat=True))
    created = []
    for spec in demo_automation_specs():
        if spec["name"] in existing:
            continue
        created.append(
            automation_create(
                actor=actor,
                reason="demo automation",
                rule_owner=rule_owner,
                system_owner=rule_owner,
                failure_owner=failure_owner,
                exception_queue="RevOps triage",
                last_reviewed_at=timezone.localdate(),
                **spec,
            )
        )
    return created


# --- Builder ---------------------------------------------------------------------------------


def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters and digits only ("Müller & Söhne" → "mullersohne")."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


@dataclass
class AccountInfo:
    obj: Account
    brand: str
    slug: str
    region: str
    segment: str


class DemoBuilder:
    """Generates the demo org from one seed. Randomness comes only from ``self.rng`` and ``self.fake``."""

    def __init__(self, *, seed: int, actor, now: dt.datetime | None = None):
        self.seed = seed
        self.actor = actor
        self.rng = random.Random(seed)
        locales = sorted({c.locale for c in COUNTRIES})
        self.fake = Faker(locales)
        for offset, locale in enumerate(locales):  # distinct seeds: en_US and en_CA share name lists
            self.fake[locale].seed_instance(seed * 100 + offset)
        self.now = now or timezone.now()
        self.today = timezone.localdate(self.now)
        self.counts = dict.fromkeys(["teams", "reps", "accounts", "leads", "opportunities", "activities", "tasks"], 0)
        self.details: dict[str, int] = {}
        self.custom_fields = 0
        self._used_slugs: set[str] = set()
        self._used_emails: set[str] = set()
        self._used_rep_names: set[str] = set()

    # small helpers ---------------------------------------------------------------------

    def pick(self, weighted):
        values, weights = zip(*weighted, strict=True)
        return self.rng.choices(values, weights=weights)[0]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def ago(self, *, days_min: float, days_max: float) -> dt.datetime:
        return self.now - dt.timedelta(seconds=self.rng.uniform(days_min, days_max) * 86400)

    def country_in(self, region: str) -> Country:
        return self.pick([(c, c.weight) for c in COUNTRIES if c.region == region])

    def any_country(self) -> Country:
        return self.country_in(self.pick(REGION_WEIGHTS))

    def person(self, country: Country) -> tuple[str, str]:
        gen = self.fake[country.locale]
        if country.locale == "ja_JP":
            return gen.first_romanized_name(), gen.last_romanized_name()
        return gen.first_name(), gen.last_name()

    def state(self, country: Country) -> str:
        return self.rng.choice(country.states) if country.states else ""

    def save(self, model, objs, label: str):
        created = bulk_create_with_history(objs, model, default_user=self.actor, default_change_reason=REASON)
        self.counts[label] = self.counts.get(label, 0) + len(created)
        return created

    def detail(self, key: str, count: int) -> None:
        if count:
            self.details[key] = count

    # build -----------------------------------------------------------------------------

    def build(self) -> None:
        self.add_custom_fields()
        self.build_teams_and_reps()
        self.build_accounts()
        self.build_leads()
        self.build_opportunities()
        self.build_activities()
        self.build_tasks()

    def add_custom_fields(self) -> None:
        existing = set(FieldDefinition.objects.values_list("object_type", "key"))
        for entry in DEMO_CUSTOM_FIELDS:
            if (entry["object_type"], entry["key"]) not in existing:
                services.dictionary_field_create(actor=self.actor, reason=f"{REASON}: custom field", **entry)
                self.custom_fields += 1

    # teams and reps ----------------------------------------------------------------------

    def build_teams_and_reps(self) -> None:
        self.teams: dict[str, Team] = {}
        # Teams are created level by level (a parent needs its id) and get their history row
        # once their manager is known, so each team has one complete "created" row.
        for depth in range(3):
            level = []
            for index, (key, name, parent, region, segment) in enumerate(TEAM_TREE, start=1):
                if self._team_depth(key) != depth:
                    continue
                team = Team(
                    external_id=f"TEAM-{index:03d}",
                    name=name,
                    parent=self.teams.get(parent) if parent else None,
                    region=region,
                    segment=segment,
                    source_updated_at=self.ago(days_min=30, days_max=400),
                )
                self.teams[key] = team
                level.append(team)
            Team.objects.bulk_create(level)

        self.reps: dict[str, Rep] = {}
        self.rep_plan = {plan.key: plan for plan in REP_PLAN}
        for depth in range(4):
            level = []
            for index, plan in enumerate(REP_PLAN, start=1):
                if self._rep_depth(plan.key) != depth:
                    continue
                level.append(self._rep(index, plan))
            self.save(Rep, level, "reps")

        for plan in REP_PLAN:
            for team_key in plan.manages:
                self.teams[team_key].manager = self.reps[plan.key]
        teams = list(self.teams.values())
        Team.objects.bulk_update(teams, ["manager"])
        Team.history.bulk_history_create(teams, default_user=self.actor, default_change_reason=REASON)
        self.counts["teams"] = len(teams)
        self.detail("reps:out of office now", sum(1 for d in OUT_OF_OFFICE.values() if d > 0))
        self.detail("reps:inactive", len(INACTIVE))

        # Who may own what: segment pools per region (Enterprise includes the director).
        self.pools: dict[tuple[str, str], list[Rep]] = {}
        for plan in REP_PLAN:
            team = TEAM_TREE_BY_KEY[plan.team]
            if team[4] and not plan.manages:
                self.pools.setdefault((team[3], team[4]), []).append(self.reps[plan.key])
            elif plan.key.endswith("-dir") and plan.region:
                self.pools.setdefault((plan.region, "ENT"), []).append(self.reps[plan.key])
        self.strategic = [self.reps["na-ent-1"], *[self.reps[f"{r}-dir"] for r in ("na", "emea", "apac")]]

    def _team_depth(self, key: str) -> int:
        parent = TEAM_TREE_BY_KEY[key][2]
        return 0 if parent is None else 1 + self._team_depth(parent)

    def _rep_depth(self, key: str) -> int:
        manager = self.rep_plan[key].manager
        return 0 if manager is None else 1 + self._rep_depth(manager)

    def _rep(self, index: int, plan: RepPlan) -> Rep:
        region = plan.region or "NA"
        country = self.country_in(region)
        first, last = self.person(country)
        while f"{first} {last}" in self._used_rep_names:
            first, last = self.person(country)
        self._used_rep_names.add(f"{first} {last}")
        local = f"{ascii_slug(first)}.{ascii_slug(last)}"
        email = f"{local}@{SELLER_DOMAIN}"
        n = 2
        while email in self._used_emails:
            email, n = f"{local}{n}@{SELLER_DOMAIN}", n + 1
        self._used_emails.add(email)
        ooo = OUT_OF_OFFICE.get(plan.key)
        rep = Rep(
            external_id=f"REP-{index:04d}",
            name=f"{first} {last}",
            email=email,
            title=plan.title,
            manager=self.reps[plan.manager] if plan.manager else None,
            team=self.teams[plan.team],
            region=plan.region,
            segments=list(plan.segments),
            is_active=plan.key not in INACTIVE,
            out_of_office_until=(
                (self.now + dt.timedelta(days=ooo)).replace(hour=18, minute=0, second=0, microsecond=0) if ooo else None
            ),
            time_zone=self.rng.choice(TIME_ZONES[country.code]),
            source_updated_at=self.ago(days_min=1, days_max=200),
        )
        self.reps[plan.key] = rep
        return rep

    def owner_for(self, region: str, segment: str) -> Rep | None:
        pool = self.pools.get((region, segment)) or self.pools.get((region, "MM")) or []
        return self.rng.choice(pool) if pool else None

    # accounts ------------------------------------------------------------------------------

    def brand(self, industry: str) -> tuple[str, str]:
        """A new company brand and its domain slug, never used before in this org."""
        for _ in range(200):
            style = self.rng.random()
            word = self.rng.choice(INDUSTRIES[industry])
            if style < 0.45:
                stem = self.rng.choice(BRAND_PREFIX) + self.rng.choice(BRAND_CORE)
                brand = f"{stem} {word}"
                slug = ascii_slug(stem) + (ascii_slug(word) if self.chance(0.5) else "")
            elif style < 0.7:
                stem = self.rng.choice(BRAND_PREFIX)
                brand = f"{stem} {word}"
                slug = ascii_slug(brand)
            elif style < 0.85:
                last = self.fake["en_US"].last_name()
                brand = f"{last} {word}"
                slug = ascii_slug(brand)
            else:
                stem = self.rng.choice(BRAND_PREFIX) + self.rng.choice(BRAND_CORE)
                brand, slug = stem, ascii_slug(stem)
            if slug not in self._used_slugs and brand.lower() not in self._used_slugs:
                self._used_slugs.update({slug, brand.lower()})
                return brand, slug
        raise RuntimeError("ran out of demo company names")

    def domain(self, slug: str, country: Country, industry: str) -> str:
        if country.code == "US" or self.chance(0.35):
            tld = "io" if industry == "Software" and self.chance(0.25) else "com"
        else:
            tld = country.tld
        return f"{slug}.{tld}"

    def build_accounts(self) -> None:
        self.accounts: list[AccountInfo] = []
        for index in range(1, 191):
            region = self.pick(REGION_WEIGHTS)
            country = self.country_in(region)
            industry = self.rng.choice(list(INDUSTRIES))
            segment = self.pick([("SMB", 45), ("MM", 35), ("ENT", 20)])
            low, high = SEGMENTS[segment]
            employees = int(math.exp(self.rng.uniform(math.log(low), math.log(high))))
            brand, slug = self.brand(industry)
            domain = self.domain(slug, country, industry)
            name = f"{brand} {self.rng.choice(country.suffixes)}" if self.chance(0.35) else brand
            status = self.pick([("prospect", 55), ("customer", 33), ("former_customer", 8), ("partner", 4)])
            missing_country = self.chance(0.03)
            account = Account(
                external_id=f"ACC-{index:06d}",
                name=name,
                domain=domain,
                website=f"https://www.{domain}" if self.chance(0.85) else "",
                industry="" if self.chance(0.04) else industry,
                employees=None if self.chance(0.04) else employees,
                annual_revenue=Decimal(round(employees * self.rng.uniform(60_000, 350_000), -3)),
                country="" if missing_country else country.code,
                state="" if missing_country else self.state(country),
                owner=None if self.chance(0.04) else self.owner_for(region, segment),
                customer_status=status,
                attributes=self.account_attributes(status, segment),
                source_updated_at=self.ago(days_min=0, days_max=200),
            )
            if account.employees is None:
                account.annual_revenue = None
            self.accounts.append(AccountInfo(account, brand, slug, region, segment))

        # Named/strategic: the 15 largest companies, owned by strategic reps of their region.
        by_size = sorted(self.accounts, key=lambda a: -(a.obj.employees or 0))
        named = by_size[:15]
        for info in named:
            info.obj.is_named = True
            strategic = [rep for rep in self.strategic if rep.region == info.region] or self.strategic
            info.obj.owner = self.rng.choice(strategic)
            if info.obj.customer_status == "prospect" and self.chance(0.6):
                info.obj.customer_status = "customer"
                info.obj.attributes = self.account_attributes("customer", info.segment)
        self.save(Account, [a.obj for a in self.accounts], "accounts")

        # Subsidiaries of ten large accounts, in another country (often another region).
        subsidiaries = []
        for offset, parent in enumerate(by_size[:20:2], start=191):
            region = self.rng.choice([r for r, _ in REGION_WEIGHTS if r != parent.region])
            country = self.country_in(region)
            slug = f"{parent.slug}-{country.code.lower()}" if country.code == "US" else parent.slug
            domain = f"{slug}.{country.tld}" if country.code != "US" else f"{slug}.com"
            employees = max(50, int((parent.obj.employees or 5000) * self.rng.uniform(0.02, 0.15)))
            child = Account(
                external_id=f"ACC-{offset:06d}",
                name=f"{parent.brand} {self.rng.choice(country.suffixes)}",
                domain=domain,
                website=f"https://www.{domain}",
                industry=parent.obj.industry,
                employees=employees,
                annual_revenue=Decimal(round(employees * self.rng.uniform(80_000, 250_000), -3)),
                country=country.code,
                state=self.state(country),
                parent=parent.obj,
                owner=parent.obj.owner if self.chance(0.6) else self.owner_for(region, "MM"),
                is_named=parent.obj.is_named and self.chance(0.5),
                customer_status=parent.obj.customer_status,
                source_updated_at=self.ago(days_min=0, days_max=200),
            )
            segment = "SMB" if employees < 200 else "MM" if employees < 2000 else "ENT"
            child.attributes = self.account_attributes(child.customer_status, segment)
            subsidiaries.append(AccountInfo(child, parent.brand, slug, region, segment))
        self.save(Account, [a.obj for a in subsidiaries], "accounts")
        self.accounts += subsidiaries
        statuses = Counter(a.obj.customer_status for a in self.accounts)
        self.detail("accounts:named", sum(1 for a in self.accounts if a.obj.is_named))
        self.detail("accounts:subsidiaries", len(subsidiaries))
        self.detail("accounts:customers", statuses["customer"])
        self.detail("accounts:unowned", sum(1 for a in self.accounts if a.obj.owner is None))

    def account_attributes(self, status: str, segment: str) -> dict:
        if status == "customer":
            attributes = {
                "arr": int(self._amount(segment)),
                "renewal_date": (self.today + dt.timedelta(days=self.rng.randint(5, 365))).isoformat(),
            }
            if self.chance(0.85):  # some customers have no product telemetry yet
                attributes["health_score"] = self.rng.randint(15, 98)
            return attributes
        if status == "former_customer":
            return {"renewal_date": (self.today - dt.timedelta(days=self.rng.randint(30, 500))).isoformat()}
        return {}

    # leads ---------------------------------------------------------------------------------

    def email_local(self, first: str, last: str) -> str:
        f, la = ascii_slug(first) or "info", ascii_slug(last) or "contact"
        return self.pick([(f"{f}.{la}", 50), (f"{f[0]}{la}", 20), (f, 10), (f"{f}_{la}", 10), (f"{f}{la[0]}", 10)])

    def company_variant(self, info: AccountInfo, country: Country) -> str:
        """How a lead types an existing account's name: as is, with or without a legal suffix, lower-case."""
        return self.pick(
            [
                (info.brand, 40),
                (info.obj.name, 25),
                (f"{info.brand}, {self.rng.choice(country.suffixes)}", 15),
                (info.brand.lower(), 8),
                (info.brand.split()[0], 12),
            ]
        )

    def build_leads(self) -> None:
        leads: list[Lead] = []
        self.lead_meta: list[tuple[Lead, dt.datetime, AccountInfo | None]] = []
        kinds = Counter()
        for index in range(1, 971):
            kind = self.pick([("account", 33), ("subdomain", 4), ("free_mail", 21), ("new_company", 42)])
            kinds[kind] += 1
            info = self.rng.choice(self.accounts) if kind in ("account", "subdomain") else None
            if info is not None and info.obj.country and self.chance(0.85):
                country = COUNTRY[info.obj.country]
            else:
                country = self.country_in(info.region) if info else self.any_country()
            first, last = self.person(country)
            local = self.email_local(first, last)
            if kind == "account":
                domain = info.obj.domain
                email, company = f"{local}@{domain}", self.company_variant(info, country)
                lead_domain = "" if self.chance(0.1) else domain
            elif kind == "subdomain":
                sub = self.rng.choice(["eu", "us", "uk", "mail", "corp", "emea", "apac"])
                lead_domain = f"{sub}.{info.obj.domain}"
                email, company = f"{local}@{lead_domain}", self.company_variant(info, country)
            elif kind == "free_mail":
                provider = self.rng.choice(FREE_MAIL + list(country.free_mail))
                email, lead_domain = f"{ascii_slug(first)}{ascii_slug(last)}{self.rng.randint(1, 99)}@{provider}", ""
                roll = self.rng.random()
                if roll < 0.4:  # names an existing account, but only by name
                    company = self.company_variant(self.rng.choice(self.accounts), country)
                elif roll < 0.75:
                    brand, _slug = self.brand(self.rng.choice(list(INDUSTRIES)))
                    company = f"{brand} {self.rng.choice(country.suffixes)}"
                else:
                    company = ""
            else:
                industry = self.rng.choice(list(INDUSTRIES))
                brand, slug = self.brand(industry)
                lead_domain = self.domain(slug, country, industry)
                email = f"{local}@{lead_domain}"
                company = f"{brand} {self.rng.choice(country.suffixes)}" if self.chance(0.45) else brand
            while email in self._used_emails:
                email = email.replace("@", f"{self.rng.randint(2, 9)}@", 1)
            self._used_emails.add(email)
            leads.append(self._lead(index, first, last, email, company, lead_domain, country, info, kind))

        # A few duplicates of earlier leads: same person, differently cased or personal email.
        for index in range(971, 1001):
            original = self.rng.choice(leads[:900])
            if self.chance(0.5):
                email = original.email.title()
            else:
                email = f"{ascii_slug(original.first_name)}.{ascii_slug(original.last_name)}@gmail.com"
            duplicate = Lead(
                external_id=f"LEAD-{index:06d}",
                email=email,
                first_name=original.first_name,
                last_name=original.last_name,
                company=original.company,
                domain=original.domain,
                title=original.title,
                country=original.country,
                state=original.state,
                source=self.pick(LEAD_SOURCES),
                score=original.score,
                status="new",
                source_updated_at=self.ago(days_min=0.01, days_max=5),
            )
            leads.append(duplicate)
            self.lead_meta.append((duplicate, duplicate.source_updated_at, None))
        self.leads = self.save(Lead, leads, "leads")
        statuses = Counter(lead.status for lead in leads)
        self.detail("leads:new", statuses["new"])
        self.detail("leads:unassigned", sum(1 for lead in leads if lead.owner is None))
        self.detail("leads:free-mail", kinds["free_mail"])
        self.detail("leads:account-domain", kinds["account"] + kinds["subdomain"])
        self.detail("leads:duplicates", 30)

    def _lead(self, index, first, last, email, company, domain, country, info, kind) -> Lead:
        status = self.pick(LEAD_STATUSES)
        if status == "new":
            first_seen = self.ago(days_min=0.01, days_max=4)
        else:
            first_seen = self.ago(days_min=3, days_max=150)
        segment = info.segment if info else self.pick([("SMB", 55), ("MM", 30), ("ENT", 15)])
        region = info.region if info else country.region
        owner = None
        if status != "new" or self.chance(0.45):
            owner = info.obj.owner if info and info.obj.is_named else self.owner_for(region, segment)
        matched = info.obj if info and kind != "free_mail" and status != "new" and self.chance(0.7) else None
        if status in ("qualified", "converted"):
            score = self.rng.randint(55, 100)
        elif status == "unqualified":
            score = self.rng.randint(0, 45)
        else:
            score = self.rng.randint(5, 95)
        source = self.pick(LEAD_SOURCES)
        attributes = {}
        if source in ("web_form", "paid_search", "webinar", "content_download"):
            attributes["utm_campaign"] = self.rng.choice(CAMPAIGNS)
        if self.chance(0.4):
            attributes["product_interest"] = self.rng.sample(PRODUCTS[:3], self.rng.randint(1, 2))
        missing_country = self.chance(0.04)
        lead = Lead(
            external_id=f"LEAD-{index:06d}",
            email=email,
            first_name=first,
            last_name=last,
            company=company,
            domain=domain,
            title=self.pick(LEAD_TITLES),
            country="" if missing_country else country.code,
            state="" if missing_country else self.state(country),
            source=source,
            score=None if self.chance(0.05) else score,
            status=status,
            owner=owner,
            matched_account=matched,
            attributes=attributes,
            source_updated_at=first_seen + dt.timedelta(minutes=self.rng.randint(1, 600)),
        )
        if lead.source_updated_at > self.now:
            lead.source_updated_at = self.now
        self.lead_meta.append((lead, first_seen, info))
        return lead

    # opportunities -------------------------------------------------------------------------

    def build_opportunities(self) -> None:
        planned: list[tuple[AccountInfo, str, str]] = []  # account, kind, stage
        for info in self.accounts:
            status = info.obj.customer_status
            if status in ("customer", "former_customer"):
                planned.append((info, "New business", "closed_won"))
            if status == "customer":
                if self.chance(0.25):
                    planned.append((info, "Expansion", "closed_won_recent"))
                if self.chance(0.45):
                    kind = self.rng.choice(["Expansion", f"Renewal {self.today.year + 1}", "Analytics add-on"])
                    planned.append((info, kind, self.pick(OPEN_STAGES)))
            if status == "former_customer" and self.chance(0.7):
                planned.append((info, f"Renewal {self.today.year}", "closed_lost"))
        prospects = [a for a in self.accounts if a.obj.customer_status in ("prospect", "partner")]
        while len(planned) < 500:
            info = self.rng.choice(prospects)
            kind = self.pick([("New business", 70), ("Pilot", 15), ("Platform rollout", 15)])
            stage = self.pick([*OPEN_STAGES, ("closed_won", 10), ("closed_lost", 22)])
            planned.append((info, kind, stage))
        planned = planned[:500]

        opps = []
        self.opp_meta: list[tuple[Opportunity, bool, list]] = []  # opportunity, stale, touches
        for index, (info, kind, stage) in enumerate(planned, start=1):
            opps.append(self._opportunity(index, info, kind, stage))
        self.opportunities = self.save(Opportunity, opps, "opportunities")
        stages = Counter(o.stage for o in opps)
        open_opps = [o for o in opps if o.stage in Opportunity.OPEN_STAGES]
        self.detail("opportunities:open", len(open_opps))
        self.detail("opportunities:won", stages["closed_won"])
        self.detail("opportunities:lost", stages["closed_lost"])
        self.detail("opportunities:open past close date", sum(1 for o in open_opps if o.close_date < self.today))
        self.detail(
            "opportunities:won missing handoff fields",
            sum(1 for o in opps if o.stage == "closed_won" and any(k not in o.attributes for k in HANDOFF_FIELDS)),
        )

    def _amount(self, segment: str) -> Decimal:
        low, high = {"SMB": (6_000, 40_000), "MM": (30_000, 180_000), "ENT": (120_000, 1_500_000)}[segment]
        return Decimal(round(math.exp(self.rng.uniform(math.log(low), math.log(high))) / 500) * 500)

    def _opportunity(self, index: int, info: AccountInfo, kind: str, stage: str) -> Opportunity:
        recent = stage == "closed_won_recent"
        stage = "closed_won" if recent else stage
        is_open = stage in Opportunity.OPEN_STAGES
        if recent:
            close_date = self.today - dt.timedelta(days=self.rng.randint(1, 45))
        elif stage == "closed_won" and kind == "New business" and info.obj.customer_status != "prospect":
            close_date = self.today - dt.timedelta(days=self.rng.randint(60, 720))
        elif not is_open:
            close_date = self.today - dt.timedelta(days=self.rng.randint(3, 400))
        elif self.chance(0.15):
            close_date = self.today - dt.timedelta(days=self.rng.randint(1, 75))  # open but already past
        else:
            close_date = self.today + dt.timedelta(days=self.rng.randint(5, 200))
        if is_open:
            pushes = self.pick([(0, 55), (1, 22), (2, 12), (3, 7), (4, 3), (6, 1)])
        else:
            pushes = self.pick([(0, 70), (1, 20), (2, 10)])
        forecast = {
            "prospecting": "pipeline",
            "discovery": "pipeline",
            "solution": self.pick([("pipeline", 70), ("best_case", 30)]),
            "proposal": self.pick([("best_case", 60), ("commit", 40)]),
            "negotiation": self.pick([("commit", 80), ("best_case", 20)]),
            "closed_won": "closed",
            "closed_lost": "omitted",
        }[stage]
        if is_open and self.chance(0.02):
            forecast = "commit"  # optimistic rep: hygiene monitors flag commit at early stages
        owner = info.obj.owner
        if owner is None or self.chance(0.15):
            owner = self.owner_for(info.region, info.segment)
        next_step, next_step_date = "", None
        if is_open and self.chance(0.85):
            next_step = self.rng.choice(NEXT_STEPS)
            next_step_date = self.today + dt.timedelta(days=self.rng.randint(-20, 30))
        amount = self._amount(info.segment)
        if is_open and self.chance(0.03):
            amount = None
        attributes = {}
        if stage == "closed_won":
            attributes = self.handoff_attributes(info, close_date)
        elif stage in ("proposal", "negotiation") and self.chance(0.3):
            attributes = {
                "contract_start_date": (close_date + dt.timedelta(days=14)).isoformat(),
                "products_purchased": ["platform", *self.rng.sample(PRODUCTS[1:], self.rng.randint(0, 2))],
            }
        opportunity = Opportunity(
            external_id=f"OPP-{index:06d}",
            account=info.obj,
            name=f"{info.brand} - {kind}",
            owner=owner,
            stage=stage,
            forecast_category=forecast,
            amount=amount,
            close_date=close_date,
            next_step=next_step,
            next_step_date=next_step_date,
            close_date_pushes=pushes,
            attributes=attributes,
            source_updated_at=self.ago(days_min=0, days_max=30) if is_open else self.ago(days_min=1, days_max=60),
        )
        # Touches logged on the deal, created as activities once the deal has its id.
        stale = is_open and self.chance(0.2)
        touches = []
        for _ in range(self.rng.randint(1, 4) if is_open else self.rng.randint(1, 3)):
            if not is_open:
                noon = dt.datetime.combine(close_date, dt.time(12), tzinfo=dt.UTC)
                occurred = noon - dt.timedelta(days=self.rng.uniform(0, 90))
            elif stale:  # no touch for over a month: hygiene monitors flag these
                occurred = self.ago(days_min=35, days_max=120)
            else:
                occurred = self.ago(days_min=0.05, days_max=30)
            rep = owner if self.chance(0.9) else self.owner_for(info.region, info.segment)
            touches.append((min(occurred, self.now), rep))
        opportunity.last_activity_at = max(occurred for occurred, _rep in touches)
        self.opp_meta.append((opportunity, stale, touches))
        return opportunity

    def handoff_attributes(self, info: AccountInfo, close_date: dt.date) -> dict:
        country = COUNTRY.get(info.obj.country) or COUNTRY["US"]
        first, last = self.person(country)
        attributes = {
            "contract_start_date": (close_date + dt.timedelta(days=self.rng.randint(0, 30))).isoformat(),
            "products_purchased": ["platform", *self.rng.sample(PRODUCTS[1:], self.rng.randint(0, 2))],
            "use_case": self.rng.choice(USE_CASES),
            "success_criteria": self.rng.choice(SUCCESS_CRITERIA),
            "implementation_notes": self.rng.choice(IMPLEMENTATION_NOTES),
            "billing_contact": self.rng.choice(["ap", "billing", "finance", "accounts.payable"])
            + f"@{info.obj.domain}",
            "executive_sponsor": f"{first} {last} ({self.rng.choice(['CFO', 'COO', 'CRO', 'VP Sales', 'CIO'])})",
            "sales_risks_promises": self.rng.choice(RISKS),
        }
        if self.chance(0.3):  # deliberately incomplete: the handoff checklist must catch these
            for key in self.rng.sample(HANDOFF_FIELDS, self.rng.randint(1, 2)):
                del attributes[key]
        return attributes

    # activities ----------------------------------------------------------------------------

    def build_activities(self) -> None:
        activities: list[Activity] = []

        def add(occurred_at, rep, *, lead=None, opportunity=None, account=None):
            kind = self.pick(ACTIVITY_KINDS)
            activities.append(
                Activity(
                    external_id=f"ACT-{len(activities) + 1:07d}",
                    kind=kind,
                    subject=self.rng.choice(SUBJECTS[kind]),
                    occurred_at=occurred_at,
                    rep=rep,
                    lead=lead,
                    opportunity=opportunity,
                    account=account,
                    source_updated_at=occurred_at,
                )
            )

        per_status = {"new": (0, 0), "working": (1, 2), "nurture": (0, 1), "qualified": (1, 3), "unqualified": (0, 2)}
        for lead, first_seen, _info in self.lead_meta:
            low, high = per_status.get(lead.status, (1, 2))
            count = self.rng.randint(low, high)
            if lead.status == "new" and lead.owner_id and self.chance(0.3):
                count = 1  # already touched: its response SLA was met
            span = max((self.now - first_seen).total_seconds(), 600)
            for _ in range(count):
                occurred = first_seen + dt.timedelta(seconds=self.rng.uniform(300, span))
                add(min(occurred, self.now), lead.owner, lead=lead, account=lead.matched_account)

        for opportunity, _stale, touches in self.opp_meta:
            for occurred, rep in touches:
                add(occurred, rep, opportunity=opportunity, account=opportunity.account)
        self.save(Activity, activities, "activities")

    # tasks ---------------------------------------------------------------------------------

    def build_tasks(self) -> None:
        tasks = []
        for opportunity, stale, _touches in self.opp_meta:
            if opportunity.stage not in Opportunity.OPEN_STAGES or not self.chance(0.3):
                continue
            status = self.pick([("open", 70), ("done", 25), ("cancelled", 5)])
            due = self.now + dt.timedelta(days=self.rng.randint(-10 if stale else -3, 21))
            tasks.append(
                Task(
                    external_id=f"TSK-{len(tasks) + 1:06d}",
                    title=f"{opportunity.next_step or 'Follow up'}: {opportunity.name}",
                    owner=opportunity.owner,
                    due_at=due.replace(minute=0, second=0, microsecond=0),
                    status=status,
                    opportunity=opportunity,
                    account=opportunity.account,
                )
            )
        for lead, _first_seen, _info in self.lead_meta:
            if lead.status != "working" or not self.chance(0.15):
                continue
            tasks.append(
                Task(
                    external_id=f"TSK-{len(tasks) + 1:06d}",
                    title=f"Call back {lead.first_name} {lead.last_name}".strip(),
                    owner=lead.owner,
                    due_at=(self.now + dt.timedelta(days=self.rng.randint(-2, 5))).replace(
                        minute=0, second=0, microsecond=0
                    ),
                    status="open",
                    lead=lead,
                )
            )
        self.save(Task, tasks, "tasks")
        self.detail(
            "tasks:overdue",
            sum(1 for t in tasks if t.status == "open" and t.due_at < self.now),
        )
