"""The audit helper attributes history rows written outside a request."""

import pytest

from revops.audit import audited, system_user
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_history_rows_get_the_actor_and_reason():
    bot = system_user("automation:test")
    with audited(actor=bot, reason="automation test v1, run 7"):
        lead = LeadFactory()
        lead.score = 90
        lead.save()
    rows = list(lead.history.order_by("history_id"))
    assert [r.history_type for r in rows] == ["+", "~"]
    assert {r.history_user for r in rows} == {bot}
    assert {r.history_change_reason for r in rows} == {"automation test v1, run 7"}


def test_an_explicit_reason_on_the_instance_wins():
    with audited(actor=None, reason="context reason"):
        lead = LeadFactory.build()
        lead._change_reason = "own reason"
        lead.save()
    assert lead.history.get().history_change_reason == "own reason"


def test_no_context_leaves_history_unattributed():
    lead = LeadFactory()
    row = lead.history.get()
    assert row.history_user is None and row.history_change_reason is None


def test_system_users_cannot_sign_in():
    user = system_user("integration:crm")
    assert not user.is_active and not user.has_usable_password()
    assert system_user("integration:crm") == user
