"""The "Duplicates" panel of a lead's or an account's Why page: the sets the record is in, with the evidence."""

from __future__ import annotations

from django.urls import reverse

from .objects import duplicate_object
from .selectors import sets_of_record


def why_duplicates_panel(object_type: str, object_id: int, *, request=None) -> dict | None:
    if duplicate_object(object_type) is None:
        return None
    sets = sets_of_record(object_type, object_id)
    for item in sets:
        item["url"] = reverse("admin:dataquality_duplicateset_change", args=[item["set"].pk])
    return {"sets": sets} if sets else None
