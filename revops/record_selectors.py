"""Read selectors for the CRM record mirror: every read applies the object's FilterSet.

Each object's queryset joins the records it references (``select_related``), so listing a page
costs the same number of queries however many rows it holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import django_filters
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from revops import filtersets
from revops.access import record_visibility_q
from revops.conditions.orm import json_array_has_q
from revops.models import Account, Activity, Contact, Lead, Opportunity, Rep, Task, Team
from revops.plugins import record_detail


@dataclass(frozen=True)
class RecordType:
    model: type[models.Model]
    filterset: type[django_filters.FilterSet]
    related: tuple[str, ...]
    lookup: str = "external_id"


RECORD_TYPES: dict[str, RecordType] = {
    "teams": RecordType(Team, filtersets.TeamFilterSet, ("manager", "parent")),
    "reps": RecordType(Rep, filtersets.RepFilterSet, ("manager", "team")),
    "accounts": RecordType(Account, filtersets.AccountFilterSet, ("owner", "parent")),
    "leads": RecordType(Lead, filtersets.LeadFilterSet, ("owner", "matched_account")),
    "contacts": RecordType(
        Contact, filtersets.ContactFilterSet, ("account", "account__owner", "owner", "converted_from_lead")
    ),
    "opportunities": RecordType(Opportunity, filtersets.OpportunityFilterSet, ("owner", "account")),
    "activities": RecordType(Activity, filtersets.ActivityFilterSet, ("rep", "lead", "opportunity", "account")),
    # Tasks an automation created have no CRM id yet, so tasks are looked up by the portal's id.
    "tasks": RecordType(Task, filtersets.TaskFilterSet, ("owner", "lead", "account", "opportunity"), lookup="pk"),
}


_EVERYONE = object()


def _base_queryset(object_type: str, user=_EVERYONE) -> models.QuerySet:
    """Every ``object_type`` record, or only those ``user`` may read (``revops.access``) when one is given."""
    spec = RECORD_TYPES[object_type]
    queryset = spec.model._default_manager.select_related(*spec.related)
    if user is not _EVERYONE:
        condition = record_visibility_q(user=user, object_type=object_type)
        if condition is not None:
            queryset = queryset.filter(condition)
    return queryset


def record_list(*, object_type: str, user=_EVERYONE, filters: Mapping | None = None) -> models.QuerySet:
    """The ``object_type`` records (``"leads"``, ``"accounts"``…) matching ``filters`` (query parameters).

    With ``user``, only the records that user may read (a rep's own, a manager's teams'); without,
    every record (for internal callers). Raises ``ValidationError`` with per-parameter messages when
    a filter value is malformed.
    """
    spec = RECORD_TYPES[object_type]
    if filters:
        # PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database.
        bad = sorted(
            {key for key in filters for value in _values(filters, key) if "\x00" in str(value) or "\x00" in key}
        )
        if bad:
            raise ValidationError({key.replace("\x00", ""): "Null characters are not allowed." for key in bad})
    filterset = spec.filterset(data=filters or {}, queryset=_base_queryset(object_type, user))
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return filterset.qs


def record_get(*, object_type: str, key: str | int, user=_EVERYONE) -> models.Model:
    """One record by external id (by portal id for tasks); raises the model's ``DoesNotExist``, also
    when ``user`` is given and may not read it."""
    spec = RECORD_TYPES[object_type]
    if "\x00" in str(key):
        raise spec.model.DoesNotExist
    if spec.lookup == "pk":
        try:
            key = int(key)
        except (TypeError, ValueError):
            raise spec.model.DoesNotExist from None
    return _base_queryset(object_type, user).get(**{spec.lookup: key})


def _values(filters: Mapping, key: str) -> list:
    return filters.getlist(key) if hasattr(filters, "getlist") else [filters[key]]


def lead_latest_decision(*, lead: Lead) -> dict | None:
    """The lead's latest routing decision (live preferred over shadow) with its explanation, or None.

    Routing provides it (``revops.plugins.register_record_detail``); without routing it is None.
    """
    return record_detail("lead", "latest_decision", lead)


# Roles in the order people look for them: who signs, who decides, who sells inside, who pays.
ROLE_ORDER = (
    Contact.Role.EXECUTIVE_SPONSOR,
    Contact.Role.DECISION_MAKER,
    Contact.Role.CHAMPION,
    Contact.Role.BILLING_CONTACT,
)


def account_key_contacts(*, account_id: int) -> list[Contact]:
    """The account's active contacts that hold a role on it (champion, executive sponsor…), the most
    senior role first, then by name. One query."""
    has_role = Q()
    for role in ROLE_ORDER:
        has_role |= json_array_has_q("roles", role)
    contacts = list(
        Contact.objects.filter(has_role, account_id=account_id, is_active=True)
        .select_related("owner")
        .order_by("last_name", "first_name", "pk")
    )
    rank = {role: index for index, role in enumerate(ROLE_ORDER)}

    def first_role(contact: Contact) -> int:
        return min((rank.get(role, len(rank)) for role in contact.roles or []), default=len(rank))

    return sorted(contacts, key=first_role)


def account_contact_count(*, account_id: int) -> int:
    """How many active contacts the account has, with a role or not."""
    return Contact.objects.filter(account_id=account_id, is_active=True).count()
