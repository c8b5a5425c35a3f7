"""The shipped renewal policies: small functions over a customer account, its recorded history and the
policy's thresholds, each returning a ``Check`` (fired, the sentence people read, the values).

Three kinds of policy, by what the daily scan (``monitors.renewal_scan``) does with a fired check:

* **risks** (``health_red``, ``usage_drop``, ``sponsor_loss``): listed on the account's one "renewal
  risk" item for the owner's manager, which closes by itself when the data is fixed;
* **tasks** (``renewal_task``, ``save_plan``): a CRM task for the account owner, created once per
  renewal (or per red spell) and reported to the CRM through the changes feed;
* **notices** (``finance_notice``): one e-mail to a named address per account and renewal.

Every threshold names the dictionary field it reads, so a CRM whose fields are called otherwise can
configure them; the cleaner checks the dictionary has such an account field of a fitting type.
Nothing here writes; the clock is the caller's (``today``/``now``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from revops.values import loose_date

from . import words
from .policies import Check
from .renewal_selectors import CUSTOMER, FieldInfo, History, as_number, as_text, field_value

MAX_DAYS = 3650
SEGMENT_MAX = 40
RISK, TASK, NOTICE = "risk", "task", "notice"
NUMERIC = ("integer", "decimal")


@dataclass
class Facts:
    """What a check may read besides the account and its config: the clock, the recorded history, the
    dictionary, the account's segment and (for notices) the risks the account has now."""

    today: dt.date
    now: dt.datetime
    history: History
    fields: dict[str, FieldInfo]
    segment: tuple[str, str] = ("", "")
    risks: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RenewalPolicy:
    """A shipped renewal policy: key, label, what it does (risk, task or notice), default thresholds,
    cleaner, check, the config keys naming the fields it reads, what "fixed" means and the expected action."""

    key: str
    label: str
    does: str
    description: str
    defaults: dict[str, Any]
    clean: Callable[[dict, dict], dict]
    check: Callable[..., Check]
    field_keys: tuple[str, ...]
    fixed: str
    expected: str

    def fields(self, config: dict) -> list[str]:
        """The dictionary keys this policy reads under ``config``."""
        return [config[key] for key in self.field_keys if config.get(key)]


POLICIES: dict[str, RenewalPolicy] = {}


def _err(message: str) -> ValidationError:
    return ValidationError({"config": message})


def _whole(config: dict, key: str, what: str, *, low: int = 1, high: int = MAX_DAYS) -> int:
    value = config.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _err(f"{key} ({what}) must be a whole number from {low} to {high}, not {value!r}.")
    return value


def _number(config: dict, key: str, what: str, *, high: float | None = None) -> float:
    value = config.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0 or (high and value > high):
        limit = f" and at most {high:g}" if high else ""
        raise _err(f"{key} ({what}) must be a number above 0{limit}, not {value!r}.")
    return value


def _field(config: dict, key: str, what: str, types: tuple[str, ...], fields: dict[str, FieldInfo]) -> str:
    """A dictionary key of an account field of one of ``types``."""
    value = config.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _err(f"{key} ({what}) must name an account field of the data dictionary, not {value!r}.")
    value = value.strip()
    info = fields.get(value)
    if info is None:
        raise _err(f"{key} ({what}) names {value!r}, which the data dictionary does not define for accounts.")
    if info.field_type not in types:
        kinds = " or ".join(types)
        raise _err(f"{key} ({what}) names {info.label} ({value}), a {info.field_type} field; it must be {kinds}.")
    return value


def policy(key, label, *, does, defaults, field_keys, fixed, expected, clean):
    """Register the decorated check as the renewal policy ``key``."""

    def decorate(check):
        POLICIES[key] = RenewalPolicy(
            key=key,
            label=label,
            does=does,
            description=(check.__doc__ or "").strip(),
            defaults=defaults,
            clean=clean,
            check=check,
            field_keys=field_keys,
            fixed=fixed,
            expected=expected,
        )
        return check

    return decorate


def _label(facts: Facts, key: str) -> str:
    info = facts.fields.get(key)
    return info.label if info else key.replace("_", " ").capitalize()


def _source(facts: Facts, key: str) -> str:
    info = facts.fields.get(key)
    return f"source of truth: {info.source}" if info and info.source else "no source of truth in the dictionary"


def _num(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.1f}"


def _not_customer(account) -> Check | None:
    if account.customer_status != CUSTOMER:
        return Check(False, f"Not a customer ({account.get_customer_status_display()}).", {})
    return None


def _renewal(account, config: dict, facts: Facts) -> tuple[dt.date | None, int | None]:
    renews = loose_date(field_value(account, config["renewal_field"]))
    return renews, ((renews - facts.today).days if renews else None)


def _renews_text(renews: dt.date, left: int, today: dt.date) -> str:
    if left < 0:
        return f"renewal date {words.day(renews, today)} has passed ({words.ago(-left)})"
    return f"renews {words.day(renews, today)} ({'today' if left == 0 else f'in {words.days(left)}'})"


def _since(facts: Facts, *, weeks: int = 0, days: int = 0) -> dt.datetime:
    return facts.now - dt.timedelta(weeks=weeks, days=days)


# --- tasks: the renewal task ------------------------------------------------------------------------


def _clean_renewal_task(config: dict, fields: dict) -> dict:
    days = config.get("days_before")
    if not isinstance(days, dict):
        raise _err(
            "days_before (days before the renewal, per segment) must name segments and days, e.g. "
            '{"SMB": 60, "MM": 90, "ENT": 120}.'
        )
    cleaned = {}
    for segment in days:
        if not isinstance(segment, str) or not segment.strip() or len(segment) > SEGMENT_MAX:
            raise _err(f"days_before names {segment!r}, which is not a segment name.")
        cleaned[segment.strip()] = _whole(days, segment, f"days before the renewal in {segment}")
    return {
        "days_before": cleaned,
        "default": _whole(config, "default", "days before the renewal for other segments"),
        "due_in_days": _whole(config, "due_in_days", "days the owner has to do the task"),
        "renewal_field": _field(config, "renewal_field", "the renewal date", ("date", "datetime"), fields),
    }


def renewal_window(config: dict, segment: str) -> int:
    """The days before the renewal at which ``config`` asks for the task, for ``segment``."""
    return config["days_before"].get(segment, config["default"])


@policy(
    "renewal_task",
    "Renewal task",
    does=TASK,
    defaults={
        "days_before": {"SMB": 60, "MM": 90, "ENT": 120},
        "default": 90,
        "due_in_days": 14,
        "renewal_field": "renewal_date",
    },
    field_keys=("renewal_field",),
    fixed="the renewal is no longer within the window",
    expected="Prepare the renewal: confirm the decision makers, usage and terms, and plan the renewal call.",
    clean=_clean_renewal_task,
)
def renewal_task(account, config: dict, facts: Facts) -> Check:
    """A task for the account owner N days before the renewal date (N per segment: the owner's team's,
    else the employee band), once per account and renewal."""
    if (no := _not_customer(account)) is not None:
        return no
    renews, left = _renewal(account, config, facts)
    segment, how = facts.segment
    window = renewal_window(config, segment)
    values = {"renewal_date": renews.isoformat() if renews else None, "segment": segment, "window_days": window}
    where = f"{segment or 'no segment'} ({how}): {words.days(window)} before"
    if renews is None:
        return Check(False, f"No {_label(facts, config['renewal_field']).lower()} ({where}).", values)
    values["days_left"] = left
    when = _renews_text(renews, left, facts.today)
    text = f"{when[:1].upper()}{when[1:]}; window for {where}."
    return Check(0 <= left <= window, text, values)


# --- tasks: the save plan ----------------------------------------------------------------------------


def _clean_save_plan(config: dict, fields: dict) -> dict:
    return {
        "threshold": _number(config, "threshold", "the health below which an account is red"),
        "field": _field(config, "field", "the health field", NUMERIC, fields),
        "due_in_days": _whole(config, "due_in_days", "days the owner has to write the save plan"),
    }


def _health(account, config: dict, facts: Facts) -> tuple[Decimal | None, str]:
    value = as_number(field_value(account, config["field"]))
    return value, _label(facts, config["field"])


@policy(
    "save_plan",
    "Save plan for a red account",
    does=TASK,
    defaults={"threshold": 40, "field": "health_score", "due_in_days": 7},
    field_keys=("field",),
    fixed="the account is no longer red",
    expected="Write a save plan with the customer: the cause, the executive to involve and the next steps.",
    clean=_clean_save_plan,
)
def save_plan(account, config: dict, facts: Facts) -> Check:
    """A save-plan task for the owner of a red account (health below the threshold), once while it stays red."""
    if (no := _not_customer(account)) is not None:
        return no
    value, label = _health(account, config, facts)
    limit = Decimal(str(config["threshold"]))
    values = {"value": float(value) if value is not None else None, "threshold": config["threshold"]}
    if value is None:
        return Check(False, f"No {label.lower()} ({_source(facts, config['field'])}).", values)
    if value < limit:
        return Check(True, f"{label} {_num(value)}: red (below {_num(limit)}).", values)
    return Check(False, f"{label} {_num(value)}: not red (red is below {_num(limit)}).", values)


# --- risks --------------------------------------------------------------------------------------------


def _clean_health_red(config: dict, fields: dict) -> dict:
    return {
        "threshold": _number(config, "threshold", "the health below which an account is red"),
        "field": _field(config, "field", "the health field", NUMERIC, fields),
        "weeks": _whole(config, "weeks", "weeks in which a drop to red counts", high=104),
        "renewal_window_days": _whole(config, "renewal_window_days", "days before the renewal when red always counts"),
        "renewal_field": _field(config, "renewal_field", "the renewal date", ("date", "datetime"), fields),
    }


@policy(
    "health_red",
    "Health dropped to red",
    does=RISK,
    defaults={
        "threshold": 40,
        "field": "health_score",
        "weeks": 4,
        "renewal_window_days": 120,
        "renewal_field": "renewal_date",
    },
    field_keys=("field", "renewal_field"),
    fixed="health is back at or above the threshold",
    expected="Find out why health dropped with the customer and agree a save plan before the renewal.",
    clean=_clean_health_red,
)
def health_red(account, config: dict, facts: Facts) -> Check:
    """Health below the threshold that either dropped there in the last N weeks (from at or above it, as the
    portal recorded) or is red inside the renewal window; a long-red account far from renewal is the save
    plan's business, not a new risk."""
    if (no := _not_customer(account)) is not None:
        return no
    value, label = _health(account, config, facts)
    limit = Decimal(str(config["threshold"]))
    values = {"value": float(value) if value is not None else None, "threshold": config["threshold"]}
    if value is None:
        return Check(False, f"No {label.lower()} ({_source(facts, config['field'])}).", values)
    if value >= limit:
        return Check(False, f"{label} {_num(value)}: not red (red is below {_num(limit)}).", values)
    red = f"{label} {_num(value)}: red (below {_num(limit)})"
    changed, then = facts.history.value_then(account.pk, config["field"], _since(facts, weeks=config["weeks"]))
    before = as_number(then) if changed else None
    if before is not None and before >= limit:
        values["before"] = float(before)
        weeks = "week" if config["weeks"] == 1 else f"{config['weeks']} weeks"
        return Check(
            True,
            f"{red}, down from {_num(before)} within the last {weeks} ({_source(facts, config['field'])}).",
            values,
        )
    renews, left = _renewal(account, config, facts)
    if renews is not None and 0 <= left <= config["renewal_window_days"]:
        values["renewal_date"], values["days_left"] = renews.isoformat(), left
        return Check(True, f"{red}, and it {_renews_text(renews, left, facts.today)}.", values)
    window = words.days(config["renewal_window_days"])
    return Check(False, f"{red}, but not a new drop and the renewal is not within {window}.", values)


def _clean_usage(config: dict, fields: dict) -> dict:
    return {
        "field": _field(config, "field", "the usage field", NUMERIC, fields),
        "percent": _number(config, "percent", "the drop in % that counts", high=100),
        "weeks": _whole(config, "weeks", "weeks over which usage is compared", high=104),
    }


@policy(
    "usage_drop",
    "Usage dropped",
    does=RISK,
    defaults={"field": "weekly_active_users", "percent": 25, "weeks": 4},
    field_keys=("field",),
    fixed="usage is no longer down by the limit",
    expected="Ask the customer what changed (team, project, tool) and plan adoption help before the renewal.",
    clean=_clean_usage,
)
def usage_drop(account, config: dict, facts: Facts) -> Check:
    """A numeric usage field dropped by at least X % over the last N weeks, from the portal's recorded history."""
    if (no := _not_customer(account)) is not None:
        return no
    key = config["field"]
    label, now_value = _label(facts, key), as_number(field_value(account, key))
    weeks = "1 week" if config["weeks"] == 1 else f"{config['weeks']} weeks"
    values = {"value": float(now_value) if now_value is not None else None, "limit_percent": config["percent"]}
    if now_value is None:
        return Check(False, f"No {label.lower()} ({_source(facts, key)}).", values)
    changed, then = facts.history.value_then(account.pk, key, _since(facts, weeks=config["weeks"]))
    before = as_number(then) if changed else now_value
    values["before"] = float(before) if before is not None else None
    if before is None or before <= 0:
        return Check(False, f"{label} {_num(now_value)}; nothing to compare with {weeks} ago.", values)
    drop = float((before - now_value) / before * 100)
    values["drop_percent"] = round(drop, 1)
    if drop <= 0:
        return Check(False, f"{label} not down over {weeks} ({_num(before)} → {_num(now_value)}).", values)
    text = (
        f"{label} down {words.percent(drop)} % over {weeks} ({_num(before)} → {_num(now_value)}; "
        f"limit {words.percent(config['percent'])} %; {_source(facts, key)})."
    )
    return Check(drop >= config["percent"], text, values)


def _clean_sponsor(config: dict, fields: dict) -> dict:
    return {
        "field": _field(config, "field", "the executive sponsor field", ("text", "email", "choice"), fields),
        "days": _whole(config, "days", "days a sponsor change counts"),
    }


@policy(
    "sponsor_loss",
    "Executive sponsor lost",
    does=RISK,
    defaults={"field": "executive_sponsor", "days": 90},
    field_keys=("field",),
    fixed="the executive sponsor is back or the field was filled again",
    expected=(
        "Confirm who sponsors the renewal on the customer's side and meet them; once the new sponsor is "
        "engaged, dismiss this with a reason."
    ),
    clean=_clean_sponsor,
)
def sponsor_loss(account, config: dict, facts: Facts) -> Check:
    """The executive sponsor field was emptied or changed to another person in the last N days (from the
    portal's recorded changes, with old and new). Filled again after being emptied, or back to the sponsor
    of the window's start: fixed. Replaced by someone else: a risk until a person dismisses it (having met
    the new sponsor) or N days pass."""
    if (no := _not_customer(account)) is not None:
        return no
    key = config["field"]
    label = _label(facts, key)
    current = as_text(field_value(account, key))
    changes = facts.history.changes(account.pk, key, _since(facts, days=config["days"]))
    values = {"current": current}
    window = words.days(config["days"])
    if not changes:
        return Check(False, f"{label} not changed in the last {window} (now: {current or 'empty'}).", values)
    latest, before = changes[0], changes[-1].old_value  # the sponsor when the window began
    lost = before or latest.old_value
    when = words.day(latest.changed_at, facts.today)
    values.update({"before": before, "lost": lost, "changed_at": latest.changed_at.isoformat()})
    if not current and lost:
        return Check(True, f"{label} changed from {lost} to — (emptied) on {when}.", values)
    if not current:
        return Check(False, f"{label} empty, and was not filled in the last {window}.", values)
    if before and current == before:
        return Check(False, f"{label} changed in the last {window}, and is {current} again (since {when}).", values)
    if not latest.old_value:
        return Check(False, f"{label} filled again on {when} ({current}).", values)
    return Check(True, f"{label} changed from {lost} to {current} on {when}.", values)


# --- notices -------------------------------------------------------------------------------------------


def _clean_finance(config: dict, fields: dict) -> dict:
    recipient = config.get("recipient")
    try:
        validate_email(recipient.strip() if isinstance(recipient, str) else "")
    except ValidationError:
        raise _err(f"recipient (who gets the notice) must be an e-mail address, not {recipient!r}.") from None
    return {
        "recipient": recipient.strip().lower(),
        "threshold": _number(config, "threshold", "the renewal ARR at risk that finance hears about"),
        "window_days": _whole(config, "window_days", "days before the renewal"),
        "arr_field": _field(config, "arr_field", "the ARR field", NUMERIC, fields),
        "renewal_field": _field(config, "renewal_field", "the renewal date", ("date", "datetime"), fields),
    }


@policy(
    "finance_notice",
    "Finance notice of renewal ARR at risk",
    does=NOTICE,
    defaults={
        "recipient": None,
        "threshold": 100000,
        "window_days": 90,
        "arr_field": "arr",
        "renewal_field": "renewal_date",
    },
    field_keys=("arr_field", "renewal_field"),
    fixed="",
    expected="Finance plans with the renewal ARR at risk; the account owner's manager owns the risk item.",
    clean=_clean_finance,
)
def finance_notice(account, config: dict, facts: Facts) -> Check:
    """One e-mail to a named address (e.g. finance@…) when an account at risk (any live risk policy fires)
    renews within the window with ARR at or above the threshold; once per account and renewal."""
    if (no := _not_customer(account)) is not None:
        return no
    arr = as_number(field_value(account, config["arr_field"]))
    renews, left = _renewal(account, config, facts)
    limit = Decimal(str(config["threshold"]))
    values = {
        "arr": float(arr) if arr is not None else None,
        "renewal_date": renews.isoformat() if renews else None,
        "risks": list(facts.risks),
    }
    arr_text = f"ARR {_num(arr)}" if arr is not None else f"no {_label(facts, config['arr_field'])}"
    if renews is None:
        return Check(False, f"No {_label(facts, config['renewal_field']).lower()}; {arr_text}.", values)
    when = _renews_text(renews, left, facts.today)
    if not 0 <= left <= config["window_days"]:
        return Check(False, f"{arr_text}; {when}, not within {words.days(config['window_days'])}.", values)
    if not facts.risks:
        return Check(False, f"{arr_text}; {when}; no renewal risk found.", values)
    risks = words.joined(list(facts.risks)).lower()
    if arr is None or arr < limit:
        return Check(False, f"{arr_text} at risk ({risks}), below {_num(limit)}; {when}.", values)
    return Check(True, f"{arr_text} at risk ({risks}), at or above {_num(limit)}; {when}.", values)


# --- config ----------------------------------------------------------------------------------------------


def policy_config_clean(config: dict, *, fields: dict[str, FieldInfo] | None = None) -> dict:
    """The cleaned ``{"policy": key, …thresholds}`` (defaults filled in) or ``ValidationError`` in plain words."""
    from .renewal_selectors import account_fields

    if not isinstance(config, dict):
        raise _err('give the policy and its thresholds, e.g. {"policy": "renewal_task"}.')
    key = config.get("policy")
    if key not in POLICIES:
        raise _err(f"policy must be one of {', '.join(POLICIES)}, not {key!r}.")
    found = POLICIES[key]
    given = {k: v for k, v in config.items() if k != "policy"}
    unknown = sorted(set(given) - set(found.defaults))
    if unknown:
        raise _err(
            f"{found.label} has no parameter {', '.join(map(repr, unknown))} (allowed: {', '.join(found.defaults)})."
        )
    fields = account_fields() if fields is None else fields
    return {"policy": key, **found.clean({**found.defaults, **given}, fields)}


def policy_check(config: dict, account, facts: Facts) -> Check:
    """Run the policy a cleaned ``config`` names on one account."""
    return POLICIES[config["policy"]].check(account, config, facts)
