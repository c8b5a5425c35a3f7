"""The *My notifications* page as a person uses it: add a channel (refused with what is accepted),
tick what goes where, set the time zone, digest hour and quiet hours, send a test, remove a channel;
nobody reaches another person's channel, and a webhook's secret never shows."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from exceptions import channels
from exceptions.models import NotificationChannel, NotificationPreference
from revops.access import REP
from revops.people import set_role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SLACK = "https://hooks.slack.com/services/T000/B000/SECRETSECRETSECRET000000"
URL = reverse("my-notifications")


@pytest.fixture
def rep():
    user = UserFactory(username="rosa", email="rosa@example.com")
    set_role(user, REP)
    client = Client()
    client.force_login(user)
    return user, client


def test_a_rep_sets_up_slack_for_critical_items_and_quiet_nights(rep, monkeypatch):
    user, client = rep
    page = client.get(URL)
    assert page.status_code == 200
    text = page.content.decode()
    assert "A critical item for me" in text and "SLA reminder for my lead" in text and "SLA breach for me" in text
    # Only the kinds of notice a rep ever gets: no forecast-call digest, no RevOps weekly.
    assert "Before my forecast call" not in text and "RevOps weekly" not in text

    refused = client.post(URL, {"action": "add", "kind": "slack", "name": "#me", "address": "https://example.com/x"})
    assert refused.status_code == 200 and "Expected a Slack incoming webhook" in refused.content.decode()
    assert not NotificationChannel.objects.exists()

    added = client.post(URL, {"action": "add", "kind": "slack", "name": "#rosa-alerts", "address": SLACK})
    assert added.status_code == 302
    channel = NotificationChannel.objects.get(person=user)
    page = client.get(URL).content.decode()
    assert "#rosa-alerts" in page and "https://hooks.slack.com/…" in page and "SECRET" not in page

    saved = client.post(
        URL,
        {
            "action": "save",
            "route": ["critical|login", f"critical|{channel.pk}", "escalated|login"],
            "time_zone": "Europe/Madrid",
            "digest_hour": "8",
            "quiet_from": "21:00",
            "quiet_until": "07:30",
        },
    )
    assert saved.status_code == 302
    preference = NotificationPreference.objects.get(person=user)
    assert preference.routes["critical"] == ["login", channel.pk]
    assert preference.routes["escalated"] == ["login"] and preference.routes["woke"] == []
    assert "weekly_revops" not in preference.routes  # not shown to a rep: left as it was
    assert (preference.time_zone, preference.digest_hour, str(preference.quiet_from)) == (
        "Europe/Madrid",
        8,
        "21:00:00",
    )
    assert preference.history.latest().history_user == user

    carried = []
    monkeypatch.setitem(channels.TRANSPORTS, "slack", lambda target, *args: carried.append(target.address))
    tested = client.post(URL, {"action": "test", "channel": channel.pk}, follow=True)
    assert carried == [SLACK] and "A test notice went to Slack: #rosa-alerts" in tested.content.decode()

    half = client.post(URL, {"action": "save", "digest_hour": "8", "quiet_from": "21:00", "quiet_until": ""})
    assert "Give both ends of the quiet hours" in half.content.decode()

    client.post(URL, {"action": "remove", "channel": channel.pk})
    assert not NotificationChannel.objects.filter(pk=channel.pk).exists()


def test_nobody_reaches_another_persons_channel(rep):
    user, client = rep
    other = UserFactory(username="otto", email="otto@example.com")
    theirs = NotificationChannel.objects.create(person=other, kind="slack", name="#otto", address=SLACK)
    assert client.post(URL, {"action": "remove", "channel": theirs.pk}).status_code == 404
    assert client.post(URL, {"action": "test", "channel": theirs.pk}).status_code == 404
    client.post(URL, {"action": "save", "digest_hour": "7", "route": [f"critical|{theirs.pk}"]})
    assert NotificationPreference.objects.get(person=user).routes["critical"] == []
    assert NotificationChannel.objects.filter(pk=theirs.pk).exists()
    assert Client().get(URL).status_code == 302  # signed out: the login page
