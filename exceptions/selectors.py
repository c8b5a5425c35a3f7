"""Reads for the exception queue, and who may see what.

Visibility is decided here, once, and used by the API and the admin alike:

* RevOps admins (and superusers) and integration service accounts (API tokens, limited by their
  scopes instead) see every queue and item;
* a manager sees the queues they manage or are the escalation target of, and the queues of every
  team their rep (``Rep.user``) manages (``Team.manager``), sub-teams included; plus items they own;
* everyone else (reps) sees the items they own, and queues they are named on.

An item a user cannot see does not exist for them: ``item_for_user`` raises ``Http404`` (never a
403, which would confirm the item exists), and the admin mixin answers "doesn't exist".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404

from revops.access import managed_team_ids, team_subtree_ids  # noqa: F401  (re-exported)

from . import roles
from .filtersets import MAX_BIGINT, ExceptionItemFilterSet
from .models import ExceptionItem, Queue

ITEM_RELATED = ("queue", "owner", "automation", "resolved_by")


def _queue_q(user) -> Q:
    condition = Q(manager_id=user.pk) | Q(escalation_target_id=user.pk)
    if roles.user_role(user) == roles.MANAGER:
        teams = managed_team_ids(user=user)
        if teams:
            condition |= Q(team_id__in=teams)
    return condition


def visible_queues(*, user) -> QuerySet[Queue]:
    """The queues ``user`` may see (see the module docstring)."""
    if user is None or not user.is_authenticated:
        return Queue.objects.none()
    if roles.sees_everything(user):
        return Queue.objects.all()
    return Queue.objects.filter(_queue_q(user))


def escalation_targets_for(user):
    """Who a queue's manager (not RevOps) may name as its escalation target: RevOps admins, themselves,
    and the people with a login on their teams (sub-teams included)."""
    from django.contrib.auth import get_user_model

    people = Q(groups__name=roles.ADMIN) | Q(pk=user.pk)
    team_ids = managed_team_ids(user=user)
    if team_ids:
        people |= Q(rep__team_id__in=team_ids)
    return get_user_model().objects.filter(people, is_active=True).distinct().order_by("username")


def item_visibility_q(*, user) -> Q | None:
    """A filter for the items ``user`` may see; None when they see everything.

    Apply it to any ``ExceptionItem`` queryset (``qs.filter(q)``); an anonymous user gets a filter
    matching nothing.
    """
    if user is None or not user.is_authenticated:
        return Q(pk__in=[])
    if roles.sees_everything(user):
        return None
    condition = Q(owner_id=user.pk)
    if roles.user_role(user) == roles.MANAGER:
        queue_ids = list(Queue.objects.filter(_queue_q(user)).values_list("id", flat=True))
        if queue_ids:
            condition |= Q(queue_id__in=queue_ids)
    return condition


def restrict_items(queryset: QuerySet, *, user) -> QuerySet:
    """``queryset`` narrowed to the items ``user`` may see."""
    condition = item_visibility_q(user=user)
    return queryset if condition is None else queryset.filter(condition)


def _check_no_nul(filters: Mapping) -> None:
    values = filters.getlist if hasattr(filters, "getlist") else lambda key: [filters[key]]
    bad = sorted({key for key in filters for value in values(key) if "\x00" in str(value) or "\x00" in key})
    if bad:  # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the database
        raise ValidationError({key.replace("\x00", ""): "Null characters are not allowed." for key in bad})


def visible_items(*, user, filters: Mapping | None = None) -> QuerySet[ExceptionItem]:
    """The items ``user`` may see, matching ``filters`` (query parameters for ``ExceptionItemFilterSet``).

    Raises ``ValidationError`` with per-parameter messages when a filter value is malformed.
    """
    queryset = restrict_items(ExceptionItem.objects.select_related(*ITEM_RELATED), user=user)
    if not filters:
        return queryset
    _check_no_nul(filters)
    filterset = ExceptionItemFilterSet(data=filters, queryset=queryset, user=user)
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return filterset.qs


def item_for_user(*, user, pk, for_update: bool = False) -> ExceptionItem:
    """The item ``pk`` if ``user`` may see it; ``Http404`` otherwise (also for malformed ids)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404("No such exception item.") from None
    if not 1 <= pk <= MAX_BIGINT:
        raise Http404("No such exception item.")
    queryset = visible_items(user=user)
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    item = queryset.filter(pk=pk).first()
    if item is None:
        raise Http404("No such exception item.")
    return item


def queues_by_name(*, user, names: Iterable[str]) -> QuerySet[Queue]:
    """The visible queues among ``names`` (unknown or invisible names are simply absent)."""
    return visible_queues(user=user).filter(name__in=list(names))


class ExceptionVisibilityMixin:
    """For ``ModelAdmin``s of ``ExceptionItem``: rows the user may not see do not exist for them.

    * ``get_queryset`` keeps only visible items, so the changelist, search, actions and
      ``get_object`` (hence the change/history/delete pages, which then answer Django's
      "doesn't exist" redirect, or 404 for custom views using ``get_object``) never reach others' items;
    * ``has_view_permission``/``has_change_permission`` add the per-object role check on top of the
      model permission: a rep changes only items they own (``roles.can_act``).

    Put it first in the bases: ``class ExceptionItemAdmin(ExceptionVisibilityMixin, AuditedAdmin)``.
    Use ``self.can_act(request, obj, "approve")`` to gate custom actions.
    """

    def get_queryset(self, request):
        return restrict_items(super().get_queryset(request), user=request.user)

    def has_view_permission(self, request, obj=None):
        if not super().has_view_permission(request, obj):
            return False
        return obj is None or self.is_visible(request, obj)

    def has_change_permission(self, request, obj=None):
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or (self.is_visible(request, obj) and roles.can_act(request.user, obj, "change"))

    def history_view(self, request, object_id, extra_context=None):
        # simple_history falls back to the history table for a row get_queryset hides, then
        # answers 403 — which would confirm the item exists. Hidden items' history is a 404.
        self._require_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._require_visible(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def _require_visible(self, request, object_id) -> None:
        """404 unless the user sees everything (deleted items' history: admins only) or sees this item."""
        if item_visibility_q(user=request.user) is None:
            return
        from django.contrib.admin.utils import unquote

        if self.get_object(request, unquote(str(object_id))) is None:
            raise Http404("No such exception item.")

    def is_visible(self, request, obj) -> bool:
        """Whether ``request.user`` may see ``obj`` (one indexed query; admins need none)."""
        condition = item_visibility_q(user=request.user)
        if condition is None:
            return True
        return ExceptionItem.objects.filter(condition, pk=obj.pk).exists()

    def can_act(self, request, obj, action: str) -> bool:
        """Whether ``request.user`` may take ``action`` (``claim``, ``approve``…) on the visible ``obj``."""
        return self.is_visible(request, obj) and roles.can_act(request.user, obj, action)


def record_open_items(*, object_type: str, object_id: int) -> list[ExceptionItem]:
    """The record's open exception items, soonest due first, with owner and automation loaded."""
    return list(
        ExceptionItem.objects.filter(
            object_type=object_type, object_id=object_id, status__in=ExceptionItem.OPEN_STATUSES
        )
        .select_related("owner", "automation")
        .order_by("due_at", "pk")
    )


def why_items_panel(object_type: str, object_id: int, *, request=None) -> dict | None:
    """The Why page's "Open exception items" panel (shown when the record has any)."""
    items = record_open_items(object_type=object_type, object_id=object_id)
    return {"items": items} if items else None
