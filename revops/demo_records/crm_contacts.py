"""The CRM's morning contacts: a lead converted into a contact, and two near-duplicates of stored contacts.

Sent as a CRM sends them — e-mails in other cases, phone numbers formatted for people, one national
number without its country code — so the sync's normalisers store them the way the originals are
stored (lower-case e-mail, E.164 phone, read in the account's country), what was sent kept under
"values as sent". The near-duplicates (a typo in a first name, the same person entered twice) are
what duplicate detection is meant to find.
"""

from __future__ import annotations

import datetime as dt

import phonenumbers

from revops.models import Contact, Lead

CONVERTED_CONTACT = "CON-900001"
DUPLICATE_TYPO = "CON-900002"
DUPLICATE_CASE = "CON-900003"


def converting_lead() -> Lead | None:
    """The qualified lead the CRM converts this morning: the first (by id) matched to an account."""
    return (
        Lead.objects.filter(external_id__startswith="LEAD-", status="qualified", matched_account__isnull=False)
        .exclude(email="")
        .select_related("matched_account")
        .order_by("external_id")
        .first()
    )


def _typo(name: str) -> str:
    """``name`` with its 2nd and 3rd letters swapped ("Jonathan" → "Jnoathan"), as a hurried hand types it."""
    return name[0] + name[2] + name[1] + name[3:] if len(name) >= 4 else name + name[-1]


def _originals() -> list[Contact]:
    """Two stored contacts with a name, an e-mail and a phone, on accounts whose country is known."""
    return list(
        Contact.objects.filter(external_id__startswith="CON-0", account__isnull=False)
        .exclude(email="")
        .exclude(phone="")
        .exclude(account__country="")
        .exclude(first_name="")
        .select_related("account")
        .order_by("external_id")[:2]
    )


def contact_records(now: dt.datetime) -> list[dict]:
    stamp = now.isoformat()
    records = []
    lead = converting_lead()
    if lead is not None:
        records.append(
            {
                "external_id": CONVERTED_CONTACT,
                "source_updated_at": stamp,
                "account": lead.matched_account.external_id,
                "first_name": lead.first_name,
                "last_name": lead.last_name,
                "email": lead.email,
                "title": lead.title,
                "roles": ["champion"],
                "converted_from_lead": lead.external_id,
            }
        )
    originals = _originals()
    if len(originals) == 2:
        typo, twice = originals
        number = phonenumbers.parse(typo.phone)
        records.append(
            {  # a typo in the first name, the e-mail in capitals, the phone formatted for people
                "external_id": DUPLICATE_TYPO,
                "source_updated_at": stamp,
                "account": typo.account.external_id,
                "first_name": _typo(typo.first_name),
                "last_name": typo.last_name,
                "email": typo.email.upper(),
                "phone": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
                "title": typo.title,
            }
        )
        number = phonenumbers.parse(twice.phone)
        records.append(
            {  # the same person entered again: the e-mail capitalised, the phone as dialled in the account's country
                "external_id": DUPLICATE_CASE,
                "source_updated_at": stamp,
                "account": twice.account.external_id,
                "first_name": twice.first_name,
                "last_name": twice.last_name,
                "email": twice.email.title(),
                "phone": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
                "title": twice.title,
            }
        )
    return records
