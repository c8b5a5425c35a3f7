"""Each automation's page says in plain language when it starts, what rule, what it changes, who gets
what it cannot finish, how to override it and who supports it."""

import pytest
from django.urls import reverse

from revops.engine.admin.about import about_rows
from revops.models import Automation
from tests.revops.test_engine import make

pytestmark = pytest.mark.django_db


def test_the_answers_read_as_sentences():
    auto = make(
        "Hot lead follow-up",
        trigger="field_changed",
        trigger_fields=["score", "country"],
        downstream_effect="A call task for the lead's owner, due in two hours.",
    )
    rows = dict(about_rows(auto))
    assert rows["When it starts"] == "When a lead's Lead score or Country changes."
    assert rows["What it changes"] == "A call task for the lead's owner, due in two hours."
    assert rows["What it does"].endswith("It is live: what it decides is applied.")
    assert "{" not in rows["What it does"] and "Title: “" in rows["What it does"]  # words, not JSON
    assert rows["Who receives what it cannot finish"].startswith("The RevOps queue, as an item")
    assert "Pause it" in rows["How to override it"]
    assert "rule owner (what it should do):" in rows["Who supports it"]
    assert "failure owner (when it fails):" in rows["Who supports it"]
    Automation.objects.filter(pk=auto.pk).update(risk="high", trigger="schedule", schedule_minutes=30)
    auto.refresh_from_db()
    rows = dict(about_rows(auto))
    assert rows["When it starts"] == "Every 30 minutes, over the leads the rule matches."
    assert "every action waits in the queue for approval" in rows["How to override it"]


def test_the_page_opens_with_it(admin_client):
    auto = make("Hot lead follow-up")
    page = admin_client.get(reverse("admin:revops_automation_change", args=[auto.pk])).content.decode()
    assert "In plain language" in page and "Who supports it" in page and "When a lead arrives or changes." in page
