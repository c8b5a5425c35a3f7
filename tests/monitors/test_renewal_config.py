"""A renewal policy's config is validated per policy, with the fields it reads checked against the data
dictionary, and refused in plain words naming the parameter."""

import pytest
from django.core.exceptions import ValidationError

from monitors.renewal_policies import policy_config_clean
from revops.engine.kinds import get_kind

from .renewal_support import account_fields

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def dictionary():
    account_fields()


def refused(config) -> str:
    with pytest.raises(ValidationError) as error:
        get_kind("renewal_monitor").validate_config(config, object_type="account")
    return error.value.message_dict["config"][0]


def test_defaults_are_filled_in():
    assert policy_config_clean({"policy": "renewal_task"}) == {
        "policy": "renewal_task",
        "days_before": {"SMB": 60, "MM": 90, "ENT": 120},
        "default": 90,
        "due_in_days": 14,
        "renewal_field": "renewal_date",
    }
    cleaned = policy_config_clean({"policy": "finance_notice", "recipient": " Finance@Example.com "})
    assert cleaned["recipient"] == "finance@example.com" and cleaned["threshold"] == 100000


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"policy": "renewals"}, "policy must be one of renewal_task, save_plan, health_red"),
        ({"policy": "renewal_task", "days": 90}, "Renewal task has no parameter 'days' (allowed: days_before"),
        ({"policy": "renewal_task", "days_before": 90}, "days_before (days before the renewal, per segment) must name"),
        ({"policy": "renewal_task", "days_before": {"SMB": 0}}, "SMB (days before the renewal in SMB) must be a whole"),
        ({"policy": "health_red", "threshold": -5}, "threshold (the health below which an account is red) must be"),
        ({"policy": "health_red", "field": "nps"}, "field (the health field) names 'nps', which the data dictionary"),
        ({"policy": "usage_drop", "field": "usage_trend"}, "names Usage trend (usage_trend), a choice field; it must"),
        ({"policy": "usage_drop", "percent": 150}, "percent (the drop in % that counts) must be a number above 0 and"),
        ({"policy": "finance_notice"}, "recipient (who gets the notice) must be an e-mail address, not None."),
        ({"policy": "finance_notice", "recipient": "finance"}, "must be an e-mail address, not 'finance'."),
        ({"policy": "sponsor_loss", "days": "90"}, "days (days a sponsor change counts) must be a whole number"),
    ],
)
def test_bad_configs_are_refused_in_words(config, message):
    assert message in refused(config)
