"""The demo's contacts: the people at each account and their roles on it, and the leads converted into them.

Customers have an executive sponsor (the one their CRM record names, when it does), a champion and a
billing contact; prospects with deals a champion and often a decision maker; every account a few
people without a role. Each converted lead matched to an account became a contact there, linked to
the lead. Values are stored as the sync stores them (e-mail lower-cased, phone in E.164). Contacts
draw from their own random stream and are built last, so adding them reshuffles nothing else.
"""

from __future__ import annotations

import random

import phonenumbers

from revops.models import Contact

from .org import ascii_slug
from .tables import COUNTRY

CONTACT_TITLES = [
    "VP Sales",
    "Head of Revenue Operations",
    "Sales Operations Manager",
    "Director of Operations",
    "IT Manager",
    "Marketing Manager",
    "Data Analyst",
    "Customer Success Lead",
]
SPONSOR_TITLES = ["CFO", "COO", "CRO", "CIO", "VP Sales"]
DECIDER_TITLES = ["VP Operations", "Head of Sales", "Director of IT", "CFO"]
BILLING_TITLES = ["Accounts Payable", "Finance Manager", "Procurement Lead"]


def demo_phone(rng: random.Random, country_code: str) -> str:
    """A plausible direct line in ``country_code``, in E.164 (the example number with other last digits)."""
    number = phonenumbers.example_number_for_type(country_code or "US", phonenumbers.PhoneNumberType.FIXED_LINE)
    national = str(number.national_number)
    national = national[:-4] + f"{rng.randint(0, 9999):04d}"
    return f"+{number.country_code}{national}"


class ContactsMixin:
    """``build_contacts`` for ``RecordsBuilder`` (uses its accounts, leads, deals and ``person``)."""

    def build_contacts(self) -> None:
        rng = random.Random(f"{self.seed}-contacts")
        open_deal_accounts = {o.account_id for o, _stale, _touches in self.opp_meta if o.is_open}
        contacts: list[Contact] = []
        used: set[str] = set()

        def add(info, first, last, title, roles, *, lead=None, email=None, active=True):
            domain = info.obj.domain or f"{info.slug}.example"
            if email is None:
                email = f"{ascii_slug(first) or 'contact'}.{ascii_slug(last) or 'person'}@{domain}"
                while email in used:
                    email = email.replace("@", f"{rng.randint(2, 9)}@", 1)
            used.add(email)
            contacts.append(
                Contact(
                    external_id=f"CON-{len(contacts) + 1:06d}",
                    account=info.obj,
                    first_name=first,
                    last_name=last,
                    email=email.lower(),
                    phone=demo_phone(rng, info.obj.country) if rng.random() < 0.8 else "",
                    title=title,
                    roles=roles,
                    is_active=active,
                    owner=info.obj.owner,
                    converted_from_lead=lead,
                    source_updated_at=self.ago(days_min=1, days_max=300),
                )
            )

        for info in self.accounts:
            country = COUNTRY.get(info.obj.country) or COUNTRY["US"]
            status = info.obj.customer_status
            if status == "customer":
                named = (info.obj.attributes or {}).get("executive_sponsor", "")
                first, last = named.split(" ", 1) if " " in named else self.person(country)
                add(info, first, last, rng.choice(SPONSOR_TITLES), [Contact.Role.EXECUTIVE_SPONSOR])
                champion = [Contact.Role.CHAMPION]
                if rng.random() < 0.4:
                    champion.append(Contact.Role.DECISION_MAKER)
                add(info, *self.person(country), rng.choice(CONTACT_TITLES), champion)
                add(info, *self.person(country), rng.choice(BILLING_TITLES), [Contact.Role.BILLING_CONTACT])
            elif info.obj.pk in open_deal_accounts:
                add(info, *self.person(country), rng.choice(CONTACT_TITLES), [Contact.Role.CHAMPION])
                if rng.random() < 0.6:
                    add(info, *self.person(country), rng.choice(DECIDER_TITLES), [Contact.Role.DECISION_MAKER])
            for _ in range(rng.randint(0, 2)):
                add(info, *self.person(country), rng.choice(CONTACT_TITLES), [], active=rng.random() < 0.9)

        infos = {info.obj.pk: info for info in self.accounts}
        converted = 0
        for lead, _first_seen, _info in self.lead_meta:
            info = infos.get(lead.matched_account_id)
            if lead.status != "converted" or info is None or lead.email.lower() in used:
                continue
            roles = [Contact.Role.CHAMPION] if rng.random() < 0.3 else []
            add(info, lead.first_name, lead.last_name, lead.title, roles, lead=lead, email=lead.email)
            converted += 1
        self.save(Contact, contacts, "contacts")
        self.detail("contacts:with a role", sum(1 for c in contacts if c.roles))
        self.detail("contacts:converted from a lead", converted)
