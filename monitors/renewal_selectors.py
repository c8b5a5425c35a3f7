"""Reads of the renewal monitors: account field values, the dictionary's word on them, the owner's
segment and the portal's recorded history of account changes (``AccountChange``), for many accounts
at once.

``History`` answers "what was this field's value at that time" and "how did it change since" from the
rows the event hook recorded — never from a counter the CRM keeps — with one query per (field,
point in time) for a whole chunk of accounts, whatever the history's length.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db.models import OuterRef, Subquery

from revops.models import Account, Automation, FieldDefinition, SourceOfTruth, Team

from .models import AccountChange

KIND = "renewal_monitor"
CUSTOMER = Account.CustomerStatus.CUSTOMER
# Employee bands of the segments when the owner's team has none (the demo's bands).
EMPLOYEE_BANDS = (("SMB", 200), ("MM", 2000))
BIG_SEGMENT = "ENT"
_COLUMNS = {f.name: f.attname for f in Account._meta.concrete_fields}


def field_value(account, key: str):
    """A dictionary field's value on an account: its column, else the CRM's custom attributes."""
    if key in _COLUMNS:
        return getattr(account, _COLUMNS[key], None)
    return (account.attributes or {}).get(key)


def as_number(value) -> Decimal | None:
    """A number from a stored value (int, float, decimal or numeric text); None for empty or not a number."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def as_text(value) -> str:
    """The stored text of a value ("" for empty), as ``AccountChange`` keeps it."""
    if value is None or value == [] or value == {}:
        return ""
    if isinstance(value, Decimal):
        value = value.normalize() if value == value.to_integral_value() else value
        return format(value, "f")[:255]
    return str(value).strip()[:255]


@dataclass(frozen=True)
class FieldInfo:
    """What the data dictionary says about an account field: its label, type and source of truth."""

    key: str
    label: str
    field_type: str
    source: str


def account_fields() -> dict[str, FieldInfo]:
    """The account fields of the data dictionary, by key."""
    sources = dict(SourceOfTruth.choices)
    return {
        key: FieldInfo(key, label, field_type, sources.get(source, source))
        for key, label, field_type, source in FieldDefinition.objects.filter(object_type="account").values_list(
            "key", "label", "field_type", "source_of_truth"
        )
    }


def renewal_automations(modes=(Automation.Mode.LIVE, Automation.Mode.SHADOW)) -> list[Automation]:
    """The ``renewal_monitor`` automations in ``modes`` (live and shadow by default), not paused on their own
    (kill switch), by name."""
    return list(
        Automation.objects.filter(kind=KIND, object_type="account", mode__in=modes, paused_at__isnull=True).order_by(
            "name"
        )
    )


class Segments:
    """The segment of an account: its owner's team's (the nearest up the tree that names one), else the
    employee band (SMB below 200, MM below 2,000, ENT from 2,000). Loads the team tree once."""

    def __init__(self):
        self.teams = {
            pk: (parent, segment) for pk, parent, segment in Team.objects.values_list("id", "parent_id", "segment")
        }

    def team_segment(self, team_id) -> str:
        seen = set()
        while team_id is not None and team_id not in seen:
            seen.add(team_id)
            parent, segment = self.teams.get(team_id, (None, ""))
            if segment:
                return segment
            team_id = parent
        return ""

    def of(self, account) -> tuple[str, str]:
        """(segment, how it was decided in words); ("", why) when neither the team nor the size says."""
        owner = account.owner if account.owner_id else None
        segment = self.team_segment(owner.team_id) if owner is not None else ""
        if segment:
            return segment, "the owner's team"
        if account.employees is None:
            return "", "no team segment and no employee count"
        for name, below in EMPLOYEE_BANDS:
            if account.employees < below:
                return name, f"{account.employees:,} employees"
        return BIG_SEGMENT, f"{account.employees:,} employees"


class History:
    """The recorded changes of a set of accounts up to ``now``, queried lazily and cached per question."""

    def __init__(self, account_ids, *, now: dt.datetime):
        self.ids = sorted(set(account_ids))
        self.now = now
        self._then: dict = {}
        self._changes: dict = {}

    def value_then(self, account_id: int, field: str, since: dt.datetime) -> tuple[bool, str]:
        """Whether ``field`` changed after ``since``, and if so its value just before the first such change
        (the value at ``since``). Unchanged since then: ``(False, "")`` — the current value stands."""
        key = (field, since)
        if key not in self._then:
            first = AccountChange.objects.filter(
                account_id=OuterRef("pk"), field=field, changed_at__gt=since, changed_at__lte=self.now
            ).order_by("changed_at", "id")
            rows = (
                Account.objects.filter(pk__in=self.ids)
                .annotate(change=Subquery(first.values("id")[:1]), old=Subquery(first.values("old_value")[:1]))
                .filter(change__isnull=False)
                .values_list("pk", "old")
            )
            self._then[key] = dict(rows)
        found = self._then[key]
        return (account_id in found, found.get(account_id) or "")

    def changes(self, account_id: int, field: str, since: dt.datetime) -> list[AccountChange]:
        """The changes of ``field`` after ``since`` up to ``now``, newest first."""
        key = (field, since)
        if key not in self._changes:
            rows: dict[int, list] = {}
            for change in AccountChange.objects.filter(
                account_id__in=self.ids, field=field, changed_at__gt=since, changed_at__lte=self.now
            ).order_by("-changed_at", "-id"):
                rows.setdefault(change.account_id, []).append(change)
            self._changes[key] = rows
        return self._changes[key].get(account_id, [])
