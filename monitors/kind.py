"""The ``forecast_hygiene`` automation kind: one automation per shipped policy (``monitors.policies``).

Its config is ``{"policy": <key>, …thresholds}``, validated per policy. The automation's mode, owners,
conditions (which deals the policy covers) and versions are the engine's, edited in the automation
admin or as configuration code like any other. The items come from the hourly bulk scan
(``monitors.hygiene.hygiene_scan``), not from runs: ``evaluate`` decides one deal (previews, tests, and
the engine's runs when the automation is triggered by a change of the fields the policy reads) and
changes nothing — a hygiene policy raises a question for the manager. Its one possible action is a
*proposal*: a policy configured with ``propose_category`` (e.g. ``"best_case"``) that fires on a run
returns ``propose_forecast_category``, which the engine always turns into an approval for the manager of
the deal owner's team, whatever the automation's risk (``monitors.actions``). The hourly scan runs no
actions, so proposals come only from the engine's runs (the automation's trigger, e.g. "a field
changed" on the forecast category).
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from revops.engine.kinds import AutomationKind, register
from revops.engine.types import Action, Outcome

from . import actions as _actions  # noqa: F401  (registers propose_forecast_category before an Action names it)
from .policies import CATEGORIES, POLICIES, policy_check, policy_config_clean, policy_proposal
from .selectors import deal_signals, evidence_labels

KIND = "forecast_hygiene"


@register
class ForecastHygiene(AutomationKind):
    key = KIND
    label = "Forecast hygiene policy"
    description = (
        'One shipped hygiene policy with its thresholds. Config: {"policy": "<key>", …thresholds}; policies: '
        + "; ".join(
            f"{p.key} ({p.label}: {', '.join(f'{k}={v}' for k, v in p.defaults.items()) or 'no thresholds'})"
            for p in POLICIES.values()
        )
        + ". The hourly hygiene scan turns what live policies find into one item per deal for the rep's manager;"
        " propose_category (evidence policies) makes a run propose that category, for the manager to approve."
    )
    object_types = ("opportunity",)

    def validate_config(self, config: dict[str, Any], *, object_type: str) -> dict[str, Any]:
        return policy_config_clean(config)

    def evaluate(self, record, *, version, predicate, context) -> Outcome:
        matched, explanation = context.conditions_checked(predicate)
        explanation["kind"] = self.key
        if not matched:
            return Outcome(
                fired=False, explanation=explanation, summary="The deal is outside this policy's conditions."
            )
        config = context.config
        signals = context.cache.get(
            f"monitors:signals:{record.pk}:{context.now.isoformat()}",
            lambda: deal_signals(opportunity_ids=[record.pk], now=context.now).get(record.pk),
        )
        if signals is None or not record.is_open:
            return Outcome(fired=False, explanation=explanation, summary="The deal is closed; hygiene does not apply.")
        labels = context.cache.get("monitors:evidence_labels", evidence_labels)
        check = policy_check(config, record, signals, today=timezone.localdate(context.now), labels=labels)
        explanation.update({"policy": config["policy"], "values": check.values, "text": check.text})
        expected = (
            "The hourly hygiene scan lists this on the deal's item for the rep's manager, due before the forecast call."
            if check.fired
            else ""
        )
        actions = []
        target = policy_proposal(config, record, check)
        if target is not None:
            label = CATEGORIES.get(target, target)
            explanation["proposal"] = {"forecast_category": target}
            actions.append(
                Action(
                    "propose_forecast_category",
                    {"value": target, "expected": record.forecast_category, "reason": check.text},
                )
            )
            expected = (
                f"The manager of the deal owner's team approves or rejects moving it to {label} "
                "(an approval; nothing changes until then). " + expected
            )
        return Outcome(
            fired=check.fired, actions=actions, explanation=explanation, summary=check.text, expected_next=expected
        )
