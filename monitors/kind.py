"""The ``forecast_hygiene`` automation kind: one automation per shipped policy (``monitors.policies``).

Its config is ``{"policy": <key>, …thresholds}``, validated per policy. The automation's mode, owners,
conditions (which deals the policy covers) and versions are the engine's, edited in the automation
admin or as configuration code like any other. The items come from the hourly bulk scan
(``monitors.hygiene.hygiene_scan``), not from runs: ``evaluate`` decides one deal (previews, tests, and
the engine's runs when the automation is triggered by a change of the fields the policy reads) and
never acts — a hygiene policy raises a question for the manager, it changes nothing, least of all a
forecast category.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from revops.engine.kinds import AutomationKind, register
from revops.engine.types import Outcome

from .policies import POLICIES, policy_check, policy_config_clean
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
        + ". The hourly hygiene scan turns what live policies find into one item per deal for the rep's manager."
    )
    object_types = ("opportunity",)

    def validate_config(self, config: dict[str, Any], *, object_type: str) -> dict[str, Any]:
        return policy_config_clean(config)

    def evaluate(self, record, *, version, predicate, context) -> Outcome:
        matched, explanation = context.conditions_explanation(predicate)
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
        return Outcome(
            fired=check.fired,
            explanation=explanation,
            summary=check.text,
            expected_next=(
                "The hourly hygiene scan lists this on the deal's item for the rep's manager, due before the forecast call."
                if check.fired
                else ""
            ),
        )
