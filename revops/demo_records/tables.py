"""Reference tables of the demo org: countries, names, industries, stages, the team tree and the rep plan.

Data only; ``revops.demo_records.org`` and ``revops.demo_records.records`` draw from these with a
seeded random generator, so the same seed gives the same org.
"""

from __future__ import annotations

from dataclasses import dataclass

from revops.models import Account, Activity, Contact, Lead, Opportunity, Rep, Task, Team

DEMO_USER = "demo-loader"
REASON = "demo data"
DEFAULT_SEED = 42
# Every demo record's external id starts with its prefix; a database holding any is "loaded".
ID_PREFIXES = {
    Team: "TEAM-",
    Rep: "REP-",
    Account: "ACC-",
    Lead: "LEAD-",
    Contact: "CON-",
    Opportunity: "OPP-",
    Activity: "ACT-",
    Task: "TSK-",
}
# The RevOps people of the demo: the lead agrees the rules and manages the RevOps queue, the
# on-call hears about failures and is the queues' last escalation step.
REVOPS_LEAD = ("revops.lead", "Riley", "Ops", "revops.lead@example.com")
REVOPS_ONCALL = ("revops.oncall", "Sam", "Oncall", "revops.oncall@example.com")

# --- Reference data --------------------------------------------------------------------------


@dataclass(frozen=True)
class Country:
    """A country the demo sells in: region, how often it occurs, web suffix, legal suffixes, states, locale."""

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
REGION_COUNTRIES = {r: [c.code for c in COUNTRIES if c.region == r] for r in ("NA", "EMEA", "APAC")}
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
        "object_type": "account",
        "key": "usage_trend",
        "label": "Usage trend",
        "field_type": "choice",
        "definition": "How product usage moved over the last 90 days.",
        "allowed_values": ["growing", "flat", "declining"],
        "source_of_truth": "product_usage",
        "owning_team": "Customer Success",
    },
    {
        "object_type": "account",
        "key": "weekly_active_users",
        "label": "Weekly active users",
        "field_type": "integer",
        "definition": "People who used the product in the last 7 days, synced weekly (the renewal monitors' usage).",
        "source_of_truth": "product_usage",
        "owning_team": "Customer Success",
    },
    {
        "object_type": "account",
        "key": "executive_sponsor",
        "label": "Executive sponsor",
        "field_type": "text",
        "definition": "The customer's executive who owns the outcome of the subscription.",
        "is_pii": True,
        "source_of_truth": "crm",
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
# The closed-won fields onboarding and finance need first. Some won deals of the demo lack one or
# two of them on purpose; the dictionary requires them once a deal is won, so the CRM's attempt to
# close a deal without them is rejected by the sync.
HANDOFF_FIELDS = ["contract_start_date", "products_purchased", "billing_contact", "executive_sponsor"]

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
    """One seat of the sales org: its key, team, title, region, segments, manager and the teams it manages."""

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
