"""The ``automations`` section: the automation registry, keyed by name, owners by username."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from revops import conditions
from revops.configuration.base import Attr, Entry, Run, Section, register_section
from revops.configuration.document import sorted_deep
from revops.models import Automation

from . import services as automations
from .kinds import get_kind

OWNERS = ("rule_owner", "system_owner", "failure_owner")


@register_section
class AutomationSection(Section):
    """Automations through ``automation_create``/``automation_update``/``automation_set_mode``.

    Conditions are validated against the data dictionary as the file leaves it (the dictionary
    section is applied first), config against the automation's kind, and the go-live
    governance of the services applies. A change to conditions, config or risk makes a new
    version; other changes do not. Prune never deletes an automation (its runs and versions
    are the audit trail): it retires it.
    """

    name = "automations"
    order = 20
    identity_attrs = ("name",)
    attrs = (
        Attr("name", required=True),
        Attr("purpose", required=True),
        Attr("kind", required=True),
        Attr("object_type", required=True),
        Attr("trigger", default=Automation.Trigger.UPDATED.value),
        Attr("trigger_fields", "text_list", default=list),
        Attr("trigger_value"),
        Attr("schedule_minutes", "int", default=None, nullable=True),
        Attr("conditions", "map", default=dict),
        Attr("config", "map", default=dict),
        Attr("risk", default=Automation.Risk.LOW.value),
        Attr("mode", default=Automation.Mode.DRAFT.value),
        Attr("rule_owner", "user", default=None, nullable=True),
        Attr("system_owner", "user", default=None, nullable=True),
        Attr("failure_owner", "user", default=None, nullable=True),
        Attr("exception_queue"),
        Attr("downstream_effect"),
        Attr("rollback_notes"),
        Attr("review_cadence_days", "int", default=90),
        Attr("last_reviewed_at", "date", default=None, nullable=True),
        Attr("minutes_saved_per_run", "int", default=None, nullable=True),
    )

    def identity(self, data: dict[str, Any]) -> str:
        return data["name"]

    def describe(self, key: str) -> str:
        return repr(key)

    def stored(self) -> dict[str, Automation]:
        rows = Automation.objects.select_related(*OWNERS).order_by("name")
        return {row.name: row for row in rows}

    def serialize(self, obj: Automation) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for a in self.attrs:
            value = getattr(obj, a.name)
            if a.type == "user":
                value = value.get_username() if value is not None else None
            elif a.type == "map":
                value = sorted_deep(value or {})
            elif a.type == "text_list":
                value = list(value or [])
            data[a.name] = value
        return data

    def normalize(self, entry: Entry, run: Run) -> dict[str, Any]:
        """Conditions and config in the canonical form the services store, so equal rules compare equal.

        Invalid ones are left as written: the service reports them when the entry is applied.
        """
        data = dict(entry.data)
        object_type = data["object_type"]
        try:
            data["conditions"] = sorted_deep(
                conditions.clean_condition(data["conditions"] or {"all": []}, object_type=object_type)
            )
        except ValidationError:
            pass
        try:
            kind = get_kind(data["kind"])
            data["config"] = sorted_deep(kind.validate_config(data["config"] or {}, object_type=object_type))
        except (ValidationError, TypeError, ValueError, KeyError, AttributeError):
            pass
        return data

    def _users(self, entry: Entry, values: dict[str, Any], run: Run) -> dict[str, Any] | None:
        """``values`` with owner usernames replaced by users; None (and problems) when one is unknown."""
        resolved = dict(values)
        ok = True
        for name in OWNERS:
            username = values.get(name)
            if name not in values or username is None:
                continue
            user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
            if user is None:
                run.error(entry.location, name, f"no user with username {username!r}")
                ok = False
            resolved[name] = user
        return resolved if ok else None

    def create(self, entry: Entry, desired: dict[str, Any], run: Run) -> None:
        fields = self._users(entry, desired, run)
        if fields is not None:
            run.call(entry.location, automations.automation_create, actor=run.actor, reason=run.reason, **fields)

    def update(self, obj: Automation, entry: Entry, changes: dict[str, Any], run: Run) -> None:
        fields = self._users(entry, changes, run)
        if fields is not None:
            run.call(
                entry.location,
                automations.automation_update,
                automation=obj,
                actor=run.actor,
                reason=run.reason,
                **fields,
            )

    def remove(self, key: str, obj: Automation, run: Run) -> None:
        if obj.mode == Automation.Mode.RETIRED:
            return
        location = self.location(None, key)
        run.change(
            self.name, "retire", self.describe(key), location, [("mode", obj.mode, Automation.Mode.RETIRED.value)]
        )
        run.call(
            location,
            automations.automation_set_mode,
            automation=obj,
            mode=Automation.Mode.RETIRED,
            actor=run.actor,
            reason=run.reason,
        )
