"""Service for reviewing rejected sync records (``SyncFailure``) in the admin."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from revops.models import SyncFailure


@transaction.atomic
def sync_failure_resolve(*, failure: SyncFailure, note: str, actor) -> SyncFailure:
    """Mark a rejected record as dealt with, saying what was done; a later note replaces the earlier one."""
    note = (note or "").strip()
    if not note:
        raise ValidationError({"resolved_note": "Say what was done about this failure."})
    failure.resolved_note = note
    if failure.resolved_at is None:
        failure.resolved_at = timezone.now()
    failure.save(update_fields=["resolved_note", "resolved_at"])
    return failure
