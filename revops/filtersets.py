"""FilterSets for the CRM record mirror; the read selectors (and so the read API) apply these.

References are filtered by the other record's external id (``?owner=R00042``), like the API shows
them. Choice filters accept several values (``?status=new&status=working``).
"""

import datetime as dt

import django_filters as filters
from django import forms
from django.db.models import Q
from django_filters import fields as filter_fields
from django_filters.widgets import DateRangeWidget

from revops.conditions.orm import json_array_has_q
from revops.models import Account, Activity, Contact, Lead, Opportunity, Rep, Task, Team


class StrictBooleanField(forms.Field):
    """``true``/``false`` (or ``1``/``0``); anything else is an error rather than silently ignored."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in {"true", "1"}:
            return True
        if text in {"false", "0"}:
            return False
        raise forms.ValidationError(f"{value!r} is not a boolean: use true or false.")


class BooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField


class UtcIsoDateTimeField(filter_fields.IsoDateTimeField):
    """An ISO 8601 date-time, converted to UTC (PostgreSQL refuses offsets beyond ±15:59)."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(dt.UTC)
        except (OverflowError, ValueError):
            raise forms.ValidationError("Enter a date/time between years 1 and 9999.") from None


class UtcIsoDateTimeRangeField(filter_fields.RangeField):
    widget = DateRangeWidget

    def __init__(self, *args, **kwargs):
        super().__init__((UtcIsoDateTimeField(), UtcIsoDateTimeField()), *args, **kwargs)


class IsoDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class IsoDateTimeFromToRangeFilter(filters.IsoDateTimeFromToRangeFilter):
    field_class = UtcIsoDateTimeRangeField


def ref_filter(field: str, label: str):
    return filters.CharFilter(field_name=f"{field}__external_id", label=label)


class RefuseEmptyIds:
    """``?external_id=`` with nothing in it is refused (it would otherwise match every record)."""

    EMPTY_IDS = "Give one or more external ids, comma-separated (e.g. L-1,L-2), or leave external_id out."

    def is_valid(self):
        valid = super().is_valid()
        if "external_id" in self.data:
            raw = self.data.getlist("external_id") if hasattr(self.data, "getlist") else [self.data["external_id"]]
            if not any(part.strip() for value in raw for part in str(value or "").split(",")):
                self.form.add_error("external_id", self.EMPTY_IDS)
                return False
        return valid


class RecordFilterSet(RefuseEmptyIds, filters.FilterSet):
    """Filters every mirrored record has."""

    external_id = filters.BaseInFilter(field_name="external_id", label="External ids, comma-separated.")
    updated_since = IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", label="Changed in the portal at or after (ISO 8601)."
    )
    source_updated_since = IsoDateTimeFilter(
        field_name="source_updated_at", lookup_expr="gte", label="Changed in the CRM at or after (ISO 8601)."
    )


class TeamFilterSet(RecordFilterSet):
    manager = ref_filter("manager", "Manager's rep external id.")
    parent = ref_filter("parent", "Parent team external id.")

    class Meta:
        model = Team
        fields = ["region", "segment"]


class RepFilterSet(RecordFilterSet):
    team = ref_filter("team", "Team external id.")
    manager = ref_filter("manager", "Manager's rep external id.")
    email = filters.CharFilter(field_name="email", lookup_expr="iexact")

    is_active = BooleanFilter()

    class Meta:
        model = Rep
        fields = ["region"]


class AccountFilterSet(RecordFilterSet):
    owner = ref_filter("owner", "Owner's rep external id.")
    parent = ref_filter("parent", "Parent account external id.")
    customer_status = filters.MultipleChoiceFilter(choices=Account.CustomerStatus.choices)
    domain = filters.CharFilter(field_name="domain", lookup_expr="iexact")
    country = filters.CharFilter(field_name="country", lookup_expr="iexact", label="ISO 3166-1 alpha-2 code.")

    is_named = BooleanFilter(label="true: named/strategic accounts only.")

    class Meta:
        model = Account
        fields = ["industry"]


class LeadFilterSet(RecordFilterSet):
    owner = ref_filter("owner", "Owner's rep external id.")
    unassigned = BooleanFilter(field_name="owner", lookup_expr="isnull", label="true: leads without owner.")
    matched_account = ref_filter("matched_account", "Matched account external id.")
    status = filters.MultipleChoiceFilter(choices=Lead.Status.choices)
    email = filters.CharFilter(field_name="email", lookup_expr="iexact")
    domain = filters.CharFilter(field_name="domain", lookup_expr="iexact")
    country = filters.CharFilter(field_name="country", lookup_expr="iexact", label="ISO 3166-1 alpha-2 code.")

    class Meta:
        model = Lead
        fields = ["source"]


class ContactFilterSet(RecordFilterSet):
    account = ref_filter("account", "Account external id.")
    owner = ref_filter("owner", "Owner's rep external id.")
    converted_from_lead = ref_filter("converted_from_lead", "External id of the lead converted into the contact.")
    email = filters.CharFilter(field_name="email", lookup_expr="iexact")
    role = filters.MultipleChoiceFilter(
        choices=Contact.Role.choices,
        method="filter_role",
        label="Contacts holding any of these roles on their account (several allowed).",
    )
    is_active = BooleanFilter()

    class Meta:
        model = Contact
        fields = []

    def filter_role(self, queryset, name, value):
        if not value:
            return queryset
        condition = Q()
        for role in value:
            condition |= json_array_has_q("roles", role)
        return queryset.filter(condition)


class OpportunityFilterSet(RecordFilterSet):
    owner = ref_filter("owner", "Owner's rep external id.")
    account = ref_filter("account", "Account external id.")
    stage = filters.MultipleChoiceFilter(choices=Opportunity.Stage.choices)
    forecast_category = filters.MultipleChoiceFilter(choices=Opportunity.ForecastCategory.choices)
    close_date = filters.DateFromToRangeFilter(label="Close date range: close_date_after, close_date_before.")
    is_open = BooleanFilter(method="filter_is_open", label="true: open stages only; false: closed only.")

    class Meta:
        model = Opportunity
        fields = []

    def filter_is_open(self, queryset, name, value):
        open_stages = [s.value for s in Opportunity.OPEN_STAGES]
        return queryset.filter(stage__in=open_stages) if value else queryset.exclude(stage__in=open_stages)


class ActivityFilterSet(RecordFilterSet):
    rep = ref_filter("rep", "Rep external id.")
    lead = ref_filter("lead", "Lead external id.")
    opportunity = ref_filter("opportunity", "Opportunity external id.")
    account = ref_filter("account", "Account external id.")
    kind = filters.MultipleChoiceFilter(choices=Activity.Kind.choices)
    occurred = IsoDateTimeFromToRangeFilter(
        field_name="occurred_at", label="Occurred range: occurred_after, occurred_before (ISO 8601)."
    )

    class Meta:
        model = Activity
        fields = []


class TaskFilterSet(RefuseEmptyIds, filters.FilterSet):
    external_id = filters.BaseInFilter(field_name="external_id", label="External ids, comma-separated.")
    owner = ref_filter("owner", "Owner's rep external id.")
    lead = ref_filter("lead", "Lead external id.")
    account = ref_filter("account", "Account external id.")
    opportunity = ref_filter("opportunity", "Opportunity external id.")
    status = filters.MultipleChoiceFilter(choices=Task.Status.choices)
    due = IsoDateTimeFromToRangeFilter(field_name="due_at", label="Due range: due_after, due_before.")
    updated_since = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    from_automation = BooleanFilter(method="filter_from_automation", label="true: only tasks an automation created.")

    class Meta:
        model = Task
        fields = ["created_by_automation"]

    def filter_from_automation(self, queryset, name, value):
        return queryset.exclude(created_by_automation="") if value else queryset.filter(created_by_automation="")
