"""The plug-in's periodic job: counts the stamped leads (enough to prove the schedule runs it)."""

from __future__ import annotations

from revops.models import Lead


def count_callbacks() -> int:
    return Lead.objects.filter(attributes__callback_stamp__isnull=False).count()
