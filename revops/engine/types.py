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


@dataclass(init=False, slots=True)
class Outcome:
    """What a kind decided for one record: whether it fired, what to do, and why.

    A gated kind's run that did not fire carries no ``summary``: the conditions it checked
    (``explanation["checked"]``) say it, in words when a page shows the run
    (``revops.engine.selectors.run_summary``). Slotted with a plain ``__init__``: the engine builds
    one for every rule an event triggers."""

    fired: bool
    actions: list[Action]
    explanation: dict[str, Any]
    summary: str
    expected_next: str
    data: Any  # the kind's own result object, handed back to its ``record_outcome`` hook (not stored)

    def __init__(
        self,
        fired: bool,
        actions: list[Action] | None = None,
        explanation: dict[str, Any] | None = None,
        summary: str = "",
        expected_next: str = "",
        data: Any = None,
    ):
        self.fired = fired
        self.actions = [] if actions is None else actions
        self.explanation = {} if explanation is None else explanation
        self.summary = summary
        self.expected_next = expected_next
        self.data = data
