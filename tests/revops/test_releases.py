"""Configuration releases: one per apply that changes something, compare in words, roll back (and back again)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from exceptions import roles
from exceptions.models import Queue
from revops.configuration import config_apply, config_export
from revops.configuration.releases import release_compare
from revops.configuration.rollback import release_rollback
from revops.models import ConfigRelease
from routing.models import Pool
from tests.factories import RepFactory, UserFactory
from tests.revops.api_support import api_settings, token_client  # noqa: F401

pytestmark = pytest.mark.django_db


def document(queues=(), pools=()):
    return {"version": 1, "queues": list(queues), "pools": list(pools)}


def ops(hours=24, description=""):
    return {"name": "Ops", "description": description, "due_hours_high": hours}


@pytest.fixture
def admin(admin_user):
    return admin_user


def test_each_apply_that_changes_something_is_a_release(admin):
    plan = config_apply(document=document([ops()]), actor=admin, source="ops.yaml", reason="first queue")
    assert plan.applied and plan.release == 1
    release = ConfigRelease.objects.get(number=1)
    assert release.created_by == admin and release.source == "ops.yaml" and release.reason == "first queue"
    assert release.summary == plan.summary() and release.changes[0]["action"] == "create"
    assert release.document == json.loads(json.dumps(release.document))  # stored as plain JSON
    assert any(q["name"] == "Ops" for q in release.document["queues"])
    again = config_apply(document=document([ops()]), actor=admin, source="ops.yaml")
    assert again.applied and again.release is None and ConfigRelease.objects.count() == 1  # nothing changed
    failed = config_apply(document={"version": 1, "queues": [{"name": ""}]}, actor=admin)
    assert not failed.ok and ConfigRelease.objects.count() == 1


def test_compare_two_releases_in_words(admin):
    config_apply(document=document([ops(24)]), actor=admin)
    config_apply(document=document([ops(8, "Sales operations"), {"name": "Data"}]), actor=admin)
    old, new = ConfigRelease.objects.order_by("number")
    changes = release_compare(old.document, new.document)
    queues = next(section for section in changes if section["section"] == "queues")
    entries = {entry["key"]: entry for entry in queues["entries"]}
    assert entries["'Data'"]["action"] == "added" if "'Data'" in entries else entries["Data"]["action"] == "added"
    ops_entry = entries.get("'Ops'") or entries["Ops"]
    fields = {f["label"]: (f["old"], f["new"]) for f in ops_entry["fields"]}
    assert fields == {"Description": ("—", "Sales operations"), "Due hours high": ("24", "8")}
    assert release_compare(new.document, new.document) == []


def test_rollback_applies_the_earlier_release_as_a_new_one_and_can_be_rolled_back(admin):
    config_apply(document=document([ops(24)]), actor=admin)
    config_apply(document=document([ops(8), {"name": "Data"}]), actor=admin)
    with pytest.raises(ValidationError, match="why"):
        release_rollback(number=1, actor=admin, reason="")
    planned = release_rollback(number=1, actor=admin, reason="", dry_run=True)
    assert planned.ok and not planned.applied and planned.changes and ConfigRelease.objects.count() == 2
    assert Queue.objects.get(name="Ops").due_hours_high == 8  # a plan writes nothing

    rolled = release_rollback(number=1, actor=admin, reason="8 hours is too tight")
    assert rolled.applied and rolled.release == 3
    assert Queue.objects.get(name="Ops").due_hours_high == 24 and not Queue.objects.filter(name="Data").exists()
    third = ConfigRelease.objects.get(number=3)
    assert (
        third.rolled_back_to == 1 and third.reason == "8 hours is too tight" and third.source == "rollback to release 1"
    )
    assert release_compare(ConfigRelease.objects.get(number=1).document, third.document) == []

    back = release_rollback(number=2, actor=admin, reason="the tight target was right after all")
    assert back.applied and back.release == 4
    assert Queue.objects.get(name="Ops").due_hours_high == 8 and Queue.objects.filter(name="Data").exists()
    assert release_rollback(number=4, actor=admin, reason="", dry_run=True).changes == []


def test_rollback_is_refused_when_the_release_is_no_longer_valid(admin):
    ann, bob = RepFactory(name="Ann Lee", external_id="rep-ann"), RepFactory(name="Bob Ray", external_id="rep-bob")
    config_apply(document=document(pools=[{"name": "SDRs", "members": [{"rep": "rep-ann"}]}]), actor=admin)
    config_apply(document=document(pools=[{"name": "SDRs", "members": [{"rep": "rep-bob"}]}]), actor=admin)
    ann.delete()
    plan = release_rollback(number=1, actor=admin, reason="Ann again")
    assert not plan.ok and not plan.applied and "rep-ann" in " ".join(str(p) for p in plan.problems)
    assert ConfigRelease.objects.count() == 2
    assert [m.rep_id for m in Pool.objects.get(name="SDRs").members.all()] == [bob.pk]


def test_a_manager_cannot_roll_back(admin):
    config_apply(document=document([ops(24)]), actor=admin)
    config_apply(document=document([ops(8)]), actor=admin)
    roles.ensure_roles()
    manager = UserFactory(username="manny", is_staff=True)
    roles.assign_role(manager, roles.MANAGER)
    with pytest.raises(PermissionDenied):
        release_rollback(number=1, actor=manager, reason="mine")
    client = Client()
    client.force_login(manager)
    assert client.get(reverse("admin:revops_configrelease_changelist")).status_code == 403
    first = ConfigRelease.objects.get(number=1)
    assert (
        client.post(reverse("admin:revops_configrelease_rollback", args=[first.pk]), {"reason": "x"}).status_code == 403
    )
    assert Queue.objects.get(name="Ops").due_hours_high == 8


def test_command_lists_compares_and_rolls_back(admin):
    config_apply(document=document([ops(24)]), actor=admin, source="a.yaml")
    config_apply(document=document([ops(8)]), actor=admin, source="b.yaml", reason="tighter")
    out = io.StringIO()
    call_command("revops_config", "releases", stdout=out)
    text = out.getvalue()
    assert "b.yaml — tighter" in text and "a.yaml" in text
    out = io.StringIO()
    call_command("revops_config", "compare", "1", "2", stdout=out)
    assert "Due hours high: 24 → 8" in out.getvalue()
    with pytest.raises(CommandError, match="--reason"):
        call_command("revops_config", "rollback", "1", "--yes", stdout=io.StringIO())
    out = io.StringIO()
    call_command("revops_config", "rollback", "1", "--yes", "--reason", "too tight", stdout=out)
    assert "Rolled back to release 1 as release 3" in out.getvalue()
    assert Queue.objects.get(name="Ops").due_hours_high == 24
    with pytest.raises(CommandError, match="no release 9"):
        call_command("revops_config", "compare", "1", "9", stdout=io.StringIO())


def test_admin_pages_list_compare_and_roll_back(admin, settings):
    settings.SECURE_SSL_REDIRECT = False
    config_apply(document=document([ops(24)]), actor=admin)
    config_apply(document=document([ops(8)]), actor=admin)
    client = Client()
    client.force_login(admin)
    listing = client.get(reverse("admin:revops_configrelease_changelist")).content.decode()
    assert "with release 1" in listing and "1 updated" in listing
    page = client.get(reverse("admin:revops_configrelease_compare") + "?a=1&b=2").content.decode()
    assert "Due hours high" in page and "24" in page and "8" in page
    two = ConfigRelease.objects.get(number=2)
    assert "Due hours high" in client.get(reverse("admin:revops_configrelease_change", args=[two.pk])).content.decode()
    one = ConfigRelease.objects.get(number=1)
    plan_page = client.get(reverse("admin:revops_configrelease_rollback", args=[one.pk])).content.decode()
    assert "The plan" in plan_page and "Why roll back?" in plan_page
    response = client.post(reverse("admin:revops_configrelease_rollback", args=[one.pk]), {"reason": "too tight"})
    assert response.status_code == 302 and Queue.objects.get(name="Ops").due_hours_high == 24
    assert ConfigRelease.objects.get(number=3).created_by == admin


def test_api_lists_and_rolls_back(admin, api_settings):  # noqa: F811
    config_apply(document=document([ops(24)]), actor=admin)
    config_apply(document=document([ops(8)]), actor=admin)
    client = token_client("config:write", name="revops-admin")
    listed = client.get("/api/v1/config/releases/").json()
    assert [r["number"] for r in listed] == [2, 1]
    url = "/api/v1/config/releases/1/rollback/"
    dry = client.post(url, {"dry_run": True}, content_type="application/json")
    assert dry.status_code == 200 and not dry.json()["applied"] and dry.json()["changes"]
    refused = client.post(url, {}, content_type="application/json")
    assert refused.status_code == 400 and "why" in refused.json()["detail"]
    done = client.post(url, {"reason": "too tight"}, content_type="application/json")
    assert done.status_code == 200 and done.json()["release"] == 3
    assert Queue.objects.get(name="Ops").due_hours_high == 24
    assert client.post("/api/v1/config/releases/99/rollback/", {}, content_type="application/json").status_code == 404
    assert token_client("read").get("/api/v1/config/releases/").status_code == 403
    assert config_export()["queues"][0]["name"] == "Ops"
