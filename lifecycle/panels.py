"""The "Lead score" panel of a lead's Why page: each active model's score explained point by point."""

from __future__ import annotations

from .selectors import why_scores


def why_score_panel(object_type: str, object_id: int, *, request=None) -> dict | None:
    if object_type != "lead":
        return None
    scores = why_scores(object_id)
    return {"scores": scores} if scores else None
