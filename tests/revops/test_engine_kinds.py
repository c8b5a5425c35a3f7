"""Automation kinds used only by the engine tests (no tests here).

The reliability test's worker subprocess imports this module too, so the slow kind exists there.
"""

import time

from revops.engine.kinds import AutomationKind, register
from revops.engine.types import Action, Outcome


class _Free(AutomationKind):
    def validate_config(self, config, *, object_type):
        return dict(config or {})


@register
class ScriptedKind(_Free):
    """Returns the actions listed in its config when the conditions hold."""

    key = "test_scripted"
    label = "Scripted (tests)"

    def evaluate(self, record, *, version, predicate, context):
        matched, explanation = context.conditions_explanation(predicate)
        actions = [Action(a["type"], dict(a.get("params", {}))) for a in context.config.get("actions", [])]
        return Outcome(fired=matched, actions=actions, explanation=explanation, summary="scripted")


@register
class SlowTaskKind(_Free):
    """Sleeps ``sleep`` seconds per record, then creates one task: lets a test kill a worker mid-batch."""

    key = "test_slow_task"
    label = "Slow task (tests)"

    def evaluate(self, record, *, version, predicate, context):
        time.sleep(float(context.config.get("sleep", 0.3)))
        return Outcome(
            fired=True,
            actions=[Action("create_task", {"title": f"Slow task for {record.external_id}"})],
            explanation={"conditions": {}},
            summary="slow",
        )


@register
class FailingKind(_Free):
    """Always raises."""

    key = "test_failing"
    label = "Failing (tests)"

    def evaluate(self, record, *, version, predicate, context):
        raise RuntimeError("boom: the CRM sent something this rule cannot handle")
