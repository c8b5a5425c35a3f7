"""The lifecycle panels of a lead's Why page: each active model's score explained point by point, and the
lead's stage with its history, each move with its cause in words."""

from __future__ import annotations

from .selectors import why_scores


def why_score_panel(object_type: str, object_id: int, *, request=None) -> dict | None:
    if object_type != "lead":
        return None
    scores = why_scores(object_id)
    return {"scores": scores} if scores else None


def why_stage_panel(object_type: str, object_id: int, *, request=None) -> dict | None:
    """The "Lifecycle stage" panel: the lead's stage now (with its SLA) and every move with its cause."""
    if object_type != "lead":
        return None
    from .stage_selectors import stage_history

    return stage_history(object_id)
