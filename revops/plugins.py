"""Plug-in points of the core, filled by the layers above it in their ``AppConfig.ready()``.

The core (record mirror, dictionary, sync, feed) never imports an app. Where it must hand work
to one, it calls what was registered here:

- ``schedules``: periodic jobs each app declares; ``revops.cron`` (the cron table) collects them;
- ``demo builders``: each app builds its part of the demo through its own services;
  ``revops.demo`` (the orchestrator) calls them in order;
- ``Why-page panels``: what a record's "Why?" page shows besides the runs (routing decision,
  SLA clock, open exception items, …), each panel from the app that owns the data;
- ``sync rejection handlers``: told, in the sync transaction, about the records a batch
  rejected (the exception queue raises them to a person);
- ``ingest checks``: look at the records a sync batch is about to store, may refuse some with a
  sentence, and are told in the same transaction which were stored (the duplicate rules);
- ``record details``: extra read-only values the read API shows on one record (a lead's latest
  routing decision);
- ``assignee sources``: ways an app picks a rep for work another app hands out (routing's fair
  pools pick the CSM who receives a handoff);
- ``metrics``: what the dashboard and ``GET /api/v1/metrics/`` show, each registered by the layer
  that owns its data (``register_metric``, kept in ``revops.metrics.registry``);
- ``field users``: what reads a dictionary field (automations, routing rules, SLA policies,
  checklists, scoring models, duplicate rules…), so the dictionary lists them all and refuses to
  delete, deprecate or retype a field something active reads (``register_field_users``).

Registration is idempotent by name, so a re-imported module (tests, autoreload) registers once.
Engine-level plug-in points (automation kinds, actions, event hooks) live in ``revops.engine``;
the queue's (item kinds, approval handlers, item panels) in ``exceptions.registry``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Schedule:
    """A periodic job: ``func`` runs on ``queue`` every ``interval`` seconds (or by ``cron`` expression)."""

    name: str
    func: Callable
    queue: str = "default"
    interval: int | None = None
    cron: str | None = None


@dataclass(frozen=True)
class DemoBuilder:
    """One app's part of the demo: ``build(context)`` adds to and reads from the shared ``context`` dict."""

    name: str
    build: Callable[[dict], Any]
    order: int = 100


@dataclass(frozen=True)
class WhyPanel:
    """A panel of the Why page: ``context(object_type, object_id, request)`` returns a dict or None (not shown).

    ``template`` renders it with ``panel`` set to that dict; ``styles`` is an optional template
    of CSS included in the page head when the panel is shown.
    """

    name: str
    context: Callable[..., dict | None]
    template: str
    order: int = 100
    styles: str = ""


_SCHEDULES: dict[str, Schedule] = {}
_DEMO_BUILDERS: dict[str, DemoBuilder] = {}
_WHY_PANELS: dict[str, WhyPanel] = {}
_SYNC_REJECTION_HANDLERS: dict[str, Callable] = {}
_SYNC_GAP_HANDLERS: dict[str, Callable] = {}
_RECORD_DETAILS: dict[tuple[str, str], Callable] = {}
_ASSIGNEE_SOURCES: dict[str, AssigneeSource] = {}
_INGEST_CHECKS: dict[str, IngestCheck] = {}


@dataclass(frozen=True)
class IngestRecord:
    """A record a sync batch is about to store: its external id, the instance as it will be stored
    (no primary key yet when ``is_new``) and the dictionary keys this batch changes."""

    external_id: str
    instance: Any
    is_new: bool
    changed: tuple[str, ...]


@dataclass
class IngestVerdict:
    """What an ingest check decided: ``rejected`` maps an external id to ``{field: [sentences]}``
    (the record is refused with them, like a validation error); ``stored(ids, *, batch, actor)``, when
    given, runs after the batch's rows are written, in the sync transaction, with ``{external id:
    portal id}`` of the checked records that were stored."""

    rejected: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    stored: Callable[..., Any] | None = None


@dataclass(frozen=True)
class IngestCheck:
    """``check(*, object_type, records) -> IngestVerdict | None`` for ``object_types`` (None: every type)."""

    name: str
    check: Callable[..., IngestVerdict | None]
    object_types: tuple[str, ...] | None = None


def register_ingest_check(
    name: str, check: Callable[..., IngestVerdict | None], *, object_types: tuple[str, ...] | None = None
) -> IngestCheck:
    """Let ``check`` see every record a sync batch is about to store (created or changed) of
    ``object_types``, in the sync transaction, before anything is written: it may refuse records (the
    batch stores the others, or nothing with ``?atomic=true``) and be told which were stored."""
    entry = _INGEST_CHECKS[name] = IngestCheck(name, check, tuple(object_types) if object_types else None)
    return entry


def ingest_checks(object_type: str) -> list[IngestCheck]:
    """The checks that look at ``object_type``, by name."""
    return [
        _INGEST_CHECKS[name]
        for name in sorted(_INGEST_CHECKS)
        if _INGEST_CHECKS[name].object_types is None or object_type in _INGEST_CHECKS[name].object_types
    ]


@dataclass(frozen=True)
class AssigneeSource:
    """A way to pick a rep: ``choices()`` lists ``(id, label)`` to choose from (e.g. the active pools);
    ``assign(ref, *, now, reason)`` picks the next rep for ``ref`` and counts the assignment, in the
    caller's transaction, returning ``(rep id or None, explanation)``."""

    name: str
    label: str
    choices: Callable[[], list[tuple[int, str]]]
    assign: Callable[..., tuple[int | None, str]]


def register_assignee_source(
    name: str, *, label: str, choices: Callable[[], list[tuple[int, str]]], assign: Callable[..., tuple]
) -> AssigneeSource:
    source = AssigneeSource(name, label, choices, assign)
    _ASSIGNEE_SOURCES[name] = source
    return source


def assignee_source(name: str) -> AssigneeSource | None:
    """The registered source ``name`` (None if no installed app provides it)."""
    return _ASSIGNEE_SOURCES.get(name)


def register_schedule(
    func: Callable, *, name: str, queue: str = "default", interval: int | None = None, cron: str | None = None
) -> Schedule:
    """Declare a periodic job; exactly one of ``interval`` (seconds) or ``cron`` (expression)."""
    if (interval is None) == (cron is None):
        raise ValueError(f"schedule {name!r}: give an interval or a cron expression, not both or neither")
    schedule = _SCHEDULES[name] = Schedule(name=name, func=func, queue=queue, interval=interval, cron=cron)
    return schedule


def schedules() -> list[Schedule]:
    """Every declared periodic job, by name."""
    return [_SCHEDULES[name] for name in sorted(_SCHEDULES)]


def register_demo_builder(name: str, build: Callable[[dict], Any], *, order: int = 100) -> DemoBuilder:
    """Add an app's demo builder; lower ``order`` builds first (records before automations before items)."""
    builder = _DEMO_BUILDERS[name] = DemoBuilder(name=name, build=build, order=order)
    return builder


def demo_builders() -> list[DemoBuilder]:
    return sorted(_DEMO_BUILDERS.values(), key=lambda b: (b.order, b.name))


def register_why_panel(
    name: str, context: Callable[..., dict | None], *, template: str, order: int = 100, styles: str = ""
) -> WhyPanel:
    """Add a panel to every record's Why page (the panel decides for which records it shows)."""
    panel = _WHY_PANELS[name] = WhyPanel(name=name, context=context, template=template, order=order, styles=styles)
    return panel


def why_panels() -> list[WhyPanel]:
    return sorted(_WHY_PANELS.values(), key=lambda p: (p.order, p.name))


_WORKER_WARMUPS: dict[str, Callable[[], Any]] = {}


def register_worker_warmup(name: str, warmup: Callable[[], Any]) -> Callable[[], Any]:
    """``warmup()`` fills a per-process cache in the forking worker before each job, so the job's
    process inherits it (``revops.worker.Worker``), and in the hot worker once before its first job
    (``revops.worker.HotWorker``); it must be cheap when nothing changed."""
    _WORKER_WARMUPS[name] = warmup
    return warmup


def worker_warmups() -> list[Callable[[], Any]]:
    return [_WORKER_WARMUPS[name] for name in sorted(_WORKER_WARMUPS)]


def register_sync_rejection_handler(name: str, handler: Callable) -> Callable:
    """``handler(*, failures, batch, token, actor)`` runs in the sync transaction for rejected records."""
    _SYNC_REJECTION_HANDLERS[name] = handler
    return handler


def sync_rejection_handlers() -> list[Callable]:
    return [_SYNC_REJECTION_HANDLERS[name] for name in sorted(_SYNC_REJECTION_HANDLERS)]


def register_sync_gap_handler(
    name: str, handler: Callable, *, object_types: tuple[str, ...] | None = None, fallback: bool = False
) -> Callable:
    """``handler(*, object_type, gaps, complete, batch, actor, records)`` runs in the sync transaction.

    ``gaps`` maps the portal id of each stored record of the batch that lacks required fields in
    "prompt" mode to ``{field: [messages]}``; ``complete`` lists the ids of the batch's stored
    records that lack none (so a gap raised earlier can be closed). A handler for given
    ``object_types`` takes those objects over from the ``fallback`` handlers (the exception queue's
    generic "Required fields missing" item), which run only for objects no other handler claims.
    """
    _SYNC_GAP_HANDLERS[name] = (handler, tuple(object_types) if object_types else None, fallback)
    return handler


def sync_gap_handlers(object_type: str) -> list[Callable]:
    """The handlers for ``object_type``: those that claim it, else the fallbacks."""
    entries = [_SYNC_GAP_HANDLERS[name] for name in sorted(_SYNC_GAP_HANDLERS)]
    claiming = [h for h, types, fallback in entries if not fallback and (types is None or object_type in types)]
    return claiming or [h for h, types, fallback in entries if fallback]


def register_computed_field(
    object_type: str, key: str, *, label: str, field_type: str, compute: Callable, description: str = ""
):
    """Offer ``<object_type>.<key>``, computed by ``compute(records, now) -> {pk: value}``, to every
    automation's conditions (see ``revops.conditions.computed``); a core column's key is refused."""
    from revops.conditions.computed import register_computed_field as register

    return register(object_type, key, label=label, field_type=field_type, compute=compute, description=description)


def register_record_detail(object_type: str, key: str, provider: Callable) -> Callable:
    """``provider(record) -> value`` shown as ``key`` on one record of ``object_type`` in the read API."""
    _RECORD_DETAILS[(object_type, key)] = provider
    return provider


def record_detail(object_type: str, key: str, record) -> Any:
    """The registered detail's value for ``record``, or None when no app provides it."""
    provider = _RECORD_DETAILS.get((object_type, key))
    return provider(record) if provider is not None else None


def register_metric(key: str, **kwargs):
    """Add a metric to the dashboard and ``GET /api/v1/metrics/`` (see ``revops.metrics.registry``)."""
    from revops.metrics.registry import register_metric as register

    return register(key, **kwargs)


# --- merges: which rows follow a merged record ---------------------------------------------------


@dataclass(frozen=True)
class MergeRelation:
    """Rows of ``model`` whose ``field`` points at a record of ``object_type``: a merge re-points the
    loser's rows to the survivor (and its undo points them back). ``label`` names them in sentences
    ("3 activities move to the survivor")."""

    object_type: str
    model: type
    field: str
    label: str


_MERGE_RELATIONS: dict[tuple[str, str, str], MergeRelation] = {}


def register_merge_relation(object_type: str, model: type, field: str, *, label: str) -> MergeRelation:
    """Make merges of ``object_type`` records move ``model.field`` rows (idempotent). The core registers
    the CRM records' own relations (activities, tasks, contacts, deals…); an app registers its rows that
    belong with the person or company rather than with the record they were first recorded on."""
    entry = _MERGE_RELATIONS[object_type, model._meta.label, field] = MergeRelation(object_type, model, field, label)
    return entry


def merge_relations(object_type: str) -> list[MergeRelation]:
    """The relations a merge of ``object_type`` records moves, in registration order."""
    return [entry for entry in _MERGE_RELATIONS.values() if entry.object_type == object_type]


def register_core_merge_relations() -> None:
    """The CRM records' relations (called from ``RevopsConfig.ready``). Audit-like rows — routing
    decisions, SLA clocks, scores, stage history — stay with the record they describe: its Why page
    keeps telling its story, and the merged record stays reachable from the survivor's."""
    from .models import Account, Activity, Contact, Lead, Opportunity, Task

    register_merge_relation("lead", Activity, "lead", label="activities")
    register_merge_relation("lead", Task, "lead", label="tasks")
    register_merge_relation("lead", Contact, "converted_from_lead", label="contacts converted from it")
    register_merge_relation("account", Contact, "account", label="contacts")
    register_merge_relation("account", Opportunity, "account", label="opportunities")
    register_merge_relation("account", Lead, "matched_account", label="matched leads")
    register_merge_relation("account", Activity, "account", label="activities")
    register_merge_relation("account", Task, "account", label="tasks")
    register_merge_relation("account", Account, "parent", label="child accounts")


@dataclass(frozen=True)
class FieldUser:
    """Something configured that reads a dictionary field: ``kind`` ("Routing rule"), its ``name``, a
    page to open it (``url``) and whether it is ``active`` (evaluated now: live or shadow, switched on)."""

    kind: str
    name: str
    url: str | None
    active: bool


_FIELD_USER_FINDERS: dict[str, Callable] = {}


def register_field_users(name: str, finder: Callable[[str, str], list[FieldUser]]) -> Callable:
    """Tell the dictionary who reads its fields: ``finder(object_type, key)`` returns the ``FieldUser``s
    of one field. Deleting, deprecating or retyping a field with active users is refused, naming them."""
    _FIELD_USER_FINDERS[name] = finder
    return finder


def field_users(object_type: str, key: str) -> list[FieldUser]:
    """Everything registered that reads ``object_type.key``, active first, by kind and name."""
    found = [user for finder in _FIELD_USER_FINDERS.values() for user in finder(object_type, key)]
    return sorted(found, key=lambda u: (not u.active, u.kind, u.name))
