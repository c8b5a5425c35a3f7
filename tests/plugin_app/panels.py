"""The callback panel of a lead's Why page."""

from __future__ import annotations

from revops.models import Lead


def callback_panel(object_type: str, object_id: int, *, request=None) -> dict | None:
    if object_type != "lead":
        return None
    stamp = Lead.objects.filter(pk=object_id).values_list("attributes__callback_stamp", flat=True).first()
    return {"stamp": stamp} if stamp else None
