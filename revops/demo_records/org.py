"""The demo's organisation: custom dictionary fields, the team tree, reps and accounts.

``OrgBuilder`` draws everything from one seed (``random.Random`` plus a seeded Faker), so the same
seed gives the same org; ``revops.demo_records.records`` extends it with the records the org works
(leads, opportunities, activities, tasks). Rows are bulk-created with their history rows, attributed
to the demo loader with the reason "demo data".
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from revops import services
from revops.models import Account, FieldDefinition, Rep, Team

from .tables import (
    BRAND_CORE,
    BRAND_PREFIX,
    COUNTRIES,
    DEMO_CUSTOM_FIELDS,
    INACTIVE,
    INDUSTRIES,
    OUT_OF_OFFICE,
    REASON,
    REGION_WEIGHTS,
    REP_PLAN,
    SEGMENTS,
    SELLER_DOMAIN,
    TEAM_TREE,
    TEAM_TREE_BY_KEY,
    TIME_ZONES,
    Country,
    RepPlan,
)


def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters and digits only ("Müller & Söhne" → "mullersohne")."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


@dataclass
class AccountInfo:
    """An account being built, with what generating its leads and deals needs: brand, slug, region, segment."""

    obj: Account
    brand: str
    slug: str
    region: str
    segment: str


class OrgBuilder:
    """Generates the demo org from one seed. Randomness comes only from ``self.rng``, ``self.fake``,
    ``self.renewal_rng`` (the renewal context on customer accounts) and ``self.evidence_rng`` (the
    executive sponsor most best-case and commit deals name)."""

    def __init__(self, *, seed: int, actor, now: dt.datetime):
        self.seed = seed
        self.actor = actor
        self.rng = random.Random(seed)
        # Its own stream, so the renewal context added later does not reshuffle the rest of the demo.
        self.renewal_rng = random.Random(f"{seed}-renewal-context")
        self.evidence_rng = random.Random(f"{seed}-forecast-evidence")  # sponsors on forecast deals
        from faker import Faker  # here, not at the top: it costs every web and worker process 14 MB

        locales = sorted({c.locale for c in COUNTRIES})
        self.fake = Faker(locales)
        for offset, locale in enumerate(locales):  # distinct seeds: en_US and en_CA share name lists
            self.fake[locale].seed_instance(seed * 100 + offset)
        self.now = now
        self.today = timezone.localdate(self.now)
        self.counts = dict.fromkeys(["teams", "reps", "accounts", "leads", "opportunities", "activities", "tasks"], 0)
        self.details: dict[str, int] = {}
        self.custom_fields = 0
        self._used_slugs: set[str] = set()
        self._used_emails: set[str] = set()
        self._used_rep_names: set[str] = set()

    # small helpers ---------------------------------------------------------------------

    def pick(self, weighted):
        """One value of ``[(value, weight), ...]``, drawn by weight."""
        values, weights = zip(*weighted, strict=True)
        return self.rng.choices(values, weights=weights)[0]

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return self.rng.random() < p

    def ago(self, *, days_min: float, days_max: float) -> dt.datetime:
        """A moment between ``days_max`` and ``days_min`` days before the demo's now."""
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
        """Bulk-create ``objs`` with their history rows (the demo loader, "demo data") and count them."""
        created = bulk_create_with_history(objs, model, default_user=self.actor, default_change_reason=REASON)
        self.counts[label] = self.counts.get(label, 0) + len(created)
        return created

    def detail(self, key: str, count: int) -> None:
        if count:
            self.details[key] = count

    # build -----------------------------------------------------------------------------

    def add_custom_fields(self) -> None:
        """Add the custom dictionary fields the demo records use, through the dictionary service."""
        existing = set(FieldDefinition.objects.values_list("object_type", "key"))
        for entry in DEMO_CUSTOM_FIELDS:
            if (entry["object_type"], entry["key"]) not in existing:
                services.dictionary_field_create(actor=self.actor, reason=f"{REASON}: custom field", **entry)
                self.custom_fields += 1

    # teams and reps ----------------------------------------------------------------------

    def build_teams_and_reps(self) -> None:
        """The team tree by region and segment, its reps and managers, and who may own what (``self.pools``)."""
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
        """A rep of the region's pool for ``segment`` (mid-market when the region has none), or None."""
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
        """190 companies (the 15 largest named), then subsidiaries of ten large ones in other regions."""
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
            # What a renewal handoff asks for; the CRM has it for most customers, not all.
            if self.renewal_rng.random() < 0.7:
                attributes["usage_trend"] = self.renewal_rng.choice(["growing", "growing", "flat", "declining"])
            if self.renewal_rng.random() < 0.75:
                first = self.renewal_rng.choice(["Alex", "Sam", "Jordan", "Priya", "Kenji", "Maria", "Lena", "Omar"])
                last = self.renewal_rng.choice(["Keller", "Ortiz", "Nakamura", "Okafor", "Lindqvist", "Patel"])
                attributes["executive_sponsor"] = f"{first} {last}"
            return attributes
        if status == "former_customer":
            return {"renewal_date": (self.today - dt.timedelta(days=self.rng.randint(30, 500))).isoformat()}
        return {}

    def _amount(self, segment: str) -> Decimal:
        low, high = {"SMB": (6_000, 40_000), "MM": (30_000, 180_000), "ENT": (120_000, 1_500_000)}[segment]
        return Decimal(round(math.exp(self.rng.uniform(math.log(low), math.log(high))) / 500) * 500)
