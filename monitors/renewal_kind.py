"""The ``renewal_monitor`` automation kind: one automation per shipped renewal policy
(``monitors.renewal_policies``), over accounts.

Its config is ``{"policy": <key>, …thresholds}``, validated per policy (including the dictionary
fields each threshold names). The automation's mode, owners, conditions (which accounts the policy
covers) and versions are the engine's. Tasks, items and notices come from the daily renewal scan
(``monitors.renewal_scan``) and from the event hook when a tracked account field changes — not from
runs: ``evaluate`` decides one account (previews, tests, and the engine's runs when the automation is
triggered by a change of the fields it reads) and never acts.
"""

from __future__ import annotations

from typing import Any

from revops.engine.kinds import AutomationKind, register
from revops.engine.types import Outcome

from .renewal_policies import POLICIES, policy_check, policy_config_clean
from .renewal_selectors import KIND

NEXT = {
    "risk": "The renewal scan lists this on the account's renewal-risk item for the owner's manager.",
    "task": "The renewal scan creates the task for the account owner (once) and reports it to the CRM.",
    "notice": "The renewal scan e-mails the notice to the named recipient (once per account and renewal).",
}


@register
class RenewalMonitor(AutomationKind):
    key = KIND
    label = "Renewal monitor"
    description = (
        'One shipped renewal policy with its thresholds. Config: {"policy": "<key>", …thresholds}; policies: '
        + "; ".join(
            f"{p.key} ({p.label}: {', '.join(f'{k}={v}' for k, v in p.defaults.items())})" for p in POLICIES.values()
        )
        + ". The daily renewal scan turns what live policies find into tasks, renewal-risk items and notices."
    )
    object_types = ("account",)

    def validate_config(self, config: dict[str, Any], *, object_type: str) -> dict[str, Any]:
        return policy_config_clean(config)

    def evaluate(self, record, *, version, predicate, context) -> Outcome:
        from .renewal_scan import renewal_facts

        matched, explanation = context.conditions_checked(predicate)
        explanation["kind"] = self.key
        if not matched:
            return Outcome(
                fired=False, explanation=explanation, summary="The account is outside this policy's conditions."
            )
        config = context.config
        facts = context.cache.get(
            f"monitors:renewal_facts:{record.pk}:{context.now.isoformat()}",
            lambda: renewal_facts(record, now=context.now),
        )
        check = policy_check(config, record, facts)
        explanation.update({"policy": config["policy"], "values": check.values, "text": check.text})
        return Outcome(
            fired=check.fired,
            explanation=explanation,
            summary=check.text,
            expected_next=NEXT[POLICIES[config["policy"]].does] if check.fired else "",
        )
