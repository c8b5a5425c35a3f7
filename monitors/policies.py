"""The shipped forecast-hygiene policies: small pure functions over a deal, its ``DealSignals``, the
policy's thresholds and today's date.

Each policy returns a ``Check``: whether it fired, a plain-language sentence with the values ("Close
date moved later 3 times this quarter, 41 days in total (limits: 2 times or 30 days).") and the values
themselves (JSON). A check that does not fire says why, so the Why page can show every policy. One
``forecast_hygiene`` automation per policy holds its thresholds (``monitors.kind``); nothing here
reads the database or the clock, and no policy ever changes a deal (a forecast category least of all): a
policy configured with ``propose_category`` only *proposes* a category, which the manager of the deal
owner's team approves or rejects (``monitors.actions``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from revops.models import Opportunity

from . import words

STAGES = dict(Opportunity.Stage.choices)
OPEN_STAGES = [str(s) for s in Opportunity.OPEN_STAGES]
CATEGORIES = dict(Opportunity.ForecastCategory.choices)
MAX_DAYS = 3650


@dataclass(frozen=True)
class Check:
    """The result of one policy on one deal: ``fired``, the sentence people read, and its values."""

    fired: bool
    text: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Policy:
    """A shipped policy: its key (``config["policy"]``), label, default thresholds, the cleaner of its
    thresholds, the check, the deal fields it reads and what "fixed" means in words."""

    key: str
    label: str
    description: str
    defaults: dict[str, Any]
    clean: Callable[[dict], dict]
    check: Callable[..., Check]
    fields: tuple[str, ...]
    fixed: str


POLICIES: dict[str, Policy] = {}


def _err(message: str) -> ValidationError:
    return ValidationError({"config": message})


def _whole(config: dict, key: str, what: str, *, optional: bool = False) -> int | None:
    value = config.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
        raise _err(f"{key} ({what}) must be a whole number from 1 to {MAX_DAYS}, not {value!r}.")
    return value


def _positive(config: dict, key: str, what: str) -> float | None:
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _err(f"{key} ({what}) must be a number above 0, or null to switch it off, not {value!r}.")
    return value


def _choices(config: dict, key: str, what: str, allowed: dict) -> list[str]:
    value = config.get(key)
    if not isinstance(value, list) or not value or any(v not in allowed for v in value):
        raise _err(f"{key} ({what}) must be a list of some of {', '.join(allowed)}, not {value!r}.")
    return sorted(set(value), key=list(allowed).index)


def policy(key: str, label: str, *, defaults: dict, fields: tuple[str, ...], fixed: str, clean: Callable):
    """Register the decorated check as the policy ``key``."""

    def decorate(check: Callable[..., Check]) -> Callable[..., Check]:
        POLICIES[key] = Policy(
            key=key,
            label=label,
            description=(check.__doc__ or "").strip(),
            defaults=defaults,
            clean=clean,
            check=check,
            fields=fields,
            fixed=fixed,
        )
        return check

    return decorate


def _no_params(config: dict) -> dict:
    return {}


def _stage(deal) -> str:
    return STAGES.get(deal.stage, deal.stage)


def _category(deal) -> str:
    return CATEGORIES.get(deal.forecast_category, deal.forecast_category)


# --- the policies ---------------------------------------------------------------------------------


@policy(
    "commit_next_step",
    "Commit without a next step",
    defaults={},
    fields=("forecast_category", "next_step", "next_step_date"),
    fixed="the deal has a current next step or left commit",
    clean=_no_params,
)
def commit_next_step(deal, signals, config, *, today: dt.date, labels=None) -> Check:
    """A deal in commit needs a next step, and its date must not be in the past."""
    values = {
        "forecast_category": deal.forecast_category,
        "next_step": deal.next_step or "",
        "next_step_date": deal.next_step_date.isoformat() if deal.next_step_date else None,
    }
    if deal.forecast_category != Opportunity.ForecastCategory.COMMIT:
        return Check(False, f"Not in Commit (in {_category(deal)}).", values)
    if not (deal.next_step or "").strip():
        return Check(True, "In Commit with no next step.", values)
    if deal.next_step_date and deal.next_step_date < today:
        late = (today - deal.next_step_date).days
        values["days_overdue"] = late
        return Check(
            True,
            f"In Commit, but its next step “{deal.next_step}” was due {words.day(deal.next_step_date, today)} "
            f"({words.ago(late)}).",
            values,
        )
    when = f" on {words.day(deal.next_step_date, today)}" if deal.next_step_date else " (no date)"
    return Check(False, f"In Commit with next step “{deal.next_step}”{when}.", values)


@policy(
    "close_date_past",
    "Close date in the past",
    defaults={},
    fields=("close_date",),
    fixed="the close date is no longer in the past",
    clean=_no_params,
)
def close_date_past(deal, signals, config, *, today: dt.date, labels=None) -> Check:
    """An open deal whose close date has passed."""
    if deal.close_date is None:
        return Check(False, "No close date set.", {"close_date": None})
    values = {"close_date": deal.close_date.isoformat()}
    if deal.close_date < today:
        late = (today - deal.close_date).days
        values["days_past"] = late
        return Check(
            True, f"Close date {words.day(deal.close_date, today)} is in the past ({words.ago(late)}).", values
        )
    return Check(False, f"Close date {words.day(deal.close_date, today)} is not in the past.", values)


def _clean_late_stage(config: dict) -> dict:
    return {
        "stages": _choices(config, "stages", "the late stages", {s: STAGES[s] for s in OPEN_STAGES}),
        "days": _whole(config, "days", "days without activity"),
    }


@policy(
    "late_stage_no_activity",
    "Late stage without activity",
    defaults={"stages": ["proposal", "negotiation"], "days": 14},
    fields=("stage", "last_activity_at"),
    fixed="there is recent activity on the deal, or it left the late stages",
    clean=_clean_late_stage,
)
def late_stage_no_activity(deal, signals, config, *, today: dt.date, labels=None) -> Check:
    """A deal in a late stage (proposal or negotiation by default) with no activity for N days."""
    limit = config["days"]
    idle = signals.days_since_activity
    values = {"stage": deal.stage, "days_since_activity": idle, "limit_days": limit}
    if deal.stage not in config["stages"]:
        return Check(False, f"In {_stage(deal)}, not a late stage.", values)
    if idle is None:
        return Check(True, f"In {_stage(deal)} with no activity logged (limit: {words.days(limit)}).", values)
    last = words.day(signals.last_activity_at, today)
    if idle >= limit:
        return Check(
            True,
            f"In {_stage(deal)} with no activity for {words.days(idle)} (last on {last}; limit: {words.days(limit)}).",
            values,
        )
    return Check(
        False, f"In {_stage(deal)}; last activity {words.ago(idle)} ({last}), within {words.days(limit)}.", values
    )


def _clean_amount(config: dict) -> dict:
    cleaned = {
        "percent": _positive(config, "percent", "the change in % that counts"),
        "amount": _positive(config, "amount", "the change in money that counts"),
    }
    if cleaned["percent"] is None and cleaned["amount"] is None:
        raise _err("percent and amount cannot both be off: set at least one of them.")
    return cleaned


def _limits(config: dict) -> str:
    parts = []
    if config["percent"] is not None:
        parts.append(f"{words.percent(config['percent'])} %")
    if config["amount"] is not None:
        parts.append(words.money(config["amount"]))
    return " or ".join(parts)


@policy(
    "amount_changed",
    "Amount changed since the snapshot",
    defaults={"percent": 20, "amount": 50000},
    fields=("amount",),
    fixed="the amount is back within the limits since the last snapshot",
    clean=_clean_amount,
)
def amount_changed(deal, signals, config, *, today: dt.date, labels=None) -> Check:
    """The amount changed by at least X % or Y since the deal's last forecast snapshot."""
    if signals.snapshot_on is None:
        return Check(False, "No forecast snapshot of this deal yet, so no change to compare.", {})
    values = {
        "snapshot_on": signals.snapshot_on.isoformat(),
        "snapshot_amount": float(signals.snapshot_amount) if signals.snapshot_amount is not None else None,
        "amount": float(deal.amount) if deal.amount is not None else None,
        "change": float(signals.amount_change) if signals.amount_change is not None else None,
        "change_pct": round(signals.amount_change_pct, 1) if signals.amount_change_pct is not None else None,
    }
    since = f"since the snapshot of {words.day(signals.snapshot_on, today)}"
    if signals.amount_change is None:
        return Check(False, f"Amount not comparable {since} (one of them is empty).", values)
    change, pct = signals.amount_change, signals.amount_change_pct
    if change == 0:
        return Check(False, f"Amount unchanged {since}.", values)
    direction = "up" if change > 0 else "down"
    how_much = f"{words.percent(pct)} %" if pct is not None else words.money(abs(change))
    text = (
        f"Amount {direction} {how_much} {since} "
        f"({words.money(signals.snapshot_amount)} → {words.money(deal.amount)}; limits: {_limits(config)})."
    )
    fired = (config["percent"] is not None and pct is not None and abs(pct) >= config["percent"]) or (
        config["amount"] is not None and abs(change) >= Decimal(str(config["amount"]))
    )
    return Check(fired, text, values)


def _clean_pushed(config: dict) -> dict:
    return {
        "times": _whole(config, "times", "how many pushes count"),
        "days": _whole(config, "days", "how many days slipped count"),
    }


@policy(
    "close_date_pushed",
    "Close date pushed this quarter",
    defaults={"times": 2, "days": 30},
    fields=("close_date",),
    fixed="the close date pushes no longer reach the limits (a new quarter started)",
    clean=_clean_pushed,
)
def close_date_pushed(deal, signals, config, *, today: dt.date, labels=None) -> Check:
    """The close date moved later at least N times, or by at least D days in total, this quarter."""
    values = {
        "pushes": signals.pushes,
        "days_slipped": signals.days_slipped,
        "window_start": signals.window_start.isoformat(),
    }
    limits = f"limits: {words.times(config['times'])} or {words.days(config['days'])}"
    if not signals.pushes:
        return Check(False, f"Close date not moved later this quarter ({limits}).", values)
    text = (
        f"Close date moved later {words.times(signals.pushes)} this quarter, "
        f"{words.days(signals.days_slipped)} in total ({limits})."
    )
    return Check(signals.pushes >= config["times"] or signals.days_slipped >= config["days"], text, values)


def _clean_stalled(config: dict) -> dict:
    value = config.get("days")
    if not isinstance(value, dict) or not value:
        raise _err('days (the days allowed per stage) must name stages and days, e.g. {"discovery": 30}.')
    cleaned = {}
    for stage in OPEN_STAGES:
        if stage in value:
            cleaned[stage] = _whole(value, stage, f"days allowed in {STAGES[stage]}")
    unknown = sorted(set(value) - set(OPEN_STAGES))
    if unknown:
        raise _err(
            f"days names {', '.join(map(repr, unknown))}, which is not an open stage ({', '.join(OPEN_STAGES)})."
        )
    return {"days": cleaned}


@policy(
    "stalled_in_stage",
    "Stalled in stage",
    defaults={"days": {"discovery": 30, "solution": 30, "proposal": 21, "negotiation": 21}},
    fields=("stage",),
    fixed="the deal moved on to another stage",
    clean=_clean_stalled,
)
def stalled_in_stage(deal, signals, config, *, today: dt.date, labels=None) -> Check:
    """The deal has been in its stage at least the days allowed for that stage."""
    limit = config["days"].get(deal.stage)
    values = {"stage": deal.stage, "days_in_stage": signals.days_in_stage, "limit_days": limit}
    stay = words.stage_stay(signals, _stage(deal), today)
    if limit is None:
        return Check(False, f"{stay}; no limit set for {_stage(deal)}.", values)
    return Check(signals.days_in_stage >= limit, f"{stay}; limit: {words.days(limit)}.", values)


def _evidence_fields(config: dict) -> list[str]:
    fields = config.get("fields")
    if not isinstance(fields, list) or any(not isinstance(f, str) or not f.strip() for f in fields):
        raise _err(
            "fields (the evidence fields) must be a list of dictionary field keys; an empty list switches it off."
        )
    from revops.validation import validator_for

    specs = validator_for("opportunity").specs
    unknown = [f for f in fields if f not in specs]
    if unknown:
        raise _err(
            f"fields names {', '.join(map(repr, unknown))}, which the data dictionary does not define for opportunities."
        )
    return list(dict.fromkeys(fields))


# What a policy may propose instead: an open deal's categories other than the ones that need evidence.
PROPOSABLE = {key: label for key, label in CATEGORIES.items() if key != Opportunity.ForecastCategory.CLOSED}


def _proposal(config: dict, needing: list[str]) -> str | None:
    """``propose_category``: the category to propose when the policy fires (a manager approves it), or None."""
    value = config.get("propose_category")
    if value is None:
        return None
    allowed = {key: label for key, label in PROPOSABLE.items() if key not in needing}
    if value not in allowed:
        raise _err(
            f"propose_category (the category to propose instead) must be one of {', '.join(allowed)}, "
            f"or null to propose nothing, not {value!r}."
        )
    return value


def _clean_evidence(config: dict) -> dict:
    categories = _choices(config, "categories", "the forecast categories that need evidence", CATEGORIES)
    return {
        "fields": _evidence_fields(config),
        "categories": categories,
        "propose_category": _proposal(config, categories),
    }


def _empty(deal, key: str) -> bool:
    if key in {f.name for f in deal._meta.concrete_fields}:
        value = getattr(deal, deal._meta.get_field(key).attname)
    else:
        value = (deal.attributes or {}).get(key)
    return value is None or value == "" or value == []


@policy(
    "missing_evidence",
    "Forecast without evidence",
    defaults={"fields": [], "categories": ["best_case", "commit"], "propose_category": None},
    fields=("forecast_category",),
    fixed="the evidence fields are filled in, or the deal left the categories that need them",
    clean=_clean_evidence,
)
def missing_evidence(deal, signals, config, *, today: dt.date, labels=None) -> Check:
    """A best-case or commit deal missing the evidence fields the team names (none named: off)."""
    labels = labels or {}
    if not config["fields"]:
        return Check(False, "No evidence fields named, so nothing to check.", {})
    names = [labels.get(key, key.replace("_", " ")) for key in config["fields"]]
    if deal.forecast_category not in config["categories"]:
        return Check(
            False, f"In {_category(deal)}, which needs no evidence.", {"forecast_category": deal.forecast_category}
        )
    missing = [key for key in config["fields"] if _empty(deal, key)]
    values = {"forecast_category": deal.forecast_category, "missing": missing}
    if missing:
        shown = [labels.get(key, key.replace("_", " ")) for key in missing]
        return Check(True, f"In {_category(deal)} without {words.joined(shown)}.", values)
    return Check(False, f"In {_category(deal)} with {words.joined(names)} filled in.", values)


def _clean_commit_evidence(config: dict) -> dict:
    return {
        "fields": _evidence_fields(config),
        "days": _whole(config, "days", "how many days ago the move to Commit may be"),
        "propose_category": _proposal(config, [Opportunity.ForecastCategory.COMMIT]),
    }


@policy(
    "commit_without_evidence",
    "Moved to Commit without evidence",
    defaults={"fields": [], "days": 30, "propose_category": None},
    fields=("forecast_category",),
    fixed="the evidence fields are filled in, or the deal left Commit",
    clean=_clean_commit_evidence,
)
def commit_without_evidence(deal, signals, config, *, today: dt.date, labels=None) -> Check:
    """A deal moved to commit (the portal's own record of the move) within N days while evidence fields
    the team names are empty (none named: off)."""
    labels = labels or {}
    if not config["fields"]:
        return Check(False, "No evidence fields named, so nothing to check.", {})
    commit = Opportunity.ForecastCategory.COMMIT
    values = {"forecast_category": deal.forecast_category, "limit_days": config["days"]}
    if deal.forecast_category != commit:
        return Check(False, f"Not in Commit (in {_category(deal)}).", values)
    move = signals.last_category_change
    if move is None or move[2] != commit:
        return Check(False, "In Commit, with no move to Commit recorded by the portal.", values)
    when, old, _new = move
    ago = (today - timezone.localdate(when)).days
    values.update(moved_at=when.isoformat(), moved_from=old or None, days_since_move=ago)
    moved = f"Moved to Commit on {words.day(when, today)}" + (f" (from {CATEGORIES.get(old, old)})" if old else "")
    if ago > config["days"]:
        return Check(False, f"{moved}, more than {words.days(config['days'])} ago.", values)
    missing = [key for key in config["fields"] if _empty(deal, key)]
    values["missing"] = missing
    if missing:
        shown = [labels.get(key, key.replace("_", " ")) for key in missing]
        return Check(True, f"{moved} without {words.joined(shown)}.", values)
    names = [labels.get(key, key.replace("_", " ")) for key in config["fields"]]
    return Check(False, f"{moved} with {words.joined(names)} filled in.", values)


def policy_proposal(config: dict, deal, check: Check) -> str | None:
    """The forecast category a fired policy proposes for ``deal`` (its ``propose_category``), or None when
    it proposes nothing or the deal is already there. Only a proposal: a manager approves it."""
    target = config.get("propose_category")
    if not check.fired or target is None or deal.forecast_category == target:
        return None
    return target


# --- config -----------------------------------------------------------------------------------------


def policy_config_clean(config: dict) -> dict:
    """The cleaned ``{"policy": key, …thresholds}`` (defaults filled in) or ``ValidationError`` in plain words."""
    if not isinstance(config, dict):
        raise _err('give the policy and its thresholds, e.g. {"policy": "close_date_past"}.')
    key = config.get("policy")
    if key not in POLICIES:
        raise _err(f"policy must be one of {', '.join(POLICIES)}, not {key!r}.")
    found = POLICIES[key]
    given = {k: v for k, v in config.items() if k != "policy"}
    unknown = sorted(set(given) - set(found.defaults))
    if unknown:
        allowed = ", ".join(found.defaults) or "none"
        raise _err(f"{found.label} has no parameter {', '.join(map(repr, unknown))} (allowed: {allowed}).")
    return {"policy": key, **found.clean({**found.defaults, **given})}


def policy_check(config: dict, deal, signals, *, today: dt.date, labels=None) -> Check:
    """Run the policy a cleaned ``config`` names on one deal."""
    return POLICIES[config["policy"]].check(deal, signals, config, today=today, labels=labels)
