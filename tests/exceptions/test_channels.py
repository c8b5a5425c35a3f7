"""Notification channels: each kind of notice reaches the channels its person chose (a fake transport
per channel kind), quiet hours hold immediate notices until they end, digests arrive at each
manager's local hour across daylight-saving changes, an SLA breach reaches the rep's manager at
once, the limit RevOps sets applies, and a real webhook receiver gets apprise's JSON post."""

from __future__ import annotations

import datetime as dt
import json
import threading
import zoneinfo
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from exceptions import channels
from exceptions.channels import LOGIN_EMAIL, channel_address_clean
from exceptions.models import ExceptionItem, Notification, NotificationChannel, NotificationLimits
from exceptions.notification_settings import (
    notification_channel_add,
    notification_channel_try,
    notification_settings_save,
)
from exceptions.notifications import (
    exception_item_notify,
    exception_release_held,
    exception_send_daily_digests,
)
from exceptions.services import exception_item_resolve
from tests.factories import UserFactory

from .support import make_queue, open_item

pytestmark = pytest.mark.django_db

SLACK = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"
TEAMS = (
    "https://prod-12.westus.logic.azure.com:443/workflows/abc123/triggers/manual/paths/invoke"
    "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=S1g"
)
UTC = dt.UTC


@pytest.fixture
def sent(monkeypatch):
    """A fake transport per channel kind: what each would have carried, as (kind, address, subject)."""
    carried = []

    def fake(kind):
        def send(target, subject, text, html):
            if "broken" in target.address:
                raise RuntimeError("HTTP 500 from the receiver")
            carried.append((kind, target.address, subject))

        return send

    for kind in NotificationChannel.Kind.values:
        monkeypatch.setitem(channels.TRANSPORTS, kind, fake(kind))
    return carried


def _person(username="mia", **fields):
    return UserFactory(username=username, email=f"{username}@example.com", **fields)


def _channels(person):
    add = lambda kind, name, address="": notification_channel_add(  # noqa: E731
        person=person, kind=kind, name=name, address=address, actor=person
    )
    return {
        "slack": add("slack", "#east-alerts", SLACK),
        "teams": add("teams", "Sales East", TEAMS),
        "hook": add("webhook", "Pager bridge", "https://pager.example.com/in"),
        "other": add("email", "Phone inbox", "mia.phone@example.com"),
    }


def _save(person, routes, **when):
    values = {"time_zone": "", "digest_hour": 7, "quiet_from": None, "quiet_until": None, **when}
    return notification_settings_save(person=person, routes=routes, actor=person, **values)


def test_each_kind_of_notice_goes_to_the_channels_its_person_chose(sent):
    person = _person()
    make_queue("RevOps", manager=person)
    ch = _channels(person)
    _save(
        person,
        {
            "critical": [ch["slack"].pk, ch["teams"].pk],
            "escalated": [LOGIN_EMAIL, ch["hook"].pk, ch["other"].pk],
            "woke": [],
            "opened:sla_breach": [ch["slack"].pk, 999999],  # not theirs: dropped
        },
    )
    critical = open_item("c", queue_name="RevOps", owner=person)
    assert exception_item_notify(item_id=critical.pk, reason="critical") == "sent"
    assert [(k, a) for k, a, _ in sent] == [("slack", SLACK), ("teams", TEAMS)]
    note = Notification.objects.get(item=critical)
    assert note.channels == "Slack: #east-alerts, Microsoft Teams: Sales East"

    sent.clear()
    assert exception_item_notify(item_id=critical.pk, reason="escalated_1") == "sent"
    assert sorted((k, a) for k, a, _ in sent) == [
        ("email", "mia.phone@example.com"),
        ("email", "mia@example.com"),
        ("webhook", "https://pager.example.com/in"),
    ]
    sent.clear()
    assert exception_item_notify(item_id=critical.pk, reason="woke_1") == "off"  # ticked nowhere
    breach = open_item("b", kind="sla_breach", queue_name="RevOps", owner=person)
    assert exception_item_notify(item_id=breach.pk, reason="opened") == "sent"
    assert sent == [("slack", SLACK, breach.title)]
    # A kind of notice the person never set (the digest) still reaches their login's e-mail.
    sent.clear()
    assert exception_send_daily_digests(now=dt.datetime(2026, 12, 7, 8, 0, tzinfo=UTC)) == 1
    assert [(k, a) for k, a, _ in sent] == [("email", "mia@example.com")]


def test_a_broken_channel_does_not_stop_the_others_and_says_what_went_wrong(sent):
    person = _person()
    good = notification_channel_add(person=person, kind="slack", name="#ok", address=SLACK, actor=person)
    bad = notification_channel_add(
        person=person, kind="webhook", name="Old bridge", address="https://broken.example.com/in", actor=person
    )
    _save(person, {"critical": [good.pk, bad.pk]})
    item = open_item("c", owner=person)
    assert exception_item_notify(item_id=item.pk, reason="critical") == "sent"
    note = Notification.objects.get(item=item)
    assert note.channels == "Slack: #ok (failed: Webhook: Old bridge)"
    bad.refresh_from_db()
    assert bad.last_error == "HTTP 500 from the receiver" and bad.last_failed_at is not None
    _save(person, {"critical": [bad.pk]})
    other = open_item("d", owner=person)
    assert exception_item_notify(item_id=other.pk, reason="critical") == "failed"
    assert notification_channel_try(channel=bad) == "HTTP 500 from the receiver"
    assert notification_channel_try(channel=good) == ""


def test_quiet_hours_hold_immediate_notices_until_they_end(sent):
    person = _person()
    _save(person, {}, time_zone="America/New_York", quiet_from=dt.time(22), quiet_until=dt.time(7))
    # 23:30 in New York (EST, UTC-5) on 6 March: held until 07:00 local, 12:00 UTC.
    night = dt.datetime(2026, 3, 7, 4, 30, tzinfo=UTC)
    kept, closed = open_item("a", owner=person), open_item("b", owner=person)
    assert exception_item_notify(item_id=kept.pk, reason="critical", now=night) == "held"
    assert exception_item_notify(item_id=closed.pk, reason="critical", now=night) == "held"
    assert Notification.objects.get(item=kept).deliver_after == dt.datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    assert sent == []
    exception_item_resolve(item=closed, actor=person, reason_code="fixed_in_crm", note="done")
    assert exception_release_held(now=dt.datetime(2026, 3, 7, 11, 59, tzinfo=UTC)) == {}
    assert exception_release_held(now=dt.datetime(2026, 3, 7, 12, 0, tzinfo=UTC)) == {"sent": 1, "skipped": 1}
    assert [(k, a) for k, a, _ in sent] == [("email", "mia@example.com")]
    assert exception_release_held(now=dt.datetime(2026, 3, 7, 13, 0, tzinfo=UTC)) == {}  # never twice
    # The night the clocks go forward (8 March): 07:00 EDT is 11:00 UTC.
    spring = dt.datetime(2026, 3, 8, 5, 0, tzinfo=UTC)  # 00:00 EST
    later = open_item("c", owner=person)
    assert exception_item_notify(item_id=later.pk, reason="critical", now=spring) == "held"
    assert Notification.objects.get(item=later).deliver_after == dt.datetime(2026, 3, 8, 11, 0, tzinfo=UTC)
    # Outside quiet hours a notice goes at once.
    noon = open_item("d", owner=person)
    assert (
        exception_item_notify(item_id=noon.pk, reason="critical", now=dt.datetime(2026, 3, 9, 17, tzinfo=UTC)) == "sent"
    )


@pytest.mark.parametrize(
    ("zone", "before", "first", "after_change"),
    [
        # Berlin: CET (UTC+1) until 29 March 2026, CEST (UTC+2) after.
        ("Europe/Berlin", (2026, 3, 28, 5, 45), (2026, 3, 28, 6, 0), (2026, 3, 30, 5, 0)),
        # New York: EST (UTC-5) until 8 March 2026, EDT (UTC-4) after.
        ("America/New_York", (2026, 3, 7, 11, 45), (2026, 3, 7, 12, 0), (2026, 3, 9, 11, 0)),
        # Sydney: AEDT (UTC+11) until 5 April 2026, AEST (UTC+10) after; 07:00 local is the evening before in UTC.
        ("Australia/Sydney", (2026, 4, 3, 19, 45), (2026, 4, 3, 20, 0), (2026, 4, 6, 21, 0)),
    ],
)
def test_digest_at_the_managers_local_hour_across_daylight_saving(sent, zone, before, first, after_change):
    manager = _person("lea")
    _save(manager, {}, time_zone=zone, digest_hour=7)
    make_queue("RevOps", manager=manager)
    open_item("x", queue_name="RevOps")
    at = lambda parts: dt.datetime(*parts, tzinfo=UTC)  # noqa: E731
    assert exception_send_daily_digests(now=at(before)) == 0  # 06:45 local
    assert exception_send_daily_digests(now=at(first)) == 1  # 07:00 local
    assert exception_send_daily_digests(now=at(first) + dt.timedelta(hours=3)) == 0  # once per local day
    assert exception_send_daily_digests(now=at(after_change) - dt.timedelta(minutes=15)) == 0
    assert exception_send_daily_digests(now=at(after_change)) == 1  # 07:00 local after the change
    assert len(sent) == 2
    keys = list(Notification.objects.filter(recipient=manager).order_by("pk").values_list("key", flat=True))
    local = zoneinfo.ZoneInfo(zone)
    assert keys == [
        f"digest:{at(first).astimezone(local).date()}",
        f"digest:{at(after_change).astimezone(local).date()}",
    ]


def test_a_rep_record_gives_the_time_zone_until_the_person_sets_one(sent):
    from revops.models import Rep

    manager = _person("raj")
    Rep.objects.create(external_id="R-raj", name="Raj", email="raj@example.com", time_zone="Asia/Kolkata", user=manager)
    make_queue("RevOps", manager=manager)
    open_item("x", queue_name="RevOps")
    # 07:00 in Kolkata (UTC+05:30) is 01:30 UTC.
    assert exception_send_daily_digests(now=dt.datetime(2026, 12, 7, 1, 15, tzinfo=UTC)) == 0
    assert exception_send_daily_digests(now=dt.datetime(2026, 12, 7, 1, 30, tzinfo=UTC)) == 1


def test_an_sla_breach_reaches_the_reps_manager_at_once(django_capture_on_commit_callbacks, run_worker):
    manager = _person("max")
    make_queue("Sales East", manager=manager)
    with django_capture_on_commit_callbacks(execute=True):
        item = open_item("breach", kind="sla_breach", queue_name="Sales East", owner=manager)
    assert item.severity != "critical"  # told because its kind says so
    assert run_worker("default") == 0
    assert [m.to for m in mail.outbox] == [["max@example.com"]]
    assert mail.outbox[0].subject == item.title
    assert "needs action at once" in mail.outbox[0].body
    # A kind registered without notify_on_open waits for the digest.
    with django_capture_on_commit_callbacks(execute=True):
        open_item("quiet", kind="missing_data", queue_name="Sales East", owner=manager)
    assert run_worker("default") == 0 and len(mail.outbox) == 1


def test_the_limit_revops_sets_applies_to_every_immediate_notice(sent, settings):
    settings.EXCEPTION_NOTIFY_MAX_PER_HOUR = 10
    NotificationLimits.objects.create(per_person_per_hour=2)
    person = _person()
    items = [open_item(f"k{i}", owner=person) for i in range(3)]
    assert [exception_item_notify(item_id=i.pk, reason="critical") for i in items] == ["sent", "sent", "rate_limited"]


def test_channel_addresses_are_checked_with_what_each_kind_accepts():
    assert channel_address_clean("slack", f"  {SLACK} ") == SLACK
    assert channel_address_clean("teams", TEAMS) == TEAMS
    assert channel_address_clean("email", "") == ""
    cases = {
        ("slack", "https://example.com/hook"): "Slack incoming webhook",
        ("teams", "https://example.com/hook"): "Teams Workflows webhook",
        ("webhook", "ftp://example.com/x"): "https://",
        ("webhook", ""): "Paste the incoming webhook",
        ("email", "not an address"): "valid email",
        ("webhook", "http://127.0.0.1:8000/x"): "inside its own network",
        ("webhook", "http://169.254.169.254/latest/meta-data"): "inside its own network",
        ("webhook", "http://localhost/x"): "inside its own network",
    }
    for (kind, address), words in cases.items():
        with pytest.raises(ValidationError) as refused:
            channel_address_clean(kind, address)
        assert words in " ".join(refused.value.messages), (kind, address, refused.value.messages)


class _Receiver(BaseHTTPRequestHandler):
    posts: list = []

    def do_POST(self):  # noqa: N802 - the handler's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.posts.append((self.path, self.headers["Content-Type"], json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_webhook_channel_posts_apprises_json_to_a_real_receiver(settings):
    settings.NOTIFICATION_WEBHOOKS_INTERNAL = True  # the test's receiver listens on 127.0.0.1
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        person = _person()
        hook = notification_channel_add(
            person=person,
            kind="webhook",
            name="Local bridge",
            address=f"http://127.0.0.1:{server.server_port}/alerts?token=s3cret&team=east",
            actor=person,
        )
        _save(person, {"critical": [hook.pk]})
        item = open_item("c", owner=person, severity="critical")
        assert exception_item_notify(item_id=item.pk, reason="critical") == "sent"
    finally:
        server.shutdown()
    path, content_type, payload = _Receiver.posts[-1]
    assert path == "/alerts?token=s3cret&team=east" and content_type.startswith("application/json")
    assert payload["title"] == f"[critical] {item.title}"
    assert item.expected_action in payload["message"]
    assert ExceptionItem.objects.get(pk=item.pk).status == "open"
    hook.refresh_from_db()
    assert hook.last_sent_at is not None and hook.last_error == ""
