"""Helpers for revert tests: a live run whose actions go through the real executor."""

from __future__ import annotations

import itertools

from django.db import transaction

from revops.audit import audited
from revops.engine.actions import ActionExecutor
from revops.engine.types import Action
from revops.models import AutomationRun

from .automation_support import make_automation

_keys = itertools.count(1)


def automation(name="Revert test", **fields):
    return make_automation(name=name, conditions={"all": []}, **fields)


def run_actions(auto, record, actions: list[Action], *, object_type="lead") -> AutomationRun:
    """A fired live run of ``auto`` on ``record`` that applied ``actions`` through ``ActionExecutor``."""
    version = auto.versions.order_by("-number").first()
    with transaction.atomic(), audited(actor=None, reason="test run"):
        run = AutomationRun.objects.create(
            automation=auto,
            version=version,
            trigger_key=f"test:{next(_keys)}",
            mode="live",
            object_type=object_type,
            object_id=record.pk,
            external_id=record.external_id or "",
            outcome="fired",
        )
        ex = ActionExecutor(
            run=run, automation=auto, version=version, record=record, object_type=object_type, mode="live"
        )
        for index, action in enumerate(actions):
            ex.execute(index, action)
        ex.write_feed()
    return run


def outcomes(lines) -> list[tuple[str, str]]:
    """``(action, outcome)`` per line, in the order the lines list them (newest action first)."""
    return [(line["action"], line["outcome"]) for line in lines]
