"""The records the demo org works: ~1,000 leads, ~500 opportunities, ~2,000 activities and some tasks.

Leads: corporate emails that match an account domain, free-mail addresses, legal-suffix company
names, a few duplicates; the new ones arrived over the last four days, about half of them without
an owner yet (routing assigns those as they arrive). Opportunities: some open past their close
date, pushed close dates, stale deals without activity for a month, closed-won deals with handoff
attributes (some deliberately incomplete). Every record has a stable external id
(``LEAD-000123``), drawn from the same seed as the org.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from revops.models import Activity, Lead, Opportunity, Task

from .contacts import ContactsMixin
from .org import AccountInfo, OrgBuilder, ascii_slug
from .tables import (
    ACTIVITY_KINDS,
    CAMPAIGNS,
    COUNTRY,
    FREE_MAIL,
    HANDOFF_FIELDS,
    IMPLEMENTATION_NOTES,
    INDUSTRIES,
    LEAD_SOURCES,
    LEAD_STATUSES,
    LEAD_TITLES,
    NEXT_STEPS,
    OPEN_STAGES,
    PRODUCTS,
    RISKS,
    SUBJECTS,
    SUCCESS_CRITERIA,
    USE_CASES,
    Country,
)


class RecordsBuilder(ContactsMixin, OrgBuilder):
    """The whole demo org: ``build()`` adds the custom fields, the org, then its leads, deals, activities, tasks
    and contacts."""

    def build(self) -> None:
        """Create every demo record (call once, on a database without demo records)."""
        self.add_custom_fields()
        self.build_teams_and_reps()
        self.build_accounts()
        self.build_leads()
        self.build_opportunities()
        self.build_activities()
        self.build_tasks()
        self.build_contacts()

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
        """970 leads of four kinds (account domain, subdomain, free mail, new company) and 30 duplicates."""
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
        """500 deals: customers' won business, renewals and expansions, and prospects' open or closed deals."""
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
        if is_open and forecast in ("best_case", "commit") and self.evidence_rng.random() < 0.75:
            first = self.evidence_rng.choice(["Alex", "Sam", "Jordan", "Priya", "Kenji", "Maria", "Lena", "Omar"])
            last = self.evidence_rng.choice(["Keller", "Ortiz", "Nakamura", "Okafor", "Lindqvist", "Patel"])
            attributes = {**attributes, "executive_sponsor": f"{first} {last}"}  # the forecast's evidence
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
        """What a won deal hands to onboarding and finance; three in ten lack one or two handoff fields."""
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
        """Calls, emails and meetings on the leads (by status) and on the deals (their touches)."""
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
        """Open, done and cancelled CRM tasks on some deals and on some leads being worked."""
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
