"""Item actions: the one table of what people do with an exception item, read by the admin and the API.

The admin (buttons on the item page, bulk actions on the list, the action's form page) and the API
(``POST /api/v1/exceptions/<id>/<key>/``, documented in the OpenAPI schema) both take their actions
from here, so they offer the same ones, validate the input with the same form and answer with the
same messages. The queue registers claim, assign, resolve, dismiss, suppress, snooze, escalate, and for
approval requests approve, reject and override. Each ``ItemAction`` declares:

- ``key`` (the URL segment) and ``label`` (what people read: the button says "Resolve…" when the
  action asks for input, the form page "Resolve");
- ``form``: a Django form class validating its input, or None when it takes none. The admin renders
  it; the API validates the JSON body with it; its cleaned data (``ActionForm.action_kwargs``) are
  the service's keywords. ``needs_input``: whether the admin shows the form before acting (escalate
  and approve take an optional reason or note but act straight from their button);
- ``permission``: the ``exceptions.roles.can_act`` action whose rule applies (a rep may resolve
  their own items, not assign or approve them);
- ``approval_only``: the action applies to approval requests (``item.is_approval``) only; other
  items refuse it with ``ItemStateError`` (a message in the admin, 409 in the API);
- ``single(*, item, actor, **input)`` and ``bulk(*, items_qs, actor, **input) -> {"done", "skipped",
  "errors"}`` (None: no bulk action on the list) — the services that do the work;
- ``done``: the word of its success messages ("“Lead X” resolved.", "3 item(s) resolved.").

A workflow app adds an action from its ``AppConfig.ready()``, without editing the queue::

    from exceptions.actions import ActionForm, register_item_action

    class RecheckForm(ActionForm):
        note = forms.CharField(required=False, max_length=2000)

    register_item_action(
        "recheck",
        "Re-check",
        single=services.item_recheck,        # (*, item, actor, note)
        form=RecheckForm,
        permission="escalate",               # whoever may escalate an item may re-check it
        done="re-checked",
    )

It then has a button on the item page (a bulk action too when ``bulk`` is given) and answers
``POST /api/v1/exceptions/<id>/recheck/`` with the item.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from . import approvals, roles, services, suppressions
from .errors import ItemStateError
from .filtersets import MAX_BIGINT
from .models import Suppression
from .registry import approval_handler, approval_kinds

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class ItemAction:
    """One action people take on an exception item (see the module docstring for each field)."""

    key: str
    label: str
    single: Callable
    bulk: Callable | None = None
    form: type[forms.BaseForm] | None = None
    needs_input: bool = False
    permission: str = ""
    approval_only: bool = False
    offered: Callable | None = None
    done: str = ""
    summary: str = ""
    bulk_label: str = ""
    order: int = 100

    @property
    def button_label(self) -> str:
        """The button's text: the label, with "…" when a form page comes first."""
        return f"{self.label}…" if self.needs_input else self.label

    def allowed(self, user, item) -> bool:
        """Whether ``user``'s role may take this action on ``item`` (which they must already see)."""
        return roles.can_act(user, item, self.permission)

    def offered_for(self, item) -> bool:
        """Whether the item page offers the action for ``item`` (an open item the user may act on)."""
        pending_approval = item.is_approval and not item.decision
        if self.approval_only and not pending_approval:
            return False
        return self.offered is None or bool(self.offered(item))

    def bind(self, data=None, *, item=None) -> forms.BaseForm | None:
        """The action's form, bound to ``data`` (unbound when None); ``item`` only changes how it looks."""
        if self.form is None:
            return None
        if issubclass(self.form, ActionForm):
            return self.form(data, item=item)
        return self.form(data)

    def service_kwargs(self, form) -> dict[str, Any]:
        """The keywords the services get from a valid form (none without a form)."""
        if form is None:
            return {}
        if isinstance(form, ActionForm):
            return form.action_kwargs()
        return dict(form.cleaned_data)

    def success_message(self, item) -> str:
        return f"“{item.title}” {self.done}."

    def bulk_success_message(self, count: int) -> str:
        return f"{count} item(s) {self.done}."


_ACTIONS: dict[str, ItemAction] = {}


def register_item_action(
    key: str,
    label: str,
    *,
    single: Callable,
    done: str,
    bulk: Callable | None = None,
    form: type[forms.BaseForm] | None = None,
    needs_input: bool | None = None,
    permission: str | None = None,
    approval_only: bool = False,
    offered: Callable | None = None,
    summary: str = "",
    bulk_label: str = "",
    order: int = 100,
) -> ItemAction:
    """Add an item action to the admin and the API (idempotent by key; the last registration wins).

    ``needs_input`` defaults to whether the form has a required field; ``permission`` to ``key``,
    which must then be one of ``exceptions.roles.ALL_ACTIONS`` (a new action names the existing
    action whose rule applies); ``offered(item) -> bool`` can hide the button for some items (the
    API still lets the service decide); ``order`` places the button (built-ins use 10–90).
    """
    if not KEY_PATTERN.match(key):
        raise ValueError(f"item action key {key!r} must be lower-case letters, digits and _ (a URL segment)")
    permission = permission or key
    if permission not in roles.ALL_ACTIONS:
        raise ValueError(
            f"item action {key!r}: permission {permission!r} is none of {', '.join(sorted(roles.ALL_ACTIONS))}"
        )
    if needs_input is None:
        needs_input = form is not None and any(field.required for field in form.base_fields.values())
    action = _ACTIONS[key] = ItemAction(
        key=key,
        label=label,
        single=single,
        bulk=bulk,
        form=form,
        needs_input=needs_input,
        permission=permission,
        approval_only=approval_only,
        offered=offered,
        done=done,
        summary=summary or label,
        bulk_label=bulk_label or f"{label} the selected items{'…' if needs_input else ''}",
        order=order,
    )
    return action


def item_action(key: str) -> ItemAction | None:
    """The registered action ``key``, or None."""
    return _ACTIONS.get(key)


def item_actions() -> list[ItemAction]:
    """Every registered action, in button order."""
    return sorted(_ACTIONS.values(), key=lambda action: (action.order, action.key))


def perform(action: ItemAction, *, item, actor, data: dict[str, Any]):
    """Take ``action`` on one item with validated ``data``; the service's errors propagate.

    The caller has checked that ``actor`` sees the item and ``action.allowed`` it.
    """
    if action.approval_only and not item.is_approval:
        raise ItemStateError(f"Item #{item.pk} is not an approval request.")
    return action.single(item=item, actor=actor, **data)


def perform_bulk(action: ItemAction, *, items_qs, actor, data: dict[str, Any]) -> dict[str, Any]:
    """Take ``action`` on each item of ``items_qs``: ``{"done", "skipped", "errors": {pk: message}}``."""
    if action.bulk is None:
        raise ValueError(f"item action {action.key!r} has no bulk service")
    refused: dict[int, str] = {}
    if action.approval_only:
        others = items_qs.exclude(kind__in=approval_kinds())
        refused = {pk: "not an approval request" for pk in others.values_list("pk", flat=True)}
        items_qs = items_qs.filter(kind__in=approval_kinds())
    result = dict(action.bulk(items_qs=items_qs, actor=actor, **data))
    if refused:
        result["skipped"] = int(result.get("skipped") or 0) + len(refused)
        result["errors"] = {**(result.get("errors") or {}), **refused}
    return result


def form_errors(form) -> dict[str, list[str]]:
    """An invalid form's messages by field name (``"__all__"`` for the form as a whole)."""
    return {name: [str(message) for message in messages] for name, messages in form.errors.items()}


# --- Forms: one per action, for the admin and the API alike ---------------------------------------


class ActionForm(forms.Form):
    """The input of an item action, validated the same way in the admin and the API.

    ``item`` is the item the admin shows the form for (None in the API and for bulk actions): it may
    change how a field is shown (the override's input), never what is valid.
    """

    def __init__(self, data=None, *args, item=None, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.item = item

    def action_kwargs(self) -> dict[str, Any]:
        """The service's keywords (the cleaned data unless a form says otherwise)."""
        return dict(self.cleaned_data)


def _reject_nul(value, path="params"):
    """JSON stored in PostgreSQL cannot hold NUL characters, in keys or string values."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValidationError(f"{path}: null characters are not allowed.")
    elif isinstance(value, dict):
        for key, inner in value.items():
            _reject_nul(key, path)
            _reject_nul(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _reject_nul(inner, f"{path}[{index}]")


class JSONObjectField(forms.Field):
    """A JSON object (the API sends it as is; the admin through a widget that builds it)."""

    structured = True  # the API passes the body's value through instead of as text
    default_error_messages = {"invalid": "Enter a JSON object."}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if not isinstance(value, dict):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        _reject_nul(value)
        return value


class UserField(forms.ModelChoiceField):
    """An active staff user, by username (the API sends it, the admin's select posts it).

    A number that is nobody's username is taken as a user id, as older admin pages posted it.
    """

    default_error_messages = {"invalid_choice": "No active staff user “%(value)s”."}

    def __init__(self, *, queryset=None, **kwargs):
        super().__init__(queryset=queryset, to_field_name="username", **kwargs)

    def __deepcopy__(self, memo):
        field = super().__deepcopy__(memo)
        if field.queryset is None:  # each form gets a fresh query (never evaluated at import time)
            field.queryset = assignable_users()
        return field

    def label_from_instance(self, obj):
        name = obj.get_full_name()
        return f"{name} ({obj.get_username()})" if name else obj.get_username()

    def to_python(self, value):
        if value in self.empty_values:
            return None
        value = str(value)
        user = None
        if "\x00" not in value:
            user = self.queryset.filter(username=value).first()
            if user is None and value.isdigit() and int(value) <= MAX_BIGINT:
                user = self.queryset.filter(pk=int(value)).first()
        if user is None:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice", params={"value": value})
        return user


def assignable_users():
    """Who an item can be given to: active staff users (the people who work the queue)."""
    return get_user_model().objects.filter(is_active=True, is_staff=True).order_by("username")


def _note(help_text: str = "", rows: int = 2) -> forms.CharField:
    return forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": rows}), help_text=help_text
    )


def _reason(*, required: bool, help_text: str = "", rows: int = 3) -> forms.CharField:
    return forms.CharField(
        required=required, max_length=2000, widget=forms.Textarea(attrs={"rows": rows}), help_text=help_text
    )


class AssignForm(ActionForm):
    owner = UserField(help_text="Who works the item from now on.")
    note = _note()


OTHER_NEEDS_A_NOTE = "Say what was done when the reason is 'other'."


class ResolveForm(ActionForm):
    reason_code = forms.ChoiceField(choices=lambda: list(services.RESOLUTION_CODES.items()), label="Reason code")
    note = _note("What you did.", rows=3)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("reason_code") == "other" and not cleaned.get("note", "").strip() and "note" not in self.errors:
            self.add_error("note", OTHER_NEEDS_A_NOTE)
        return cleaned


class DismissForm(ActionForm):
    reason = _reason(required=True, help_text="Why no action is needed (required, kept in the history).")
    noise = forms.BooleanField(
        required=False,
        label="Noise: the rule is wrong here",
        help_text="Counts against the rule in its noise rate (what RevOps reads to fix or retire it).",
    )


class TopicsField(forms.MultipleChoiceField):
    """The rules of the item to suppress (values of ``suppressions.item_topics``), a list in the API.

    Without an item (the API) any value is taken here and the service checks it against the item."""

    structured = True  # the API passes the list through

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.any_value = True

    def valid_value(self, value):
        return self.any_value or super().valid_value(value)


class SuppressForm(ActionForm):
    topics = TopicsField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Rules to suppress for this record",
        help_text="None ticked: every rule the item lists.",
    )
    until_change = forms.BooleanField(
        required=False,
        label="Until the record changes",
        help_text="Lifted by the next real change of the record's values (a CRM sync or an edit), not by a rescan.",
    )
    until = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"],
        label="Or until",
        help_text="A date and time, at most a year ahead (ISO 8601 in the API).",
    )
    reason_code = forms.ChoiceField(choices=lambda: [("", "---------"), *Suppression.Reason.choices], label="Reason")
    note = _note("Required when the reason is “other”.")

    def __init__(self, *args, item=None, **kwargs):
        super().__init__(*args, item=item, **kwargs)
        if item is not None:
            field = self.fields["topics"]
            field.choices = suppressions.item_topics(item)
            field.any_value = False

    def clean_until(self):
        until = self.cleaned_data.get("until")
        if until is None:
            return None
        try:
            return until.astimezone(dt.UTC)
        except (OverflowError, ValueError):
            raise ValidationError("Enter a date/time between years 1 and 9999.") from None

    def clean(self):
        cleaned = super().clean()
        if "until" not in self.errors:
            if cleaned.get("until") is None and not cleaned.get("until_change"):
                self.add_error("until", "Say until when: a date, or until the record changes.")
            elif cleaned.get("until") is not None and cleaned.get("until_change"):
                self.add_error("until", "Choose a date or “until the record changes”, not both.")
        if cleaned.get("reason_code") == "other" and not cleaned.get("note", "").strip() and "note" not in self.errors:
            self.add_error("note", "Say why when the reason is “other”.")
        return cleaned


class SnoozeForm(ActionForm):
    until = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"],
        help_text="The item comes back to the queue at this time (ISO 8601 in the API).",
    )
    note = _note()

    def clean_until(self):
        until = self.cleaned_data["until"]
        try:
            until = until.astimezone(dt.UTC)
        except (OverflowError, ValueError):
            raise ValidationError("Enter a date/time between years 1 and 9999.") from None
        if until <= timezone.now():
            raise ValidationError("Snooze until a time in the future.")
        return until


class EscalateForm(ActionForm):
    reason = _reason(
        required=True,
        rows=2,
        help_text="Required: what the next person on the escalation path needs to know. "
        "The item never goes to you: a step naming you is skipped.",
    )


class ApproveForm(ActionForm):
    note = _note()


class RejectForm(ActionForm):
    reason = _reason(required=True, help_text="Required: why the proposal is wrong.")


class SendBackForm(ActionForm):
    """Send an approval back for review: who answers (default: whoever asked last, else the rule
    owner of the automation that prepared it) and what to check."""

    to = UserField(
        required=False,
        label="Send to",
        help_text="Who should check or answer (empty: whoever asked you last, else the automation's rule owner).",
    )
    note = _reason(required=True, help_text="Required: what should be checked or answered before a decision.")


class OverrideInput(forms.Widget):
    """The override's ``params`` as the admin asks for them: a rep select named ``owner`` for a
    prepared assignment, a text box named ``value`` otherwise, read back as ``{"owner": …}`` or
    ``{"value": …}``. Without a sub-input (the API) the ``params`` object is read as it is."""

    def __init__(self, sub: str = "", choices=(), attrs=None):
        super().__init__(attrs)
        self.sub = sub
        self.choices = list(choices)

    def value_from_datadict(self, data, files, name):
        if not self.sub:
            return data.get(name)
        value = data.get(self.sub)
        return {self.sub: value} if value not in (None, "") else None

    def value_omitted_from_data(self, data, files, name):
        return (self.sub or name) not in data

    def id_for_label(self, id_):
        return f"id_{self.sub}" if self.sub else id_

    def render(self, name, value, attrs=None, renderer=None):
        current = value.get(self.sub, "") if isinstance(value, dict) else ""
        attrs = {**(attrs or {}), "id": self.id_for_label(attrs.get("id", "") if attrs else "")}
        if self.choices:
            inner = forms.Select(choices=[("", "---------"), *self.choices])
        else:
            inner = forms.TextInput()
        return inner.render(self.sub or name, current, attrs, renderer)


class OverrideForm(ActionForm):
    """Apply the prepared action with a human's change: ``params`` replace the proposal's
    (``{"owner": "<rep external id>"}`` for a different owner, ``{"value": …}`` for a different value)."""

    params = JSONObjectField(
        widget=OverrideInput(),
        label="Different parameters",
        help_text="The action's parameters to apply instead of the proposal's.",
    )
    note = _note()

    def __init__(self, *args, item=None, **kwargs):
        super().__init__(*args, item=item, **kwargs)
        if item is not None:
            self._show_for(item)

    def _show_for(self, item) -> None:
        handler = approval_handler(item.kind)
        spec = handler.override_field(item.proposal or {}) if handler and handler.override_field else None
        field = self.fields["params"]
        if spec is None:
            field.help_text = "This prepared action has nothing a person can change: approve or reject it."
            return
        field.widget = OverrideInput(spec.name, spec.choices)
        field.label = spec.label
        field.help_text = spec.help_text


# --- The queue's own actions ---------------------------------------------------------------------

register_item_action(
    "approve",
    "Approve",
    single=approvals.exception_approval_approve,
    form=ApproveForm,
    approval_only=True,
    done="approved",
    summary="Approve the proposed action",
    order=10,
)
register_item_action(
    "reject",
    "Reject",
    single=approvals.exception_approval_reject,
    form=RejectForm,
    approval_only=True,
    done="rejected",
    summary="Reject the proposed action",
    order=20,
)
register_item_action(
    "override",
    "Override",
    single=approvals.exception_approval_override,
    form=OverrideForm,
    approval_only=True,
    done="overridden",
    summary="Apply the action with other parameters",
    order=30,
)
register_item_action(
    "send_back",
    "Send back for review",
    single=approvals.exception_approval_send_back,
    form=SendBackForm,
    approval_only=True,
    done="sent back for review",
    summary="Ask someone to check or answer before the decision",
    order=35,
)
register_item_action(
    "claim",
    "Claim",
    single=services.exception_item_claim,
    bulk=services.exception_items_bulk_claim,
    offered=lambda item: item.claimed_at is None,
    done="claimed",
    summary="Claim an item (become its owner)",
    order=40,
)
register_item_action(
    "assign",
    "Assign",
    single=services.exception_item_assign,
    bulk=services.exception_items_bulk_assign,
    form=AssignForm,
    done="assigned",
    summary="Assign an item to someone",
    bulk_label="Assign the selected items to…",
    order=50,
)
register_item_action(
    "resolve",
    "Resolve",
    single=services.exception_item_resolve,
    bulk=services.exception_items_bulk_resolve,
    form=ResolveForm,
    # A pending approval is approved, rejected, overridden or dismissed; the page offers no "resolve".
    offered=lambda item: not item.is_approval or bool(item.decision),
    done="resolved",
    summary="Resolve an item with a reason code",
    bulk_label="Resolve the selected items (reason code and note)…",
    order=60,
)
register_item_action(
    "dismiss",
    "Dismiss",
    single=services.exception_item_dismiss,
    bulk=services.exception_items_bulk_dismiss,
    form=DismissForm,
    done="dismissed",
    summary="Dismiss an item (no action needed)",
    bulk_label="Dismiss the selected items (reason required)…",
    order=70,
)
register_item_action(
    "snooze",
    "Snooze",
    single=services.exception_item_snooze,
    bulk=services.exception_items_bulk_snooze,
    form=SnoozeForm,
    done="snoozed",
    summary="Snooze an item until a time",
    bulk_label="Snooze the selected items until…",
    order=80,
)
register_item_action(
    "suppress",
    "Suppress",
    single=suppressions.exception_item_suppress,
    form=SuppressForm,
    needs_input=True,
    permission="dismiss",  # whoever may dismiss the item may silence its rules for the record
    offered=lambda item: bool(item.object_type and item.object_id is not None) and not item.is_approval,
    done="suppressed for its record",
    summary="Suppress rules of an item for its record (until a date or until the record changes)",
    order=75,
)
register_item_action(
    "escalate",
    "Escalate",
    single=services.exception_item_escalate,
    bulk=services.exception_items_bulk_escalate,
    form=EscalateForm,
    done="escalated",
    summary="Escalate an item one level",
    order=90,
)


# --- Row macros: one click on a row of the triage list ------------------------------------------


@dataclass(frozen=True)
class ItemMacro:
    """A one-click shortcut on a row of the triage list: an item action with its input filled in.

    ``data()`` returns the action form's input (strings, as a form posts them), so a macro is
    validated and performed exactly like the action itself; ``offered(item)`` hides it on rows where
    it makes no sense (the action's own ``offered_for`` and role check apply too).
    """

    key: str
    label: str
    action: str
    data: Callable[[], dict[str, str]]
    title: str = ""
    offered: Callable | None = None
    order: int = 100

    def offered_for(self, user, item) -> bool:
        action = item_action(self.action)
        return (
            action is not None
            and action.offered_for(item)
            and action.allowed(user, item)
            and (self.offered is None or bool(self.offered(item)))
        )


_MACROS: dict[str, ItemMacro] = {}


def register_item_macro(
    key: str,
    label: str,
    *,
    action: str,
    data: Callable[[], dict[str, str]] | None = None,
    title: str = "",
    offered: Callable | None = None,
    order: int = 100,
) -> ItemMacro:
    """Add a row macro to the triage list (idempotent by key): ``action`` with ``data()`` as its input."""
    if not KEY_PATTERN.match(key):
        raise ValueError(f"item macro key {key!r} must be lower-case letters, digits and _ (a URL segment)")
    macro = _MACROS[key] = ItemMacro(
        key=key, label=label, action=action, data=data or dict, title=title or label, offered=offered, order=order
    )
    return macro


def item_macro(key: str) -> ItemMacro | None:
    return _MACROS.get(key)


def item_macros() -> list[ItemMacro]:
    """Every row macro, in button order."""
    return sorted(_MACROS.values(), key=lambda macro: (macro.order, macro.key))


def _tomorrow_same_time() -> dict[str, str]:
    return {"until": (timezone.localtime() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")}


register_item_macro(
    "claim",
    "Claim",
    action="claim",
    title="Claim the item: you become its owner",
    order=10,
)
register_item_macro(
    "approve",
    "Approve",
    action="approve",
    title="Approve the proposed action as prepared",
    order=15,
)
register_item_macro(
    "fixed_in_crm",
    "Fixed in CRM",
    action="resolve",
    data=lambda: {"reason_code": "fixed_in_crm", "note": ""},
    title="Resolve: fixed in the CRM",
    order=20,
)
register_item_macro(
    "not_an_issue",
    "Not an issue",
    action="resolve",
    data=lambda: {"reason_code": "not_an_issue", "note": ""},
    title="Resolve: not an issue",
    order=30,
)
register_item_macro(
    "snooze_day",
    "Snooze 1 day",
    action="snooze",
    data=_tomorrow_same_time,
    title="Snooze until this time tomorrow: the item leaves the open view until then",
    offered=lambda item: item.status != "snoozed",
    order=40,
)
