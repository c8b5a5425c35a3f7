"""The demo's last step: roll up every metric from the demo's own records, so the dashboard of
``make run`` shows what the demo's automations, people and items really did."""

from __future__ import annotations

from .rollup import metrics_rollup


def metrics_demo_build(context: dict) -> None:
    context["metrics"] = metrics_rollup(now=context.get("now"), full=True)
