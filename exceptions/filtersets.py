"""The exception item FilterSet; ``exceptions.selectors.visible_items`` (and so the API) applies it.

Choice filters accept several values (``?status=open&status=escalated``). ``owner`` takes a
username, ``me`` (the requesting user) or ``none`` (unassigned). ``age`` buckets count whole
24-hour days since the item was first seen.
"""

from __future__ import annotations

import datetime as dt

import django_filters as filters
from django import forms
from django.utils import timezone

from revops.filtersets import BooleanFilter

from .models import ExceptionItem
from .registry import item_kind_choices

MAX_BIGINT = 2**63 - 1

AGE_BUCKETS = {
    "today": (0, 1),
    "1-3d": (1, 3),
    "3-7d": (3, 7),
    ">7d": (7, None),
}


class IdField(forms.IntegerField):
    """A database id: a positive integer that fits a bigint (larger values would fail in PostgreSQL)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_BIGINT)
        super().__init__(*args, **kwargs)


class IdFilter(filters.NumberFilter):
    field_class = IdField


class ExceptionItemFilterSet(filters.FilterSet):
    """Filters for exception items. Pass ``user`` so ``owner=me`` means the requesting user."""

    queue = filters.CharFilter(field_name="queue__name", label="Queue name.")
    kind = filters.MultipleChoiceFilter(choices=item_kind_choices)
    severity = filters.MultipleChoiceFilter(choices=ExceptionItem.Severity.choices)
    status = filters.MultipleChoiceFilter(choices=ExceptionItem.Status.choices)
    owner = filters.CharFilter(
        method="filter_owner", label="Owner's username; `me` for yourself, `none` for unassigned items."
    )
    automation = IdFilter(field_name="automation_id", label="Id of the automation that raised the item.")
    overdue = BooleanFilter(method="filter_overdue", label="true: open and past due; false: everything else.")
    age = filters.ChoiceFilter(
        method="filter_age",
        choices=[(key, key) for key in AGE_BUCKETS],
        label="Time since first seen: today (under 24 h), 1-3d, 3-7d or >7d.",
    )
    external_id = filters.CharFilter(field_name="external_id", label="The record's CRM id.")
    object_type = filters.CharFilter(field_name="object_type", label="The record's type, e.g. lead.")

    class Meta:
        model = ExceptionItem
        fields = []

    def __init__(self, data=None, queryset=None, *, user=None, **kwargs):
        super().__init__(data=data, queryset=queryset, **kwargs)
        self.user = user

    def filter_owner(self, queryset, name, value):
        text = value.strip()
        if text.lower() == "none":
            return queryset.filter(owner__isnull=True)
        if text.lower() == "me":
            if self.user is None or not self.user.is_authenticated:
                return queryset.none()
            return queryset.filter(owner_id=self.user.pk)
        return queryset.filter(owner__username=text)

    def filter_overdue(self, queryset, name, value):
        overdue = {"status__in": ExceptionItem.OPEN_STATUSES, "due_at__lt": timezone.now()}
        return queryset.filter(**overdue) if value else queryset.exclude(**overdue)

    def filter_age(self, queryset, name, value):
        low, high = AGE_BUCKETS[value]
        now = timezone.now()
        queryset = queryset.filter(first_seen_at__lte=now - dt.timedelta(days=low))
        if high is not None:
            queryset = queryset.filter(first_seen_at__gt=now - dt.timedelta(days=high))
        return queryset
