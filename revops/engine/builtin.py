"""Built-in automation kinds: field updates, tasks, alerts, required-field prompts and notifications.

Every kind first evaluates the automation's conditions and only acts when they hold; the
explanation carries every condition's actual value and result (``explanation["checked"]``, shown
as the ✓/✗ list by ``engine.selectors.run_explanation``), or the full tree and its lines where the
kind's text quotes them (alerts, notifications). Kinds never write; they return an ``Outcome``
whose actions the engine applies.

Text parameters (task titles, alert titles, notification subjects and bodies) may use
``{record}`` (the record's name) and ``{external_id}``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError

from exceptions.models import ExceptionItem
from exceptions.registry import item_kind_keys
from revops.models import Rep

from .kinds import AutomationKind, register
from .registry import record_deadline
from .types import Action, Outcome

ASSIGNEES = ("owner", "owner_manager")
RECIPIENTS = ("owner", "owner_manager", "failure_owner", "rule_owner")
OWNER_CHOICES = ("failure_owner", "rule_owner", "record_owner")


def _err(message: str):
    return ValidationError({"config": message})


def _only(config: dict, allowed: set[str], label: str) -> None:
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise _err(f"{label} has no parameter {', '.join(map(repr, unknown))} (allowed: {', '.join(sorted(allowed))}).")


def _hours(config: dict, key: str, default: float | None) -> float | None:
    value = config.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value > 24 * 365:
        raise _err(f"{key} must be a number of hours between 0 and 8760, not {value!r}.")
    return value


def _text(config: dict, key: str, *, required: bool = False, default: str = "") -> str:
    value = config.get(key, default)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _err(f"{key} must be text.")
    if required and not value.strip():
        raise _err(f"{key} is required.")
    return value.strip()


def _choice(config: dict, key: str, choices, default: str) -> str:
    value = config.get(key, default)
    if value not in choices:
        raise _err(f"{key} must be one of {', '.join(choices)}, not {value!r}.")
    return value


def _fill(template: str, record) -> str:
    return template.replace("{record}", str(record)).replace("{external_id}", getattr(record, "external_id", "") or "")


def _label(fields: dict | None, object_type: str, key: str) -> str:
    spec = (fields or {}).get((object_type, key))
    return getattr(spec, "label", None) or key.replace("_", " ")


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _assignee(record, assignee: str, context) -> tuple[Rep | None, str]:
    owner = getattr(record, "owner", None)
    if assignee == "owner":
        return owner, "owner"
    if assignee == "owner_manager":
        return (owner.manager if owner is not None else None), "owner's manager"
    rep = context.cache.get(f"rep:{assignee}", lambda: Rep.objects.filter(external_id=assignee).first())
    return rep, "assignee"


class _Base(AutomationKind):
    """A kind that acts only when the conditions hold (each kind declares ``gated``). Its runs store the
    conditions in compact form (``explanation["checked"]``, expanded by the pages that show a run); a
    kind whose text needs the checked lines asks ``full_explanation``."""

    def holds(self, context, predicate) -> bool:
        """Whether the rule's conditions hold: known when the engine already checked them."""
        return context.judged_for(predicate) is not None or bool(predicate(context.ctx))

    def checked(self, context, predicate) -> dict:
        """The explanation with the conditions in compact form (``context.conditions_checked``)."""
        return {"kind": self.key, **context.conditions_checked(predicate)[1]}

    def not_fired(self, predicate, ctx, checked: list | None = None) -> Outcome:
        """The conditions checked, and no summary: a page says it in words from them when it shows the run
        (``engine.selectors.run_summary``), in the viewer's language and time zone. Most
        events trigger rules whose conditions fail, and most such runs are never looked at."""
        if checked is None:
            checked = predicate.check(ctx)
        return Outcome(False, None, {"kind": self.key, "checked": checked})

    def full_explanation(self, context, predicate) -> dict:
        """The explanation with the condition tree and its lines (``conditions``, ``conditions_text``)."""
        _matched, explanation = context.conditions_explanation(predicate)
        explanation["kind"] = self.key
        return explanation


@register
class FieldUpdate(_Base):
    """Set fields on the record when the conditions hold."""

    key = "field_update"
    gated = True
    label = "Update fields"
    description = 'Sets dictionary fields when the conditions hold. Config: {"set": {"<field key>": <value>}}.'

    def validate_config(self, config: dict[str, Any], *, object_type: str) -> dict[str, Any]:
        from revops.validation import InvalidValue, validator_for

        _only(config, {"set"}, self.label)
        values = config.get("set")
        if not isinstance(values, dict) or not values:
            raise _err('name the fields to set: {"set": {"<field key>": <value>}}.')
        specs = validator_for(object_type).specs
        cleaned = {}
        for key, value in values.items():
            spec = specs.get(key)
            if spec is None:
                raise _err(f"the data dictionary defines no {object_type} field {key!r}.")
            if spec.field_type == "reference":
                raise _err(f"{key} is a reference; automations change owners with an assignment, not a field update.")
            if value is None:
                cleaned[key] = None
                continue
            try:
                coerced = spec.coerce(value)
            except InvalidValue as exc:
                raise _err(f"{key}: {exc}") from None
            from revops.values import jsonable

            cleaned[key] = jsonable(coerced)
        return {"set": cleaned}

    def evaluate(self, record, *, version, predicate, context) -> Outcome:
        if not self.holds(context, predicate):
            return self.not_fired(predicate, context.ctx)
        explanation = self.checked(context, predicate)
        return self._set(
            record, version, predicate, explanation, fields=context.fields, object_type=context.object_type
        )

    def fire_checked(self, rule, record, checked: list, *, fields: dict) -> Outcome:
        explanation = {"kind": self.key, "checked": checked}
        return self._set(
            record, rule.version, rule.predicate, explanation, fields=fields, object_type=rule.automation.object_type
        )

    def _set(self, record, version, predicate, explanation: dict, *, fields: dict, object_type: str) -> Outcome:
        values = (version.config or {}).get("set", {})
        # The same for every record of a type: said, and the actions built, once per compiled rule, dictionary
        # and values to set (actions are frozen; their parameters are read, never changed).
        said = predicate.memo.get((self.key, type(record)))
        if said is None or said[0] is not fields or said[1] != values:
            labels = ", ".join(f"{_label(fields, object_type, k)} to {_shown(record, k, v)}" for k, v in values.items())
            actions = tuple(Action("update_field", {"key": k, "value": v}) for k, v in values.items())
            said = predicate.memo[(self.key, type(record))] = (fields, dict(values), labels, actions)
        explanation["set"] = values
        return Outcome(
            True,
            list(said[3]),
            explanation,
            f"Conditions met: set {said[2]} on {record}.",
            "Nothing: the portal sets the fields and tells the CRM through the changes feed.",
        )


@register
class CreateTask(_Base):
    """Create a follow-up task for the owner (or their manager, or a named rep)."""

    key = "create_task"
    gated = True
    label = "Create a task"
    description = (
        'Creates a task when the conditions hold. Config: {"title", "description", "due_in_hours", '
        '"assignee": "owner" | "owner_manager" | <rep external id>}.'
    )
    object_types = ("lead", "account", "opportunity")

    def validate_config(self, config: dict[str, Any], *, object_type: str) -> dict[str, Any]:
        _only(config, {"title", "description", "due_in_hours", "assignee"}, self.label)
        assignee = config.get("assignee", "owner")
        if not isinstance(assignee, str) or not assignee:
            raise _err("assignee must be owner, owner_manager or a rep's external id.")
        if assignee not in ASSIGNEES and not Rep.objects.filter(external_id=assignee).exists():
            raise _err(f"assignee {assignee!r} is neither owner, owner_manager nor a known rep's external id.")
        return {
            "title": _text(config, "title", required=True)[:255],
            "description": _text(config, "description"),
            "due_in_hours": _hours(config, "due_in_hours", 24),
            "assignee": assignee,
        }

    def evaluate(self, record, *, version, predicate, context) -> Outcome:
        if not self.holds(context, predicate):
            return self.not_fired(predicate, context.ctx)
        explanation = self.checked(context, predicate)
        config = context.config
        rep, role = _assignee(record, config.get("assignee", "owner"), context)
        due = context.now + dt.timedelta(hours=config.get("due_in_hours") or 24)
        title = _fill(config["title"], record)
        explanation["task"] = {"title": title, "assignee": getattr(rep, "external_id", None), "due_at": due.isoformat()}
        # One deadline per record and person: a task for a rep who already owes something here (a hot
        # lead's first touch under its response SLA) is due when that is, not at a second time.
        deadline = record_deadline(record, rep)
        when = ""
        if deadline is not None:
            due = deadline.due_at
            explanation["task"]["due_at"] = due.isoformat()
            explanation["deadline"] = (
                f"the task is due with {deadline.text} ({_when(due)}), not {_hours_text(config)} after it was created"
            )
            when = f", when {deadline.text} is due"
        who = f"{rep.name} ({role})" if rep is not None else f"Nobody ({role} not set) — RevOps"
        return Outcome(
            fired=True,
            actions=[
                Action(
                    "create_task",
                    {
                        "title": title,
                        "description": _fill(config.get("description", ""), record),
                        "owner_id": getattr(rep, "pk", None),
                        "due_at": due.isoformat(),
                    },
                )
            ],
            explanation=explanation,
            summary=f"Conditions met: task {title!r} created for {who} on {record}.",
            expected_next=f"{who} should {title[0].lower() + title[1:] if title else 'act'} by {_when(due)}{when}.",
        )


def _hours_text(config: dict) -> str:
    hours = config.get("due_in_hours") or 24
    return f"{hours:g} hour{'' if hours == 1 else 's'}"


@register
class Alert(_Base):
    """Open (or refresh) an exception item when the conditions hold."""

    key = "alert"
    gated = True
    label = "Raise an alert"
    description = (
        'Opens an exception item when the conditions hold. Config: {"title", "exception_kind", "severity", '
        '"expected_action", "owner": "failure_owner" | "rule_owner" | "record_owner", "due_in_hours"}.'
    )

    def validate_config(self, config: dict[str, Any], *, object_type: str) -> dict[str, Any]:
        _only(config, {"title", "exception_kind", "severity", "expected_action", "owner", "due_in_hours"}, self.label)
        return {
            "title": _text(config, "title", required=True)[:200],
            "exception_kind": _choice(config, "exception_kind", sorted(item_kind_keys()), "hygiene_alert"),
            "severity": _choice(config, "severity", ExceptionItem.Severity.values, ExceptionItem.Severity.MEDIUM),
            "expected_action": _text(config, "expected_action", required=True),
            "owner": _choice(config, "owner", OWNER_CHOICES, "rule_owner"),
            "due_in_hours": _hours(config, "due_in_hours", None),
        }

    def evaluate(self, record, *, version, predicate, context) -> Outcome:
        if not self.holds(context, predicate):
            return self.not_fired(predicate, context.ctx)
        explanation = self.full_explanation(context, predicate)
        config = context.config
        because = "; ".join(line.strip().lstrip("✓ ") for line in explanation["conditions_text"][1:] if "✓" in line)
        reason = f"{context.automation.name}: {record} matched — {because or 'no conditions'}."
        title = _fill(config["title"], record)
        owner = config.get("owner", "rule_owner")
        params = {
            "kind": config.get("exception_kind", "hygiene_alert"),
            "title": title,
            "reason": reason,
            "expected_action": config["expected_action"],
            "severity": config.get("severity", "medium"),
            "owner": owner,
            "due_in_hours": config.get("due_in_hours"),
        }
        who = {
            "rule_owner": context.automation.rule_owner,
            "failure_owner": context.automation.failure_owner,
        }.get(owner)
        name = (who.get_full_name() or who.username) if who is not None else "The record's owner"
        return Outcome(
            fired=True,
            actions=[Action("open_exception", params)],
            explanation=explanation,
            summary=reason,
            expected_next=f"{name} ({owner.replace('_', ' ')}) should {config['expected_action'][0].lower()}"
            f"{config['expected_action'][1:]}",
        )


@register
class RequiredFields(_Base):
    """Prompt the owner to fill dictionary fields that are empty (a task and/or an exception item)."""

    key = "required_fields"
    gated = True
    label = "Required-field prompt"
    description = (
        'When the conditions hold and listed fields are empty, asks for them. Config: {"fields": [keys], '
        '"task": true, "exception": false, "exception_kind": "missing_data", "due_in_hours": 24}.'
    )
    object_types = ("lead", "account", "opportunity")

    def validate_config(self, config: dict[str, Any], *, object_type: str) -> dict[str, Any]:
        from revops.validation import validator_for

        _only(config, {"fields", "task", "exception", "exception_kind", "due_in_hours"}, self.label)
        keys = config.get("fields")
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            raise _err('list the required fields: {"fields": ["country", ...]}.')
        specs = validator_for(object_type).specs
        unknown = [k for k in keys if k not in specs]
        if unknown:
            raise _err(f"the data dictionary defines no {object_type} field {', '.join(map(repr, unknown))}.")
        task, exception = config.get("task", True), config.get("exception", False)
        if not isinstance(task, bool) or not isinstance(exception, bool):
            raise _err("task and exception are true or false.")
        if not task and not exception:
            raise _err("choose a task, an exception item, or both.")
        return {
            "fields": list(dict.fromkeys(keys)),
            "task": task,
            "exception": exception,
            "exception_kind": _choice(config, "exception_kind", sorted(item_kind_keys()), "missing_data"),
            "due_in_hours": _hours(config, "due_in_hours", 24),
        }

    def evaluate(self, record, *, version, predicate, context) -> Outcome:
        if not self.holds(context, predicate):
            return self.not_fired(predicate, context.ctx)
        explanation = self.checked(context, predicate)
        config = context.config
        missing = [key for key in config["fields"] if _empty(record, key)]
        explanation["required_fields"] = {"checked": config["fields"], "missing": missing}
        if not missing:
            return Outcome(
                fired=False,
                explanation=explanation,
                summary=f"All required fields are filled on {record}.",
            )
        labels = [_label(context.fields, context.object_type, key) for key in missing]
        listed = ", ".join(labels)
        due = context.now + dt.timedelta(hours=config.get("due_in_hours") or 24)
        owner = getattr(record, "owner", None)
        who = f"{owner.name} (owner)" if owner is not None else "Nobody (owner not set) — the rule owner"
        actions = []
        if config.get("task", True):
            actions.append(
                Action(
                    "create_task",
                    {
                        "title": f"Fill in {listed}"[:255],
                        "description": f"{context.automation.name}: {record} is missing {listed}.",
                        "owner_id": getattr(owner, "pk", None),
                        "due_at": due.isoformat(),
                    },
                )
            )
        if config.get("exception"):
            actions.append(
                Action(
                    "open_exception",
                    {
                        "kind": config.get("exception_kind", "missing_data"),
                        "title": f"{record}: missing {listed}"[:200],
                        "reason": f"{context.automation.name}: {record} is missing {listed}.",
                        "expected_action": f"Fill in {listed} on the record in the CRM.",
                        "owner": "record_owner" if owner is not None and owner.user_id else "rule_owner",
                        "due_in_hours": config.get("due_in_hours"),
                    },
                )
            )
        return Outcome(
            fired=True,
            actions=actions,
            explanation=explanation,
            summary=f"{record} is missing {listed}.",
            expected_next=f"{who} should fill in {listed} by {_when(due)}.",
        )


def _empty(record, key: str) -> bool:
    try:
        column = record._meta.get_field(key)
    except FieldDoesNotExist:
        value = (getattr(record, "attributes", None) or {}).get(key)
    else:
        value = getattr(record, column.attname)
    return value is None or value == "" or value == []


@register
class Notify(_Base):
    """Email the owner, their manager or the automation's owners when the conditions hold."""

    key = "notify"
    gated = True
    label = "Send a notification"
    description = (
        "Emails someone when the conditions hold (rate-limited per recipient, never the same twice). "
        'Config: {"to": "owner" | "owner_manager" | "failure_owner" | "rule_owner", "subject", "body"}.'
    )

    def validate_config(self, config: dict[str, Any], *, object_type: str) -> dict[str, Any]:
        _only(config, {"to", "subject", "body"}, self.label)
        return {
            "to": _choice(config, "to", RECIPIENTS, "owner"),
            "subject": _text(config, "subject", required=True)[:200],
            "body": _text(config, "body"),
        }

    def evaluate(self, record, *, version, predicate, context) -> Outcome:
        if not self.holds(context, predicate):
            return self.not_fired(predicate, context.ctx)
        explanation = self.full_explanation(context, predicate)
        config = context.config
        subject = _fill(config["subject"], record)
        body = _fill(config.get("body") or "", record) or "\n".join(explanation["conditions_text"])
        return Outcome(
            fired=True,
            actions=[Action("notify", {"to": config["to"], "subject": subject, "body": body})],
            explanation=explanation,
            summary=f"Conditions met: {config['to'].replace('_', ' ')} notified ({subject!r}).",
            expected_next=f"The {config['to'].replace('_', ' ')} should read the notification and act on {record}.",
        )


def _shown(record, key: str, value) -> str:
    """A value as people read it: a column's choice label ("Best case", not best_case), "empty" for none."""
    if value in (None, ""):
        return "empty"
    try:
        choices = dict(record._meta.get_field(key).choices or ())
    except FieldDoesNotExist:  # a custom attribute, not a column: its allowed values are already words
        choices = {}
    return str(choices.get(value, value))
