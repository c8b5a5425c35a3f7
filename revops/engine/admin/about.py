"""An automation in plain language, at the top of its page: when it starts, what rule, what it changes,
who receives what it produces and what they are expected to do, how to override it, who supports it."""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html, format_html_join

from exceptions.models import record_word
from exceptions.registry import item_kind
from exceptions.services import person_name
from revops.display import FieldText
from revops.models import Automation

from ..kinds import KINDS
from .helpers import conditions_text


def _starts(automation: Automation) -> str:
    record, texts = record_word(automation.object_type), FieldText()
    trigger = automation.trigger
    if trigger == Automation.Trigger.CREATED:
        return f"When a {record} arrives from the CRM."
    if trigger == Automation.Trigger.FIELD_CHANGED:
        names = [texts.label(automation.object_type, key) for key in automation.trigger_fields or []]
        return f"When a {record}'s {' or '.join(names) or '(no field chosen)'} changes."
    if trigger == Automation.Trigger.STAGE_CHANGED_TO:
        return f"When a {record} moves to {automation.trigger_value or '(no value chosen)'}."
    if trigger == Automation.Trigger.SCHEDULE:
        return f"Every {automation.schedule_minutes or '?'} minutes, over the {record}s the rule matches."
    return f"When a {record} arrives or changes."


def _config_words(automation: Automation) -> str:
    """The kind's parameters people read first, in words (the whole configuration is further down)."""
    config, texts = automation.config or {}, FieldText()
    parts = []
    if isinstance(config.get("set"), dict):
        parts.append(
            "Sets "
            + ", ".join(
                f"{texts.label(automation.object_type, key)} to {value}" for key, value in config["set"].items()
            )
            + "."
        )
    if config.get("title"):
        parts.append(f"Title: “{config['title']}”.")
    if isinstance(config.get("fields"), list) and config["fields"]:
        parts.append(
            "Asks for " + ", ".join(texts.label(automation.object_type, str(k)) for k in config["fields"]) + "."
        )
    if config.get("subject"):
        parts.append(f"Sends “{config['subject']}” to the {str(config.get('to') or 'owner').replace('_', ' ')}.")
    return " ".join(parts)


def _override(automation: Automation) -> str:
    if automation.risk == Automation.Risk.HIGH:
        return (
            "Nothing happens without a person: every action waits in the queue for approval — approve, reject, "
            "override (another owner or value) or send back for review. It can also be paused at once."
        )
    return (
        "Pause it (the kill switch on this page; events can be held and processed later), revert what its runs "
        "changed (Revert runs), or snooze, dismiss or suppress its items on a record in the queue."
    )


def about_rows(automation: Automation) -> list[tuple[str, str]]:
    """(question, answer) rows in plain language."""
    kind = KINDS.get(automation.kind)
    failed = item_kind("automation_failed")
    queue = automation.exception_queue or "the default queue"
    mode = {
        Automation.Mode.LIVE: "It is live: what it decides is applied.",
        Automation.Mode.SHADOW: "It runs in shadow: it records what it would do and changes nothing.",
        Automation.Mode.DRAFT: "It is a draft: it does not run.",
        Automation.Mode.PAUSED: "It is switched off.",
        Automation.Mode.RETIRED: "It is retired.",
    }.get(automation.mode, "")
    description = kind.description.split(" Config:")[0].strip() if kind and kind.description else ""
    does = f"{kind.label}: {description}" if description else (kind.label if kind else automation.kind)
    details = _config_words(automation)
    if details:
        does = f"{does} {details}"
    changes = automation.downstream_effect or f"The {record_word(automation.object_type)}s the rule matches."
    supports = [
        f"{role}: {person_name(user)}"
        for role, user in (
            ("rule owner (what it should do)", automation.rule_owner),
            ("system owner (how it runs)", automation.system_owner),
            ("failure owner (when it fails)", automation.failure_owner),
        )
        if user is not None
    ]
    return [
        ("Why it exists", automation.purpose),
        ("When it starts", _starts(automation)),
        ("What rule", conditions_text(automation)),
        ("What it does", f"{does} {mode}".strip()),
        ("What it changes", changes),
        (
            "Who receives what it cannot finish",
            f"The {queue} queue, as an item with its reason and due date"
            + (f"; expected action: {failed.expected_action}" if failed and failed.expected_action else "."),
        ),
        ("How to override it", _override(automation)),
        ("Who supports it", "; ".join(supports) or "Nobody yet: name a rule owner and a failure owner."),
    ]


def about_html(automation: Automation):
    rows = about_rows(automation)
    health = reverse("admin:revops_automation_health", args=[automation.pk])
    return format_html(
        '<dl class="rv-about">{}</dl><p><a href="{}">Its health and review</a></p>',
        format_html_join("", "<dt>{}</dt><dd>{}</dd>", rows),
        health,
    )
