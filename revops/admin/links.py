"""Links to a record's admin page and its Why page, by object type and id (None when there is none)."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse


def record_url(object_type: str, object_id) -> str | None:
    if not object_type or object_id is None:
        return None
    try:
        return reverse(f"admin:revops_{object_type}_change", args=[object_id])
    except NoReverseMatch:
        return None


def why_url(object_type: str, object_id) -> str | None:
    try:
        return reverse(f"admin:revops_{object_type}_why", args=[object_id])
    except NoReverseMatch:
        return None
