"""Schemathesis over the served OpenAPI schema, in-process: every phase, the checks below, one report.

The run uses Schemathesis' own engine (what ``schemathesis run`` does) against Django's WSGI handler:
probing, examples, coverage, fuzzing with positive and negative data, and stateful testing over the
links Schemathesis infers from the schema (list responses → detail and action operations). Its
worker threads have database connections of their own, so tests using it are transactional (the
data they create is committed before the run and flushed after).

Checks:
- ``not_a_server_error``: no 5xx, for any input;
- ``status_code_conformance``: every status is documented (negative cases included: a 400, 404, 409,
  413, 415 or 422 the view gives must be in the schema);
- ``content_type_conformance``, ``response_schema_conformance``, ``response_headers_conformance``;
- ``negative_data_rejection``: input that violates the schema gets a 4xx.

Not run, with the reason:
- ``positive_data_acceptance``: schema-valid input may still be refused with a documented 400 by
  rules a JSON Schema cannot state: a username that must exist, a snooze time that must lie in the
  future, an opaque pagination cursor, a configuration document that must be a valid plan;
- ``ignored_auth``, ``missing_required_header``: authentication and scopes have their own tests
  (``test_api_auth.py``, the authorisation matrices);
- ``use_after_free``, ``ensure_resource_availability``: the API has no DELETE and no POST creating a
  resource at its own URL;
- ``unsupported_method``, ``allow_header_conformance``: method handling is Django's and DRF's.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field

import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.db import connections
from django.utils import timezone
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
)
SCHEMA_URL = "/api/v1/schema/?format=json"


@dataclass
class Failure:
    check: str
    operation: str
    title: str
    message: str
    reproduce: str

    def __str__(self):
        return f"{self.check} on {self.operation}: {self.title}\n  {self.message.strip()}\n  {self.reproduce}"


@dataclass
class RunReport:
    operations: set[str]
    exercised: set[str] = field(default_factory=set)
    requests: int = 0
    requests_by_phase: collections.Counter = field(default_factory=collections.Counter)
    failures: dict[tuple[str, str, str], Failure] = field(default_factory=dict)
    failure_counts: collections.Counter = field(default_factory=collections.Counter)
    errors: list[str] = field(default_factory=list)
    phases: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def server_errors(self) -> int:
        return sum(n for (check, *_), n in self.failure_counts.items() if check == "not_a_server_error")

    @property
    def violations(self) -> int:
        return sum(n for (check, *_), n in self.failure_counts.items() if check != "not_a_server_error")

    def summary(self) -> str:
        phases = ", ".join(f"{name} {n:,}" for name, n in sorted(self.requests_by_phase.items()))
        return (
            f"schemathesis: {len(self.exercised)} operations, {self.requests:,} requests ({phases}), "
            f"{self.server_errors} server errors, {self.violations} violations, {self.seconds:.0f} s"
        )

    def problems(self) -> str:
        lines = [f"{self.failure_counts[key]}× {failure}" for key, failure in sorted(self.failures.items())]
        lines += [f"error: {error}" for error in self.errors]
        missing = self.operations - self.exercised
        if missing:
            lines.append(f"operations never called: {sorted(missing)}")
        return "\n".join(lines)


def _operation(recorder, case_id: str) -> str:
    operation = recorder.cases[case_id].value.operation
    return f"{operation.method.upper()} {operation.path}"


def _record(report: RunReport, event) -> None:
    recorder = event.recorder
    phase = event.phase.value if isinstance(event, events.ScenarioFinished) else "fuzz"
    for case_id in recorder.interactions:
        report.requests += 1
        report.requests_by_phase[phase] += 1
        report.exercised.add(_operation(recorder, case_id))
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.status == Status.ERROR:
                report.errors.append(f"check {check.name} could not run on {_operation(recorder, case_id)}")
            if check.status != Status.FAILURE or check.failure_info is None:
                continue
            failure = check.failure_info.failure
            key = (check.name, _operation(recorder, case_id), failure.title)
            report.failure_counts[key] += 1
            report.failures.setdefault(
                key, Failure(*key, failure.message, f"[{phase}] {check.failure_info.code_sample}")
            )


class _App:
    """Django's WSGI handler, remembering the database connections Schemathesis' worker threads open.

    A worker thread's connection outlives the thread (``CONN_MAX_AGE``); ``close()`` closes them all
    so the test database can be flushed and dropped.
    """

    def __init__(self):
        self.handler = WSGIHandler()
        self.opened = {}

    def __call__(self, environ, start_response):
        response = self.handler(environ, start_response)
        if threading.current_thread() is not threading.main_thread():
            for connection in connections.all(initialized_only=True):
                self.opened[id(connection)] = connection
        return response

    def close(self):
        for connection in self.opened.values():
            connection.inc_thread_sharing()  # closed from the main thread
            try:
                connection.close()
            finally:
                connection.dec_thread_sharing()
        self.opened.clear()


def run_schemathesis(
    token: str,
    *,
    path_regex: str | None = None,
    max_examples: int = 10,
    stateful_steps: int = 10,
    seed: int = 17,
) -> RunReport:
    """Run every phase over the schema's operations (those matching ``path_regex``) as ``token``."""
    config = SchemathesisConfig.from_dict(
        {
            "seed": seed,
            "cache": {"enabled": False},  # no .schemathesis/ directory in the checkout
            "workers": 1,
            "headers": {"Authorization": f"Bearer {token}"},
            "generation": {"mode": "all", "max-examples": max_examples},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "phases": {"stateful": {"max-steps": stateful_steps}},
        }
    )
    app = _App()
    schema = schemathesis.openapi.from_wsgi(
        SCHEMA_URL, app, config=config, headers={"Authorization": f"Bearer {token}"}
    )
    if path_regex:
        schema = schema.include(path_regex=path_regex)
    operations = {f"{op.ok().method.upper()} {op.ok().path}" for op in schema.get_all_operations()}
    report = RunReport(operations=operations)
    started = time.monotonic()
    request_log = logging.getLogger("django.request")
    level = request_log.level
    request_log.setLevel(logging.ERROR)  # 4xx answers are the point here; 5xx are still logged
    try:
        for event in from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
                _record(report, event)
            elif isinstance(event, events.NonFatalError | events.FatalError):
                info = getattr(event, "info", None)
                report.errors.append(f"{info.title}: {info.message}" if info else repr(event))
            elif isinstance(event, events.PhaseFinished):
                report.phases[event.phase.name.value] = f"{event.status.value}" + (
                    f" ({event.phase.skip_reason.value})" if event.phase.skip_reason else ""
                )
    finally:
        request_log.setLevel(level)
        app.close()
    report.seconds = time.monotonic() - started
    return report


# --- data: every kind of record, with the nulls the schema must allow --------------------------------


def api_world() -> None:
    """Records, changes and exception items of every shape, nullable fields both set and null.

    Imports here, not at the top: ``test_engine`` registers its test automation kinds when imported."""
    from exceptions.models import ExceptionItem, Queue
    from revops.models import ChangeEntry
    from tests.factories import (
        AccountFactory,
        ActivityFactory,
        LeadFactory,
        OpportunityFactory,
        RepFactory,
        TaskFactory,
        TeamFactory,
        UserFactory,
    )
    from tests.revops import test_engine as engine
    from tests.revops.automation_support import make_automation

    now = timezone.now()
    parent = TeamFactory(name="Sales")
    team = TeamFactory(name="Sales East", parent=parent)
    manager = RepFactory(team=team, manager=None, out_of_office_until=now + dt.timedelta(days=2))
    parent.manager = manager
    parent.save()
    rep = RepFactory(team=team, manager=manager, attributes={"quota": 100000})
    RepFactory(team=None, manager=None, is_active=False)
    account = AccountFactory(owner=rep, parent=None)
    AccountFactory(owner=None, parent=account, employees=None, annual_revenue=None, domain="", website="")
    LeadFactory(owner=rep, matched_account=account, score=90, status="working")
    LeadFactory(owner=None, matched_account=None, score=None, country="", state="")
    opportunity = OpportunityFactory(account=account, owner=rep)
    OpportunityFactory(
        account=account, owner=None, amount=None, close_date=None, next_step_date=None, last_activity_at=None
    )
    ActivityFactory(rep=rep, lead=None, opportunity=opportunity, account=account)
    ActivityFactory(rep=None, lead=None, opportunity=None, account=None)
    TaskFactory(owner=rep, account=account, opportunity=opportunity, external_id="T-1")
    TaskFactory(owner=None, due_at=None)
    ChangeEntry.objects.create(kind=ChangeEntry.Kind.choices[0][0], object_type="lead", external_id="L1", payload={})

    worker = UserFactory(username="triager", is_staff=True)
    queue = Queue.objects.create(name="Sales ops", manager=worker, escalation_target=worker)
    automation = make_automation(name="Hot lead follow-up")
    base = {"kind": "missing_data", "reason": "Country is missing.", "expected_action": "Fill it in.", "queue": queue}
    for n in range(4):  # open, unowned, no due time: claimable by "next" and every action
        ExceptionItem.objects.create(title=f"Open {n}", dedupe_key=f"open-{n}", queue_name=queue.name, **base)
    ExceptionItem.objects.create(
        title="Owned and due",
        dedupe_key="owned",
        owner=worker,
        due_at=now - dt.timedelta(hours=1),
        automation=automation,
        object_type="lead",
        object_id=1,
        external_id="L1",
        severity="high",
        **base,
    )
    # Approval requests as the engine prepares them (a high-risk automation's action, with its run).
    engine.make(
        "Reassign strategic",
        kind="test_scripted",
        risk="high",
        conditions={"all": []},
        config={"actions": [{"type": "assign_owner", "params": {"owner_id": rep.pk}}]},
    )
    engine.sync("leads", *(engine.rec(f"L-APPROVE-{n}") for n in range(3)))
    engine.process()
    assert ExceptionItem.objects.filter(kind="approval_required").count() == 3
    ExceptionItem.objects.create(
        title="Resolved",
        dedupe_key="resolved",
        status="resolved",
        resolution_code="fixed_in_crm",
        resolution_note="Done.",
        resolved_by=worker,
        resolved_at=now,
        **base,
    )
    ExceptionItem.objects.create(
        title="Snoozed",
        dedupe_key="snoozed",
        status="snoozed",
        snoozed_until=now + dt.timedelta(days=1),
        **{**base, "queue": None},
    )
    # Handoffs in every state the answers act on (a sent one with a receiver, a waiting one without).
    from handoffs.models import Checklist, Handoff

    checklist = Checklist.objects.create(
        name="Sales → Onboarding",
        required_fields=[{"field": "use_case"}],
        attestations=[{"key": "risks_reviewed", "label": "Risks reviewed", "role": "CSM"}],
    )
    waiting_deal = OpportunityFactory(account=account, owner=rep, stage="closed_won")
    Handoff.objects.create(
        checklist=checklist,
        opportunity=waiting_deal,
        missing=[
            {"kind": "field", "key": "use_case", "label": "Use case"},
            {"kind": "attestation", "key": "risks_reviewed", "label": "Risks reviewed", "role": "CSM"},
        ],
    )
    Handoff.objects.create(
        checklist=checklist, opportunity=opportunity, status="sent", receiver=rep, ready_at=now, sent_at=now
    )
