"""Configuration as code for the exception queue: the ``queues`` section.

Imported from ``ExceptionsConfig.ready`` so the section joins ``revops.configuration`` (export,
plan, apply, prune; the file format is in docs/config.md). It is applied after the dictionary and
before the automations and the routing rules (order 11), which name their queue, so one file can add a queue and the
rules that use it. The team is its CRM external id, people are usernames. Every write goes
through ``exceptions.queues`` (``queue_save``/``queue_delete``); prune deletes only a queue that
holds no item and that nothing names.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from revops.configuration.base import Attr, Entry, Run, Section, register_section
from revops.models import Team

from .models import Queue
from .queues import queue_delete, queue_save

PEOPLE = ("manager", "escalation_target")


def _maps(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


@register_section
class QueueSection(Section):
    """Exception queues: who works them (team, manager), the escalation path and the due hours by severity."""

    name = "queues"
    order = 11
    identity_attrs = ("name",)
    attrs = (
        Attr("name", required=True),
        Attr("description"),
        Attr("team", default=None, nullable=True),
        Attr("manager", "user", default=None, nullable=True),
        Attr("escalation_target", "user", default=None, nullable=True),
        Attr("due_hours_critical", "int", default=4),
        Attr("due_hours_high", "int", default=24),
        Attr("due_hours_medium", "int", default=72),
        Attr("due_hours_low", "int", default=168),
        Attr("is_default", "bool", default=False),
    )

    def identity(self, data: dict[str, Any]) -> str:
        return data["name"]

    def describe(self, key: str) -> str:
        return repr(key)

    def implied(self, document: dict[str, Any]) -> list[dict[str, Any]]:
        """A file without a ``queues`` section (one exported before queues were configuration) names its
        queues only in its automations' exception paths and routing fallbacks, which used to be free
        text: those that do not exist are created (with the defaults) and shown in the plan; existing
        ones are left alone. (A routing rule's ``target_queue`` always had to exist, and still does.)"""
        names: set[str] = set()
        for automation in _maps(document.get("automations")):
            names.add(str(automation.get("exception_queue") or "").strip())
            fallback = (
                automation.get("config", {}).get("fallback") if isinstance(automation.get("config"), dict) else None
            )
            if isinstance(fallback, dict) and fallback.get("type") == "queue":
                names.add(str(fallback.get("queue") or "").strip())
        return [{"name": name} for name in sorted(names - {""})]

    def stored(self) -> dict[str, Queue]:
        rows = Queue.objects.select_related("team", "manager", "escalation_target").order_by("name")
        return {row.name: row for row in rows}

    def serialize(self, obj: Queue) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for a in self.attrs:
            value = getattr(obj, a.name)
            if a.name == "team":
                value = value.external_id if value is not None else None
            elif a.type == "user":
                value = value.get_username() if value is not None else None
            data[a.name] = value
        return data

    def _resolve(self, entry: Entry, values: dict[str, Any], run: Run) -> dict[str, Any] | None:
        """``values`` with the team and people looked up; None (and located problems) when one is unknown."""
        resolved, ok = dict(values), True
        if values.get("team"):
            resolved["team"] = Team.objects.filter(external_id=values["team"]).first()
            if resolved["team"] is None:
                run.error(entry.location, "team", f"no team with external id {values['team']!r}")
                ok = False
        User = get_user_model()
        for name in PEOPLE:
            if values.get(name):
                resolved[name] = User.objects.filter(**{User.USERNAME_FIELD: values[name]}).first()
                if resolved[name] is None:
                    run.error(entry.location, name, f"no user with username {values[name]!r}")
                    ok = False
        return resolved if ok else None

    def _save(self, queue: Queue, entry: Entry, values: dict[str, Any], run: Run) -> None:
        resolved = self._resolve(entry, values, run)
        if resolved is None:
            return
        for name, value in resolved.items():
            setattr(queue, name, value)
        run.call(entry.location, queue_save, queue=queue, actor=run.actor, reason=run.reason)

    def create(self, entry: Entry, desired: dict[str, Any], run: Run) -> None:
        self._save(Queue(), entry, desired, run)

    def update(self, obj: Queue, entry: Entry, changes: dict[str, Any], run: Run) -> None:
        self._save(obj, entry, changes, run)

    def remove(self, key: str, obj: Queue, run: Run) -> None:
        location = self.location(None, key)
        run.change(self.name, "delete", self.describe(key), location)
        run.call(location, queue_delete, queue=obj, actor=run.actor, reason=run.reason)
