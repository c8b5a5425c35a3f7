"""Configuration as code for lifecycle stages: the ``lifecycle_stages`` section (order 43, after the
scoring models and routing's SLA policies). A stage is identified by its name; ``accept_to`` and
``reject_to`` name other stages and ``sla_policy`` an SLA policy by name. Stages that name stages
later in the file are saved in two steps (first without their answers' targets), so the order of the
file does not matter. Writes go through ``stage_save`` / ``stage_delete``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from revops import conditions
from revops.configuration.base import Attr, Entry, Run, Section, register_section
from revops.configuration.document import sorted_deep
from revops.engine.registry import sla_timer

from .models import Stage
from .stage_services import SLA_TIMER, stage_delete, stage_save

ANSWER_ATTRS = ("awaits_acceptance", "accept_to", "reject_to", "crm_accepted_status", "crm_rejected_status")


def _condition(tree: Any) -> Any:
    if not tree or tree == {"all": []}:
        return {}
    try:
        return sorted_deep(conditions.clean_condition(tree, object_type="lead"))
    except ValidationError:
        return sorted_deep(tree)


def _policies() -> set[str]:
    timer = sla_timer(SLA_TIMER)
    return {name for name, _label in timer.choices()} if timer else set()


@register_section
class StageSection(Section):
    """Lifecycle stages: order, kind, entry criteria, SLA policy and what sales' answers do."""

    name = "lifecycle_stages"
    order = 43
    identity_attrs = ("name",)
    attrs = (
        Attr("name", required=True),
        Attr("key", required=True),
        Attr("description"),
        Attr("position", "int", default=0),
        Attr("kind", default="funnel"),
        Attr("entry_condition", "map", default=dict),
        Attr("hold_days", "int", default=0),
        Attr("sla_policy", default=None, nullable=True),
        Attr("awaits_acceptance", "bool", default=False),
        Attr("accept_to", default=None, nullable=True),
        Attr("reject_to", default=None, nullable=True),
        Attr("crm_accepted_status"),
        Attr("crm_rejected_status"),
    )

    def identity(self, data: dict[str, Any]) -> str:
        return data["name"]

    def describe(self, key: str) -> str:
        return repr(key)

    def stored(self) -> dict[str, Stage]:
        return {s.name: s for s in Stage.objects.select_related("accept_to", "reject_to").order_by("position", "pk")}

    def serialize(self, obj: Stage) -> dict[str, Any]:
        return {
            "name": obj.name,
            "key": obj.key,
            "description": obj.description,
            "position": obj.position,
            "kind": obj.kind,
            "entry_condition": _condition(obj.entry_condition),
            "hold_days": obj.hold_days,
            "sla_policy": obj.sla_policy or None,
            "awaits_acceptance": obj.awaits_acceptance,
            "accept_to": obj.accept_to.name if obj.accept_to_id else None,
            "reject_to": obj.reject_to.name if obj.reject_to_id else None,
            "crm_accepted_status": obj.crm_accepted_status,
            "crm_rejected_status": obj.crm_rejected_status,
        }

    def normalize(self, entry: Entry, run: Run) -> dict[str, Any]:
        data = dict(entry.data)
        data["entry_condition"] = _condition(data["entry_condition"])
        return data

    def upsert(self, entries, run: Run) -> None:
        self._deferred: list[tuple[Entry, dict[str, Any]]] = []
        super().upsert(entries, run)
        for entry, values in self._deferred:  # the stages they name exist now
            stage = Stage.objects.filter(name=entry.key).first()
            if stage is not None:
                self._save(stage, entry, values, run, second=True)

    def _save(self, stage: Stage, entry: Entry, values: dict[str, Any], run: Run, *, second: bool = False) -> None:
        answers = {
            **{k: self.serialize(stage)[k] for k in ANSWER_ATTRS},
            **{k: values[k] for k in ANSWER_ATTRS if k in values},
        }
        for name in ("key", "description", "position", "kind", "entry_condition", "hold_days"):
            if name in values:
                setattr(stage, name, values[name])
        for name in ("crm_accepted_status", "crm_rejected_status", "awaits_acceptance"):
            if name in values:
                setattr(stage, name, values[name])
        if "sla_policy" in values:
            wanted = values["sla_policy"]
            if wanted is not None and wanted not in _policies():
                run.error(entry.location, "sla_policy", f"no SLA policy is named {wanted!r}")
                return
            stage.sla_policy = wanted or ""
        late = False
        for name in ("accept_to", "reject_to"):
            if name not in values:
                continue
            target = values[name]
            found = Stage.objects.filter(name=target).first() if target else None
            if target and found is None:
                if not second:
                    late = True
                    continue
                run.error(entry.location, name, f"no stage is named {target!r}")
                return
            setattr(stage, f"{name}_id", found.pk if found else None)
        if late:  # saved now without the answers' targets, completed once the stages they name exist
            self._deferred.append((entry, answers))
            stage.awaits_acceptance, stage.crm_accepted_status, stage.crm_rejected_status = False, "", ""
            stage.accept_to_id = stage.reject_to_id = None
        run.call(entry.location, stage_save, stage=stage, actor=run.actor, reason=run.reason)

    def create(self, entry: Entry, desired: dict[str, Any], run: Run) -> None:
        self._save(Stage(name=desired["name"]), entry, desired, run)

    def update(self, obj: Stage, entry: Entry, changes: dict[str, Any], run: Run) -> None:
        self._save(obj, entry, changes, run)

    def remove(self, key: str, obj: Stage, run: Run) -> None:
        location = self.location(None, key)
        run.change(self.name, "delete", self.describe(key), location)
        run.call(location, stage_delete, stage=obj, actor=run.actor, reason=run.reason)
