"""The pure scoring function: fit points, activity windows and decay against a controllable clock,
caps, and an explanation whose lines always sum to the total."""

import datetime as dt

import pytest

from lifecycle.scoring import explanation_text, score_lead, spec_from_model
from revops.models import Account, Activity, Lead

from .support import PRICING, scoring_model

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def activity(kind="call", subject="Pricing call", days=0.0):
    return Activity(kind=kind, subject=subject, occurred_at=NOW - dt.timedelta(days=days))


def score(model, lead=None, account=None, activities=(), now=NOW):
    lead = lead or Lead(email="ann@bigco.test")
    result = score_lead(lead, account, list(activities), spec_from_model(model), now)
    assert sum(line["points"] for line in result.lines) == result.total  # always: the lines sum to the total
    return result


def test_fit_points_come_from_the_lead_and_its_matched_account_and_can_be_negative():
    model = scoring_model()
    big = Account(name="BigCo", employees=800)
    result = score(model, Lead(email="ann@bigco.test"), big)
    assert result.total == 20
    assert explanation_text(result.lines) == ["+20 Employees (matched account) ≥ 500"]

    small = Account(name="SmallCo", employees=40)
    assert score(model, Lead(email="ann@gmail.com"), small).total == 0  # −10 floored at 0
    result = score(model, Lead(email="ann@gmail.com"), big)
    assert result.total == 10
    assert explanation_text(result.lines) == [
        "+20 Employees (matched account) ≥ 500",
        "−10 Free-mail address",
    ]


def test_activities_count_inside_their_window_only_and_decay_with_the_clock():
    model = scoring_model(fit=[], engagement=[{**PRICING, "cap": None}])
    assert score(model, activities=[activity(days=0.1)]).total == 20
    result = score(model, activities=[activity(days=7.0)])
    assert result.total == 10  # one half-life
    assert explanation_text(result.lines) == ["+10 Pricing interest: Pricing call, 7 days ago (decayed from +20)"]
    assert score(model, activities=[activity(days=14.0)]).total == 5
    assert score(model, activities=[activity(days=31.0)]).total == 0  # outside the 30-day window
    assert score(model, activities=[activity(days=-1.0)]).total == 0  # not yet happened
    assert score(model, activities=[activity(subject="Discovery call")]).total == 0  # the subject must match
    assert score(model, activities=[activity(kind="email", subject="Re: pricing")]).total == 0  # another kind

    # the same activity, a week later by the clock
    touch = activity(days=0)
    assert score(model, activities=[touch], now=NOW).total == 20
    assert score(model, activities=[touch], now=NOW + dt.timedelta(days=7)).total == 10


def test_linear_decay_reaches_zero_at_the_end_of_the_window_and_none_keeps_full_points():
    linear = {"label": "Meeting", "activity_kind": "meeting", "points": 20, "window_days": 10, "decay": "linear"}
    model = scoring_model(fit=[], engagement=[linear])
    assert score(model, activities=[activity("meeting", "Demo", days=5)]).total == 10
    assert score(model, activities=[activity("meeting", "Demo", days=10)]).total == 0
    flat = scoring_model("Flat", fit=[], engagement=[{**linear, "decay": "none"}])
    assert score(flat, activities=[activity("meeting", "Demo", days=9.9)]).total == 20


def test_a_rule_cap_and_the_total_cap_are_lines_of_the_explanation():
    model = scoring_model(fit=[{"condition": {"all": []}, "points": 90}])
    result = score(model, activities=[activity(days=0), activity(days=0), activity(days=0)])
    # 3 × 20 capped at 30 by the rule, then 90 + 30 capped at 100 by the model
    assert result.total == 100
    texts = explanation_text(result.lines)
    assert texts[-2:] == ["−30 Pricing interest: at most 30 points", "−20 Score at most 100"]
    assert [line["kind"] for line in result.lines] == [
        "fit",
        "engagement",
        "engagement",
        "engagement",
        "rule_cap",
        "cap",
    ]


def test_negative_points_are_floored_at_the_models_lowest_score_with_a_line():
    model = scoring_model(
        fit=[{"label": "Student", "condition": {"all": []}, "points": -25}], engagement=[], min_total=0
    )
    result = score(model)
    assert result.total == 0
    assert explanation_text(result.lines) == ["−25 Student", "+25 Score at least 0"]
    wide = scoring_model(
        "Wide", fit=[{"label": "Student", "condition": {"all": []}, "points": -25}], engagement=[], min_total=-50
    )
    assert score(wide).total == -25
