"""The interface of automation kinds and their registry.

A kind turns (record, context, rule version) into an ``Outcome``. It never writes: the engine
logs the run, honours shadow mode and risk, applies the actions and captures failures.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

from django.core.exceptions import ValidationError

from .types import Outcome

KINDS: dict[str, type[AutomationKind]] = {}


class AutomationKind:
    """Base class. Subclasses set ``key``/``label``/``object_types`` and implement ``evaluate``."""

    key: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str] = ""
    object_types: ClassVar[tuple[str, ...]] = ()  # empty: any record type
    run_order: ClassVar[int] = 100  # lower runs first on the same event (routing sets the owner others read)
    # True: the kind fires only when the rule's conditions hold, and ``not_fired(predicate, ctx)`` gives
    # the outcome when they do not from the condition context alone (``batch.rule_outcome``). Declared
    # by the class that defines ``evaluate``.
    gated: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Gated only if the class whose ``evaluate`` runs says so: a plug-in kind built on a gated one,
        # with its own ``evaluate`` (or a mixin's), may fire when the conditions do not hold.
        owner = next(klass for klass in cls.__mro__ if "evaluate" in klass.__dict__)
        cls.gated = bool(owner.__dict__.get("gated", False))
        # ``fire_checked`` stands for ``evaluate`` only in the class that defines both: a subclass (a plug-in
        # kind built on a built-in one, which may override what ``evaluate`` calls) is evaluated with a context.
        cls.fires_checked = cls.gated and owner is cls and "fire_checked" in cls.__dict__
        # ``not_fired`` took (predicate, ctx) before it was handed the conditions already checked: a
        # plug-in kind written so is called so.
        parameters = inspect.signature(cls.not_fired).parameters
        cls.not_fired_takes_checked = "checked" in parameters or any(
            p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters.values()
        )

    def validate_config(self, config: dict[str, Any], *, object_type: str) -> dict[str, Any]:
        """Return the cleaned config or raise ``ValidationError`` naming the bad parameter."""
        if config:
            raise ValidationError({"config": f"{self.label} takes no parameters."})
        return {}

    def evaluate(self, record, *, version, predicate, context) -> Outcome:  # pragma: no cover - interface
        raise NotImplementedError

    def not_fired(self, predicate, ctx, checked: list | None = None) -> Outcome:  # pragma: no cover - interface
        """A gated kind's outcome when ``predicate`` does not hold on ``ctx``; ``checked``: the conditions
        as the engine already checked them (``predicate.check(ctx)``), when it has them."""
        raise NotImplementedError

    def fire_checked(self, rule, record, checked: list, *, fields: dict) -> Outcome:  # pragma: no cover - interface
        """Optional, for a gated kind: its outcome when the rule's conditions hold (``checked``: each
        condition's actual value and result), the same as ``evaluate`` gives but without an evaluation
        context, for a kind that needs none (``rule``: ``.automation``, ``.version``, ``.predicate``;
        ``fields``: the data dictionary). The engine then builds no context for the run."""
        raise NotImplementedError

    def reference_problems(self, config: dict[str, Any]) -> list[str]:
        """What the cleaned ``config`` names that does not exist (a queue, …), in words; checked when the
        automation is created, runs, or its config changes (not to pause an old one)."""
        return []

    def admin_report(self, *, days: int):
        """Optional HTML the automation's admin page shows under "reports" (e.g. routing's reassignment
        rate over ``days``); None shows nothing."""
        return None


def register(cls: type[AutomationKind]) -> type[AutomationKind]:
    """Class decorator adding a kind to the registry."""
    KINDS[cls.key] = cls
    return cls


def get_kind(key: str) -> AutomationKind:
    try:
        return KINDS[key]()
    except KeyError:
        raise ValidationError(
            {"kind": f"unknown automation kind {key!r}; available: {', '.join(sorted(KINDS)) or 'none'}"}
        ) from None


def kind_choices() -> list[tuple[str, str]]:
    return sorted((key, cls.label) for key, cls in KINDS.items())
