"""History pages in plain language: what changed, with labels, names and local times.

simple_history's list shows a missing owner as "Deleted rep (pk=None)" and a custom attribute
change as two raw dicts. ``PlainHistoryHelper`` (used by every ``AuditedAdmin``) shows "empty",
the related record's name, choice labels, local times, and one line per changed attribute, named by
the dictionary's label.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils.text import capfirst
from simple_history.models import DeletedObject
from simple_history.template_utils import HistoricalRecordContextHelper

from revops.conditions.render import value_text
from revops.display import FieldText, list_labels
from revops.selectors import RECORD_MODELS
from revops.values import moment_text

_OBJECT_TYPES = {model_name.lower(): object_type for object_type, model_name in RECORD_MODELS.items()}
_LONGEST = 200


def _shown(field: models.Field | None, value: Any) -> str:
    if isinstance(value, list) and value and field is not None and (labels := list_labels(field.model, field.name)):
        value = [labels.get(item, item) for item in value]
    if isinstance(value, DeletedObject):
        if value.pk is None:
            return "empty"
        return f"a deleted {value.model._meta.verbose_name} (id {value.pk})"
    if value is None or value == "" or value == [] or value == {}:
        return "empty"
    if field is not None and field.choices and not isinstance(value, list | dict):
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.date):
        return moment_text(value) or str(value)
    if isinstance(value, Decimal):
        return f"{value:,}"
    if isinstance(value, Mapping):
        text = "; ".join(f"{key}: {value_text(item)}" for key, item in value.items())
    elif isinstance(value, models.Model):
        text = str(getattr(value, "name", None) or value)
    else:
        text = value_text(value)
    return text if len(text) <= _LONGEST else text[: _LONGEST - 1] + "…"


class PlainHistoryHelper(HistoricalRecordContextHelper):
    """The "changes" column of a history page, for people."""

    def context_for_delta_changes(self, delta) -> list[dict[str, Any]]:
        object_type = _OBJECT_TYPES.get(self.model._meta.model_name)
        text = FieldText() if object_type else None
        rows = []
        for change in delta.changes:
            try:
                field = self.model._meta.get_field(change.field)
            except Exception:
                field = None
            label = capfirst(str(getattr(field, "verbose_name", change.field)))
            old, new = change.old, change.new
            if (
                isinstance(field, models.JSONField)
                and isinstance(old or {}, Mapping)
                and isinstance(new or {}, Mapping)
            ):
                old, new = old or {}, new or {}
                for key in sorted(set(old) | set(new), key=str):
                    if old.get(key) != new.get(key):
                        name = text.label(object_type, key) if text else key
                        rows.append(
                            {
                                "field": f"{label} · {name}",
                                "old": _shown(None, old.get(key)),
                                "new": _shown(None, new.get(key)),
                            }
                        )
                continue
            rows.append({"field": label, "old": _shown(field, old), "new": _shown(field, new)})
        return rows
