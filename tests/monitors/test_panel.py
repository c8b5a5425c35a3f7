"""The "Forecast movement" panel of a deal's Why page speaks plain language."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from django.utils.formats import date_format

from monitors.models import ForecastSnapshot
from revops.admin.links import why_url
from revops.models import Opportunity
from tests.factories import LeadFactory, OpportunityFactory
from tests.monitors.support import movement

pytestmark = pytest.mark.django_db


def panel_of(client, object_type, pk) -> str:
    response = client.get(why_url(object_type, pk))
    assert response.status_code == 200
    html = response.content.decode()
    if "Forecast movement" not in html:
        return ""
    return html.split("rv-panel-forecast", 1)[1].split("</div>", 1)[0]


def test_the_why_page_of_a_deal_explains_its_forecast_movement(client, admin_user):
    now = timezone.now()
    deal = OpportunityFactory(
        stage=Opportunity.Stage.NEGOTIATION,
        amount=Decimal("80000"),
        last_activity_at=now - dt.timedelta(days=9, hours=1),
    )
    snapshot_day = timezone.localdate(now) - dt.timedelta(days=5)
    ForecastSnapshot.objects.create(
        opportunity=deal, taken_on=snapshot_day, stage="proposal", forecast_category="best_case", amount=100000
    )
    rows = [
        ("close_date", "2026-01-10", "2026-01-31", 21, now),
        ("close_date", "2026-01-31", "2026-02-20", 20, now),
        ("stage", "proposal", "negotiation", None, now - dt.timedelta(days=12, hours=2)),
        ("forecast_category", "best_case", "commit", None, now),
    ]
    for field, old, new, days, when in rows:
        movement(deal, field, old, new, when, days)
    client.force_login(admin_user)

    panel = panel_of(client, "opportunity", deal.pk)

    assert "Close date moved later twice this quarter, 41 days in total." in panel
    assert "Amount down 20 % since the snapshot of " in panel and date_format(snapshot_day, "j M") in panel
    assert "(100,000 → 80,000)" in panel
    assert "12 days in Negotiation" in panel
    assert "Forecast category changed once this quarter" in panel and "from Best case to Commit" in panel
    assert "Last activity 9 days ago" in panel
    for key in ("best_case", "negotiation", "close_date", "forecast_category", "None"):
        assert key not in panel


def test_a_quiet_deal_says_so_and_other_records_have_no_panel(client, admin_user):
    deal = OpportunityFactory(last_activity_at=None)
    lead = LeadFactory()
    client.force_login(admin_user)

    panel = panel_of(client, "opportunity", deal.pk)

    assert "Close date not moved later this quarter." in panel
    assert "No forecast snapshot of this deal yet" in panel
    assert "No activity logged." in panel
    assert panel_of(client, "lead", lead.pk) == ""
