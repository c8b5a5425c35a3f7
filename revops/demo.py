"""The demo orchestrator (wiring): ``demo_load`` runs every layer's demo builder, in order, in one transaction.

Each layer builds its own part of the demo through its own services and registers the builder in
its ``AppConfig.ready()`` (``revops.plugins.register_demo_builder``):

====  ======================  =============================================================
 10   ``records``             the core: a seeded org of teams, reps, accounts, leads, contacts, deals,
                              activities and tasks (``revops.demo_records``)
 20   ``queues``              the queue: managers and their queues (``exceptions.demo``)
 30   ``automations``         the engine: the governed demo automations (``revops.engine.demo``)
 40   ``routing``             routing: pools, rules, SLA policies, the router; on a fresh org the
                              new leads are routed as they arrived and the SLA clocks tick
                              (``routing.demo``)
 60   ``crm_morning_sync``    the core: the CRM's morning changes through the real sync service,
                              processed by the engine (``revops.demo_records.crm``)
 65   ``dataquality``         data quality: the duplicate rules, a full scan of the demo's
                              duplicates, near-duplicates reported or refused on ingest
                              (``dataquality.demo``)
 80   ``reverts``             the engine: one hot-lead follow-up run reverted through the real
                              revert service (its task cancelled), shown on the lead's Why page
====  ======================  =============================================================

Builders share one ``context`` dict: ``seed``, ``actor`` (the ``demo-loader`` system user unless
given) and ``now`` go in; the records builder sets ``fresh`` (this load created the org) and every
builder may add to ``counts`` and ``details`` for the summary. Configuration is ensured by name on
every load; records, runs and items are only added to a fresh org, so a second load creates nothing.
Every exception item, task, routing decision and run of the demo is made by the code that makes
them in production, from the demo's records and configuration.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from exceptions.models import ExceptionItem
from exceptions.registry import item_kind_label

from . import services
from .audit import system_user
from .demo_records.builders import demo_loaded
from .demo_records.tables import DEFAULT_SEED, DEMO_USER, FREE_MAIL, HANDOFF_FIELDS
from .engine.demo import demo_automation_specs, demo_automations_ensure
from .plugins import demo_builders

__all__ = [
    "DEFAULT_SEED",
    "FREE_MAIL",
    "HANDOFF_FIELDS",
    "DemoResult",
    "demo_automation_specs",
    "demo_automations_ensure",
    "demo_load",
    "demo_loaded",
]


@dataclass
class DemoResult:
    """What ``demo_load`` did: counts per object, notable details, open items by kind and how long it took."""

    created: bool
    seed: int
    counts: dict[str, int] = field(default_factory=dict)
    details: dict[str, int] = field(default_factory=dict)
    items: dict[str, int] = field(default_factory=dict)
    dictionary_defaults: int = 0
    custom_fields: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """The summary ``load_demo`` prints, one line per object type."""
        if not self.created:
            return [
                "Demo already loaded: found existing demo records (external ids such as ACC-000001); created nothing."
            ]
        lines = [f"Demo org loaded (seed {self.seed}) in {self.seconds:.1f} s:"]
        for name, count in self.counts.items():
            extra = ", ".join(f"{v} {k}" for k, v in self.details.items() if k.startswith(name + ":"))
            extra = extra.replace(name + ":", "")
            lines.append(f"  {name:<14}{count:>6}" + (f"  ({extra})" if extra else ""))
        if self.items:
            kinds = ", ".join(f"{count} {label.lower()}" for label, count in self.items.items())
            lines.append(f"  {'open items':<14}{sum(self.items.values()):>6}  ({kinds})")
        lines.append(
            f"  dictionary: {self.dictionary_defaults} default entries and {self.custom_fields} custom fields added"
        )
        return lines


def demo_load(*, seed: int = DEFAULT_SEED, actor=None, now: dt.datetime | None = None) -> DemoResult:
    """Ensure the default dictionary, then run every registered demo builder in order, in one transaction.

    History rows name ``actor`` (default: the ``demo-loader`` system user) unless the code that
    writes them acts as someone else (an automation, the SLA clocks), as it does in production.
    """
    started = time.monotonic()
    actor = actor or system_user(DEMO_USER, first_name="Demo loader")
    context = {"seed": seed, "actor": actor, "now": now or timezone.now(), "fresh": False, "counts": {}, "details": {}}
    with transaction.atomic():
        defaults = len(services.dictionary_load_defaults(actor=actor))
        for builder in demo_builders():
            builder.build(context)
    if not context["fresh"]:
        return DemoResult(created=False, seed=seed, dictionary_defaults=defaults)
    return DemoResult(
        created=True,
        seed=seed,
        counts=context["counts"],
        details=context["details"],
        items=_open_items_by_kind(),
        dictionary_defaults=defaults,
        custom_fields=context.get("custom_fields", 0),
        seconds=time.monotonic() - started,
    )


def _open_items_by_kind() -> dict[str, int]:
    rows = (
        ExceptionItem.objects.filter(status__in=ExceptionItem.OPEN_STATUSES)
        .values("kind")
        .annotate(n=Count("id"))
        .order_by("-n", "kind")
    )
    return {item_kind_label(row["kind"]): row["n"] for row in rows}
