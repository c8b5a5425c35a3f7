"""The triage actions in the admin, all read from the one table in ``exceptions.actions``.

- the item page's buttons (``action_buttons``): the actions the user's role may take on the item,
  a direct button when the action needs no input, a link to its form page otherwise;
- ``item_action_view`` (``<id>/act/<key>/``): the action's form page when it needs input, then the
  service call; input errors — the form's, or a service's refusal of a field — show on the form, a
  refusal of the item's state (e.g. resolving a closed item) comes back as a message;
- one bulk action on the list per action with a bulk service (``<key>_selected``), with the same
  form on an intermediate page, applied to the selected items the user sees and may act on;
- the row macros of the list (``macro_view``, ``<id>/macro/<key>/``): one click performs an action
  with its input filled in (``exceptions.actions.register_item_macro``) and comes back to the list;
- "next item" mode (``?triage=next``, set by the Next item button): after an action that takes the
  item off the user's desk (closed, snoozed, escalated, given to someone else) the next item is
  claimed and opened, so a manager works the queue without going back to the list.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from revops.admin.base import remap_form_errors

from ..actions import ItemAction, item_action, item_actions, item_macro, item_macros, perform, perform_bulk
from ..errors import ItemStateError
from ..models import ExceptionItem
from .filters import OPEN
from .helpers import bulk_counts, refusal_message, refusals

FORM_TEMPLATE = "admin/exceptions/exceptionitem/action_form.html"
NEXT_MODE = "next"  # ?triage=next: the item was served by "Next item"; actions move on to the next one


def next_mode(request) -> bool:
    return request.GET.get("triage") == NEXT_MODE


def with_mode(url: str, request) -> str:
    """``url`` keeping "next item" mode when the request is in it."""
    return f"{url}?triage={NEXT_MODE}" if next_mode(request) else url


def off_my_desk(item: ExceptionItem, user) -> bool:
    """Whether ``user`` is done with ``item`` for now: closed, snoozed, escalated or someone else's."""
    return item.status not in (ExceptionItem.Status.OPEN, ExceptionItem.Status.IN_PROGRESS) or (
        item.owner_id != user.pk
    )


def _bulk_function(key: str):
    def run(modeladmin, request, queryset):
        return modeladmin.run_bulk(request, queryset, key)

    run.__name__ = f"{key}_selected"
    return run


def _input_error(action: ItemAction, error: BaseException) -> bool:
    """A service's refusal of some input (e.g. an unknown rep), shown on the form rather than as a message."""
    return (
        action.needs_input
        and isinstance(error, ValidationError)
        and not isinstance(error, ItemStateError)
        and hasattr(error, "error_dict")
    )


class ItemActionsAdminMixin:
    """Buttons, form pages and bulk actions of ``ExceptionItemAdmin`` (which gives ``can_triage``)."""

    def get_actions(self, request):
        if not self.can_triage(request) or IS_POPUP_VAR in request.GET:
            return {}
        actions = super().get_actions(request)
        for action in item_actions():
            if action.bulk is not None:
                name = f"{action.key}_selected"
                actions[name] = (_bulk_function(action.key), name, action.bulk_label)
        return actions

    def action_buttons(self, request, obj) -> list[dict]:
        """The item page's action buttons, in the table's order (keeping "next item" mode)."""
        if not self.can_triage(request) or obj.status not in OPEN:
            return []
        return [
            {
                "name": action.key,
                "label": action.button_label,
                "url": with_mode(reverse("admin:exceptions_exceptionitem_act", args=[obj.pk, action.key]), request),
                "direct": not action.needs_input,
                "approval": action.approval_only,
            }
            for action in item_actions()
            if action.offered_for(obj) and action.allowed(request.user, obj)
        ]

    def item_action_view(self, request, object_id, action):
        """One action on one item: a form page when it needs input, then the service call."""
        spec = item_action(action)
        if spec is None:
            raise Http404("Unknown action.")
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("No such exception item (or not in your queues).")
        if not self.can_triage(request) or not spec.allowed(request.user, obj):
            raise PermissionDenied
        item_url = with_mode(reverse("admin:exceptions_exceptionitem_change", args=[obj.pk]), request)
        if spec.needs_input:
            confirmed = request.method == "POST" and "_confirm" in request.POST
            form = spec.bind(request.POST if confirmed else None, item=obj)
        elif request.method != "POST":
            return HttpResponseRedirect(item_url)
        else:
            form = spec.bind(request.POST, item=obj)
        if form is not None and (not form.is_bound or not form.is_valid()):
            return self.render_action_form(request, spec, form, items=[obj], cancel_url=item_url)
        try:
            perform(spec, item=obj, actor=request.user, data=spec.service_kwargs(form))
        except refusals() as error:
            if _input_error(spec, error):
                remap_form_errors(form, error)
                return self.render_action_form(request, spec, form, items=[obj], cancel_url=item_url)
            self.message_user(request, f"{spec.label} refused: {refusal_message(error)}", messages.ERROR)
        else:
            self.message_user(request, spec.success_message(obj), messages.SUCCESS)
            if next_mode(request):
                obj.refresh_from_db()
                if off_my_desk(obj, request.user):
                    return self.serve_next(request)
        return HttpResponseRedirect(item_url)

    def macro_view(self, request, object_id, macro):
        """A row macro: the action with its input filled in, then back to the list the click came from."""
        back = self.list_url(request)
        spec = item_macro(macro)
        action = item_action(spec.action) if spec is not None else None
        if action is None:
            raise Http404("Unknown action.")
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("No such exception item (or not in your queues).")
        if not self.can_triage(request) or not action.allowed(request.user, obj):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseRedirect(back)
        if obj.status not in OPEN or not spec.offered_for(request.user, obj):
            self.message_user(request, f"{spec.title} is not possible on “{obj.title}” any more.", messages.WARNING)
            return HttpResponseRedirect(back)
        form = action.bind(spec.data(), item=obj)
        if form is not None and not form.is_valid():
            problems = "; ".join(message for messages_ in form.errors.values() for message in messages_)
            self.message_user(request, f"{spec.title} refused: {problems}", messages.ERROR)
            return HttpResponseRedirect(back)
        try:
            perform(action, item=obj, actor=request.user, data=action.service_kwargs(form))
        except refusals() as error:
            self.message_user(request, f"{spec.title} refused: {refusal_message(error)}", messages.ERROR)
        else:
            self.message_user(request, f"{spec.title} — “{obj.title}”.", messages.SUCCESS)
        return HttpResponseRedirect(back)

    def list_url(self, request) -> str:
        """The triage list the request came from (its filters kept), else the default list."""
        changelist = reverse("admin:exceptions_exceptionitem_changelist")
        referer = request.META.get("HTTP_REFERER", "")
        if referer and url_has_allowed_host_and_scheme(referer, {request.get_host()}, request.is_secure()):
            parts = urlsplit(referer)
            if parts.path == changelist:
                return changelist + (f"?{parts.query}" if parts.query else "")
        return changelist

    def row_macros(self, request, obj) -> list[dict]:
        """The one-click buttons of a row: the macros offered for ``obj`` that the user's role allows."""
        if not self.can_triage(request) or obj.status not in OPEN:
            return []
        return [
            {
                "key": macro.key,
                "label": macro.label,
                "title": macro.title,
                "url": reverse("admin:exceptions_exceptionitem_macro", args=[obj.pk, macro.key]),
            }
            for macro in item_macros()
            if macro.offered_for(request.user, obj)
        ]

    def render_action_form(self, request, action: ItemAction, form, *, items, cancel_url, bulk=False):
        context = {
            **self.admin_site.each_context(request),
            "title": f"{action.label} {len(items)} item(s)" if bulk else action.label,
            "opts": self.model._meta,
            "action": action.key,
            "action_label": action.label,
            "form": form,
            "items": items[:50],
            "more": max(0, len(items) - 50),
            "bulk": bulk,
            "selected": [str(item.pk) for item in items],
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "cancel_url": cancel_url,
            "media": self.media + form.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, FORM_TEMPLATE, context)

    def run_bulk(self, request, queryset, key: str):
        """A bulk action: ask for input on an intermediate page when needed, then call the bulk service."""
        action = item_action(key)
        if action is None or action.bulk is None:
            raise Http404("Unknown action.")
        if not self.can_triage(request):
            raise PermissionDenied
        confirmed = "_confirm" in request.POST
        form = action.bind(request.POST if confirmed or not action.needs_input else None)
        if form is not None and (not form.is_bound or not form.is_valid()):
            return self.render_action_form(
                request,
                action,
                form,
                items=list(queryset.order_by("due_at", "pk")[:500]),
                cancel_url=reverse("admin:exceptions_exceptionitem_changelist"),
                bulk=True,
            )
        visible = self.get_queryset(request).filter(pk__in=list(queryset.values_list("pk", flat=True)))
        allowed = [
            item.pk
            for item in visible.select_related(None).only("pk", "owner_id")
            if action.allowed(request.user, item)
        ]
        not_allowed = visible.count() - len(allowed)
        items_qs = self.get_queryset(request).filter(pk__in=allowed)
        try:
            result = perform_bulk(action, items_qs=items_qs, actor=request.user, data=action.service_kwargs(form))
        except refusals() as error:
            self.message_user(request, f"{action.label} refused: {refusal_message(error)}", messages.ERROR)
            return None
        done, refused = bulk_counts(result)
        if not_allowed:
            refused.append(f"{not_allowed} item(s) your role may not {action.key}")
        self.message_user(request, action.bulk_success_message(done), messages.SUCCESS if done else messages.WARNING)
        if refused:
            shown = "; ".join(refused[:5]) + (f" (and {len(refused) - 5} more)" if len(refused) > 5 else "")
            self.message_user(request, f"{len(refused)} refused: {shown}", messages.WARNING)
        return None
