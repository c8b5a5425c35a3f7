"""The demo holds one run reverted by the real revert service, shown on its lead's Why page."""

import pytest
from django.urls import reverse

from revops.demo import demo_load
from revops.engine.demo import DEMO_REVERT_AUTOMATION, DEMO_REVERT_REASON
from revops.models import RunRevert, Task

pytestmark = pytest.mark.django_db


def test_the_demo_contains_a_reverted_run_on_its_leads_why_page(admin_client):
    demo_load(seed=7)
    # The demo's RevOps lead also reverts a field update in the morning review (revops/engine/demo_review.py).
    revert = RunRevert.objects.select_related("run__automation").get(run__automation__name=DEMO_REVERT_AUTOMATION)
    assert revert.run.automation.name == DEMO_REVERT_AUTOMATION and revert.reason == DEMO_REVERT_REASON
    assert revert.reverted == 1 and revert.actor is not None
    task_id = revert.run.applied.get(action="create_task").after["task_id"]
    assert Task.objects.get(pk=task_id).status == "cancelled"
    page = admin_client.get(reverse("admin:revops_lead_why", args=[revert.run.object_id])).content.decode()
    assert "Reverted runs" in page and DEMO_REVERT_REASON in page
    reverts = RunRevert.objects.count()
    demo_load(seed=7)  # a second load reverts nothing more
    assert RunRevert.objects.count() == reverts
