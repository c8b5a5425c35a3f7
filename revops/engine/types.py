"""Values passed between kinds and the engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .registry import ACTIONS


@dataclass(frozen=True)
class Action:
    """One thing to do. ``params`` must be JSON-serialisable; targets are given by ids."""

    type: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.type not in ACTIONS:
            raise ValueError(f"unknown action {self.type!r}; actions are {', '.join(sorted(ACTIONS))}")


@dataclass
class Outcome:
    """What a kind decided for one record: whether it fired, what to do, and why."""

    fired: bool
    actions: list[Action] = field(default_factory=list)
    explanation: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    expected_next: str = ""
    data: Any = None  # the kind's own result object, handed back to its ``record_outcome`` hook (not stored)
