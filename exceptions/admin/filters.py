"""The triage view's list filters and its paginator, which never counts the whole table."""

from __future__ import annotations

import datetime as dt

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.functional import cached_property

from ..models import ExceptionItem
from ..registry import approval_kinds, item_kind_choices
from ..selectors import visible_queues

OPEN = tuple(str(status) for status in ExceptionItem.OPEN_STATUSES)
# The open view: open items that are awake (a snoozed item leaves it until it wakes; "Snoozed" shows it).
AWAKE = tuple(status for status in OPEN if status != ExceptionItem.Status.SNOOZED)
COUNT_CAP = 10_000
AGE_BUCKETS = {
    "1d": ("Less than a day", 0, 1),
    "3d": ("1–3 days", 1, 3),
    "7d": ("3–7 days", 3, 7),
    "old": ("More than a week", 7, None),
}


class DefaultingFilter(admin.SimpleListFilter):
    """A filter with a default choice applied when its parameter is absent ("all" turns it off)."""

    default = ""

    def value(self):
        value = super().value()
        return self.default if value is None else value

    def choices(self, changelist):
        value = self.value()
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class StateFilter(DefaultingFilter):
    """Open (the default), overdue, approvals, snoozed, closed or everything; a search looks at every state.

    Open, overdue and approvals leave snoozed items out until they wake up; "Snoozed" lists them."""

    title = "state"
    parameter_name = "state"
    default = "open"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        if request.GET.get("q", "").strip():
            self.default = "all"  # looking an item up by title or CRM id should find it closed too

    def lookups(self, request, model_admin):
        return [
            ("open", "Open (default)"),
            ("overdue", "Open and overdue"),
            ("approvals", "Approvals waiting"),
            ("snoozed", "Snoozed"),
            ("closed", "Closed"),
            ("all", "All"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        # The list then holds open items only: its pages can be read tier by tier (CappedPaginator).
        request.triage_open_only = value in ("open", "overdue", "approvals", "snoozed")
        if value == "open":
            return queryset.filter(status__in=AWAKE)
        if value == "overdue":
            return queryset.filter(status__in=AWAKE, due_at__lt=timezone.now())
        if value == "approvals":
            return queryset.filter(status__in=AWAKE, kind__in=approval_kinds())
        if value == "snoozed":
            return queryset.filter(status=ExceptionItem.Status.SNOOZED)
        if value == "closed":
            return queryset.exclude(status__in=OPEN)
        return queryset


class KindFilter(admin.SimpleListFilter):
    """By kind, labelled as the producing app registered it (exceptions.registry)."""

    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return item_kind_choices()

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


class QueueFilter(admin.SimpleListFilter):
    """The queues the user may see."""

    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [(str(q.pk), q.name) for q in visible_queues(user=request.user).order_by("name")]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(queue_id=int(value))
        return queryset


class OwnerFilter(admin.SimpleListFilter):
    title = "owner"
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        return [("me", "Mine"), ("none", "Unassigned"), ("others", "Someone else's")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "me":
            return queryset.filter(owner=request.user)
        if value == "none":
            return queryset.filter(owner__isnull=True)
        if value == "others":
            return queryset.filter(owner__isnull=False).exclude(owner=request.user)
        return queryset


class AutomationFilter(admin.SimpleListFilter):
    """The automations (a short table: no scan of the items for distinct values)."""

    title = "automation"
    parameter_name = "automation"

    def lookups(self, request, model_admin):
        from revops.models import Automation

        return [(str(pk), name) for pk, name in Automation.objects.order_by("name").values_list("pk", "name")]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(automation_id=int(value))
        return queryset


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _low, _high) in AGE_BUCKETS.items()]

    def queryset(self, request, queryset):
        bucket = AGE_BUCKETS.get(self.value() or "")
        if bucket is None:
            return queryset
        now = timezone.now()
        _label, low, high = bucket
        queryset = queryset.filter(first_seen_at__lte=now - dt.timedelta(days=low))
        if high is not None:
            queryset = queryset.filter(first_seen_at__gt=now - dt.timedelta(days=high))
        return queryset


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", "Overdue"), ("no", "Not overdue")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(due_at__lt=now)
        if self.value() == "no":
            return queryset.filter(Q(due_at__gte=now) | Q(due_at__isnull=True))
        return queryset


class CappedPaginator(Paginator):
    """Counts at most ``COUNT_CAP`` + 1 rows (``SELECT count(*) FROM (… LIMIT n)``), never the whole table,
    and reads a page in two steps: its ids in the list's order, then those rows with their owners and
    queues (a single query would join and sort every matching row in full: 270 ms for an admin's list
    of 140,000 open items).

    Given ``tiers`` (``services.triage_tiers``: the list holds open items only), the ids are read tier
    by tier, each a range of the ``exception_open_triage`` index, until the page is full: the first
    pages of an open list read about as many index entries as they show, times what its filters leave
    out (a later page also counts the entries before it, at most ``COUNT_CAP``). Otherwise they come
    from one query in the list's order."""

    def __init__(self, *args, tiers=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.tiers = tiers

    @cached_property
    def count(self):
        try:
            return self.object_list.order_by()[: COUNT_CAP + 1].count()  # no ORDER BY: stop at the cap
        except (AttributeError, TypeError):
            return len(self.object_list)

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        rows = self.object_list
        if not isinstance(rows, QuerySet) or rows.query.distinct:
            return self._get_page(rows[bottom:top], number, self)
        if self.tiers is not None:
            # An item whose severity or due time changed between two tiers' reads is shown once.
            ids = list(dict.fromkeys(self._tiered_ids(rows, bottom, top - bottom)))
        else:
            ids = list(rows.values_list("pk", flat=True)[bottom:top])
        # An item that left the list between the two reads (resolved meanwhile) is left out.
        found = rows.order_by().in_bulk(ids)
        return self._get_page([found[pk] for pk in ids if pk in found], number, self)

    def _tiered_ids(self, rows: QuerySet, skip: int, size: int) -> list[int]:
        ids: list[int] = []
        for condition, order in self.tiers:
            if len(ids) >= size:
                break
            tier = rows.filter(condition)
            if skip:
                before = tier.order_by()[:skip].count()
                if before < skip:  # the page starts in a later tier
                    skip -= before
                    continue
            ids += tier.order_by(*order).values_list("pk", flat=True)[skip : skip + size - len(ids)]
            skip = 0
        return ids
