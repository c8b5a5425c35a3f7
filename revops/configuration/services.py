"""Export, plan and apply the whole configuration as one document (docs/config.md).

``config_plan`` and ``config_apply`` run the same code: every section's changes are made through
the owning services inside one transaction, in section order (the dictionary before the
automations whose conditions read it; prunes in reverse order). A plan always rolls back; an
apply commits only when nothing at all failed, so a file applies completely or not at all.
Because the plan really runs the services, every error an apply would hit is in the plan,
located in the file (``automations[2] 'Hot lead follow-up': conditions: …``).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from revops.audit import audited, system_user

from .base import Entry, Plan, Problem, Run, _describe, sections
from .document import DocumentError, dump_text, jsonable, load_text
from .releases import release_record

VERSION = 1
CONFIG_USER = "config-as-code"


class _Rollback(Exception):
    pass


def config_export() -> dict[str, Any]:
    """The stored configuration as a document: ``version`` and every section, deterministically ordered."""
    document: dict[str, Any] = {"version": VERSION}
    for section in sections():
        document[section.name] = section.export()
    return document


def config_export_text() -> str:
    """The stored configuration as YAML text; export → apply → export gives the same bytes."""
    return dump_text(config_export())


def config_export_json() -> dict[str, Any]:
    """The stored configuration as JSON-serialisable data (dates as ISO strings)."""
    return jsonable(config_export())


def config_plan(*, document: Any, source: str = "api", actor=None) -> Plan:
    """What applying ``document`` (YAML/JSON text or parsed data) would change, and why it could not.

    Runs the apply in a transaction that is always rolled back; writes nothing.
    """
    return _execute(document, actor=actor, source=source, commit=False)


def config_apply(
    *, document: Any, actor=None, source: str = "api", reason: str = "", rolled_back_to: int | None = None
) -> Plan:
    """Apply ``document`` atomically and return the plan that was applied (``plan.applied``).

    Any problem — a malformed entry, an unknown username, an invalid condition, a governance rule
    a service refuses — and nothing is written. History rows name ``actor`` (default: the
    ``config-as-code`` system user) with the reason ``config apply <source> by <username>``.

    An apply that changes something is recorded as a numbered release (``plan.release``) holding
    the whole configuration after it (``revops.configuration.releases``); ``reason`` is kept with it.
    """
    return _execute(document, actor=actor, source=source, commit=True, reason=reason, rolled_back_to=rolled_back_to)


def config_read(document: Any, problems: list[Problem]) -> tuple[set[str], dict[str, list[Entry]], bool] | None:
    """Check a document's shape; return (sections to prune, entries by section, complete) or None.

    ``complete`` is false when some entry was malformed: such a file may still be planned (to
    report more errors) but its prunes are skipped, since a malformed entry looks absent.
    """
    if isinstance(document, str | bytes):
        try:
            document = load_text(document)
        except DocumentError as exc:
            problems.append(Problem("", "", str(exc)))
            return None
    known = {section.name: section for section in sections()}
    if not isinstance(document, dict):
        problems.append(
            Problem("", "", f"the document must be a map with 'version: 1' and sections, got {_describe(document)}")
        )
        return None
    before = len(problems)
    if "version" not in document:
        problems.append(Problem("", "version", "is required (version: 1)"))
    elif document["version"] != VERSION or isinstance(document["version"], bool):
        problems.append(Problem("", "version", f"unsupported version {document['version']!r}; this portal reads 1"))
    for name in document:
        if name not in known and name not in ("version", "prune"):
            problems.append(Problem("", str(name), f"unknown section; valid keys: version, prune, {', '.join(known)}"))
    raw_prune = document.get("prune", False)
    prune: set[str] = set()
    if raw_prune is True:
        prune = set(known)
    elif isinstance(raw_prune, list) and all(isinstance(n, str) and n in known for n in raw_prune):
        prune = set(raw_prune)
    elif raw_prune not in (False, None):
        problems.append(
            Problem(
                "",
                "prune",
                f"expected true, false or a list of sections ({', '.join(known)}), got {_describe(raw_prune)}",
            )
        )
    entries: dict[str, list[Entry]] = {}
    for name, section in known.items():
        if name in document:
            parsed = section.parse(document[name] if document[name] is not None else [], problems)
            if parsed is not None:
                entries[name] = parsed
        elif implied := section.implied(document):
            parsed = section.parse(implied, problems) or []
            for entry in parsed:
                entry.implied = True
                entry.location = (
                    f"{name} {section.describe(entry.key)} (named in the file, which has no {name} section)"
                )
            entries[name] = parsed
            prune.discard(name)
    return prune, entries, len(problems) == before


def _execute(
    document: Any, *, actor, source: str, commit: bool, reason: str = "", rolled_back_to: int | None = None
) -> Plan:
    plan = Plan(source=source)
    read = config_read(document, plan.problems)
    if read is None:
        return plan
    prune, entries, complete = read
    ordered = [section for section in sections() if section.name in entries]
    try:
        with transaction.atomic():
            actor = actor if actor is not None else system_user(CONFIG_USER, first_name="Configuration as code")
            why = f"config apply {source} by {actor.get_username()}"
            run = Run(plan=plan, actor=actor, reason=why, prune=prune)
            with audited(actor=actor, reason=why):
                for section in ordered:
                    section.upsert(entries[section.name], run)
                if complete:
                    for section in reversed(ordered):
                        if section.name in prune:
                            section.prune({entry.key for entry in entries[section.name]}, run)
            if plan.problems or not commit:
                raise _Rollback
            if plan.changes:
                plan.release = release_record(
                    plan=plan,
                    document=config_export_json(),
                    actor=actor,
                    source=source,
                    reason=reason,
                    rolled_back_to=rolled_back_to,
                ).number
    except _Rollback:
        pass
    plan.applied = commit and plan.ok
    return plan
