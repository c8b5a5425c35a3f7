"""Configuration as code for handoffs: the ``checklists`` section.

Imported from ``HandoffsConfig.ready`` so the section joins ``revops.configuration`` (export, plan,
apply, prune). Applied after the dictionary (its required fields name dictionary keys). The
receiving team and rep are CRM external ids. Writes go through ``checklist_save`` (validated,
with history); prune deletes a checklist no deal has a handoff for, and refuses otherwise
(deactivate it with ``is_active: false`` instead, so its handoffs keep their history).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from revops.configuration.base import Attr, Entry, Run, Section, register_section
from revops.models import Rep, Team
from revops.plugins import assignee_source

from .models import Checklist
from .services import checklist_save


def _checklist_delete(*, checklist: Checklist, actor, reason: str = "") -> None:
    if checklist.handoffs.exists():
        raise ValidationError(
            f"{checklist.name!r} has handoffs; set is_active: false instead of removing it, so they keep their history."
        )
    checklist.delete()


def _pools() -> list[tuple[int, str]]:
    """The routing pools a checklist can hand out through (by name in the file), if an app provides them."""
    source = assignee_source("pool")
    return source.choices() if source else []


@register_section
class ChecklistSection(Section):
    """Handoff readiness checklists: when they apply, what must be there, who receives the deal."""

    name = "checklists"
    order = 40
    identity_attrs = ("name",)
    attrs = (
        Attr("name", required=True),
        Attr("description"),
        Attr("is_active", "bool", default=True),
        Attr("kind", default="deal"),
        Attr("trigger_stage", default="closed_won"),
        Attr("renewal_field", default="renewal_date"),
        Attr("days_before", "int", default=90),
        Attr("conditions", "map", default=dict),
        Attr(
            "required_fields",
            "entries",
            default=list,
            items=(Attr("field", required=True), Attr("when", "map", default=None, nullable=True)),
        ),
        Attr(
            "attestations",
            "entries",
            default=list,
            items=(Attr("key", required=True), Attr("label", required=True), Attr("role")),
        ),
        Attr(
            "tasks",
            "entries",
            default=list,
            items=(Attr("title", required=True), Attr("due_in_days", "int", default=0), Attr("description")),
        ),
        Attr("receiving_team", default=None, nullable=True),
        Attr("owner_rule", default="deal_owner"),
        Attr("owner_rep", default=None, nullable=True),
        Attr("owner_field"),
        Attr("owner_pool", default=None, nullable=True),
        Attr("accept_within_hours", "int", default=48),
    )

    def identity(self, data: dict[str, Any]) -> str:
        return data["name"]

    def describe(self, key: str) -> str:
        return repr(key)

    def stored(self) -> dict[str, Checklist]:
        return {row.name: row for row in Checklist.objects.select_related("receiving_team", "owner_rep")}

    def serialize(self, obj: Checklist) -> dict[str, Any]:
        data = {a.name: getattr(obj, a.name) for a in self.attrs if a.name != "owner_pool"}
        data["owner_pool"] = dict(_pools()).get(obj.owner_pool_id) if obj.owner_pool_id else None
        data["receiving_team"] = obj.receiving_team.external_id if obj.receiving_team_id else None
        data["owner_rep"] = obj.owner_rep.external_id if obj.owner_rep_id else None
        data["required_fields"] = [
            {key: value for key, value in entry.items() if not (key == "when" and not value)}
            for entry in obj.required_fields
        ]
        data["tasks"] = [
            {key: value for key, value in entry.items() if not (key == "due_in_days" and not value)}
            for entry in obj.tasks
        ]
        return data

    def _save(self, checklist: Checklist, entry: Entry, values: dict[str, Any], run: Run) -> None:
        for name, model, what in (("receiving_team", Team, "team"), ("owner_rep", Rep, "rep")):
            if name in values:
                ref = values[name]
                values[name] = model.objects.filter(external_id=ref).first() if ref else None
                if ref and values[name] is None:
                    run.error(entry.location, name, f"no {what} with external id {ref!r}")
                    return
        if "owner_pool" in values:
            ref = values.pop("owner_pool")
            values["owner_pool_id"] = {name: pk for pk, name in _pools()}.get(ref) if ref else None
            if ref and values["owner_pool_id"] is None:
                run.error(entry.location, "owner_pool", f"no active routing pool named {ref!r}")
                return
        for name, value in values.items():
            setattr(checklist, name, value)
        run.call(entry.location, checklist_save, checklist=checklist, actor=run.actor, reason=run.reason)

    def create(self, entry: Entry, desired: dict[str, Any], run: Run) -> None:
        self._save(Checklist(), entry, dict(desired), run)

    def update(self, obj: Checklist, entry: Entry, changes: dict[str, Any], run: Run) -> None:
        self._save(obj, entry, dict(changes), run)

    def remove(self, key: str, obj: Checklist, run: Run) -> None:
        location = self.location(None, key)
        run.change(self.name, "delete", self.describe(key), location)
        run.call(location, _checklist_delete, checklist=obj, actor=run.actor, reason=run.reason)
