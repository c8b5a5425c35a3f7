"""The handoff report: completeness at close, time to ready, acceptance and why handoffs were sent back."""

import datetime as dt

import pytest
from django.utils import timezone

from handoffs.models import Handoff
from handoffs.selectors import handoff_metrics
from handoffs.services import handoff_accept, handoff_reject
from tests.handoffs.test_acceptance import COMPLETE
from tests.handoffs.test_readiness import deal, sync, world  # noqa: F401

pytestmark = pytest.mark.django_db


def test_the_report_counts_what_the_handoffs_did(sync, world, admin_client, settings):  # noqa: F811
    settings.SECURE_SSL_REDIRECT = False
    today = timezone.localdate().isoformat()
    sync(deal(external_id="O-1", close_date=today, **COMPLETE))
    sync(deal(external_id="O-2", close_date=today, **COMPLETE))
    sync(deal(external_id="O-3", close_date=today))  # waiting for context
    first, second = Handoff.objects.filter(status="sent").order_by("pk")
    handoff_accept(handoff=first, actor=world["manager"], now=first.sent_at + dt.timedelta(hours=3))
    handoff_reject(handoff=second, reason_code="context_vague", note="vague", actor=world["manager"])

    since = timezone.now() - dt.timedelta(days=1)
    rows = handoff_metrics(user=admin_client.get("/admin/").wsgi_request.user, since=since, group_by="checklist")
    assert len(rows) == 1
    row = rows[0]
    assert (row["label"], row["handoffs"], row["waiting"]) == ("Sales → Onboarding", 3, 1)
    assert (row["ready_0"], row["ready_1"], row["ready_7"]) == (2, 2, 2)
    assert (row["accepted"], row["rejected"], row["acceptance_rate"]) == (1, 1, 0.5)
    assert row["median_hours_to_accept"] == pytest.approx(3, abs=0.01)
    assert row["rejection_reasons"] == [("context_vague", 1)]

    page = admin_client.get("/admin/handoffs/handoff/report/").content.decode()
    assert "Handoff report" in page and "Use case or success criteria too vague (1)" in page
    assert "67 %" in page and "50 %" in page and "3 h" in page
