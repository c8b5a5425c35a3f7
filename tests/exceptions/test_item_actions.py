"""One table of item actions (``exceptions.actions``) behind the admin and the API.

Every registered action is reachable in both, and the same invalid input gets the same messages in
both; an action registered by another app (here: by the test) appears in both without any change
to the queue.
"""

from __future__ import annotations

import pytest
from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import resolve, reverse

from exceptions import actions
from exceptions.actions import ActionForm, form_errors, item_actions, register_item_action
from exceptions.models import ExceptionItem
from tests.exceptions.test_authorization import build_world, make_item
from tests.revops.api_support import api_settings, token_client  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("api_settings")]

# Inputs the built-in actions refuse (on top of the generic ones: nothing at all, text too long).
INVALID = {
    "assign": [{"owner": "nobody"}, {"owner": "a\x00b"}],
    "resolve": [{"reason_code": "made_up"}, {"reason_code": "other", "note": "  "}],
    "dismiss": [{"reason": "   "}, {"reason": "a\x00b"}],
    "snooze": [{"until": "yesterday"}, {"until": "2001-01-01T00:00"}],
    "reject": [{"reason": ""}],
    "send_back": [{"note": "  "}, {"to": "nobody", "note": "Check it."}],
}


@pytest.fixture
def world(db):
    return build_world()


def approval_item(world, key="approval"):
    return make_item(
        world.queues["a"],
        key=key,
        kind="approval_required",
        proposal={"action": "assign_owner", "params": {"owner": "R-1"}},
    )


def item_for(world, action, key):
    return approval_item(world, key) if action.approval_only else make_item(world.queues["a"], key=key)


def admin_client(world, role="manager_a") -> Client:
    client = Client()
    client.force_login(world.users[role])
    return client


def admin_errors(client, item, key, data) -> dict[str, list[str]]:
    """The messages the admin's form page shows for ``data``."""
    url = reverse("admin:exceptions_exceptionitem_act", args=[item.pk, key])
    response = client.post(url, {"_confirm": "1", **data})
    assert response.status_code == 200, f"{key} {data!r}: the admin accepted it ({response.status_code})"
    return form_errors(response.context["form"])


def api_errors(client, item, key, data) -> dict[str, list[str]]:
    """The messages the API answers ``data`` with (the form's ``__all__`` is DRF's ``non_field_errors``)."""
    response = client.post(f"/api/v1/exceptions/{item.pk}/{key}/", data, format="json")
    assert response.status_code == 400, f"{key} {data!r}: the API answered {response.status_code}"
    errors = response.json()
    if "non_field_errors" in errors:
        errors["__all__"] = errors.pop("non_field_errors")
    return errors


def invalid_inputs(action) -> list[dict]:
    if action.form is None:
        return []
    fields = action.bind().fields
    inputs = [{}] if any(field.required for field in fields.values()) else []
    for name, field in fields.items():
        if isinstance(field, forms.CharField) and field.max_length:
            inputs.append({name: "x" * (field.max_length + 1)})
    return inputs + INVALID.get(action.key, [])


def test_every_action_is_in_both_with_the_same_messages_for_invalid_input(world):
    assert {a.key for a in item_actions()} >= {
        "claim",
        "assign",
        "resolve",
        "dismiss",
        "snooze",
        "escalate",
        "approve",
        "reject",
        "override",
    }
    site_admin = admin.site._registry[ExceptionItem]
    session = admin_client(world)
    changelist = session.get(reverse("admin:exceptions_exceptionitem_changelist"))
    bulk_actions = site_admin.get_actions(changelist.wsgi_request)
    api = token_client("exceptions:write")
    compared = 0
    for action in item_actions():
        item = item_for(world, action, key=f"table-{action.key}")
        # The API route is named after the key and serves that action.
        match = resolve(reverse(f"api-exceptions:{action.key}", args=[item.pk]))
        assert match.func.view_class.action_key == action.key
        # The item page offers it (to a manager, on an item it applies to) ...
        page = session.get(reverse("admin:exceptions_exceptionitem_change", args=[item.pk])).content.decode()
        assert (f'data-action="{action.key}"' in page) == action.offered_for(item), action.key
        # ... and the list has it as a bulk action when it has a bulk service.
        assert (f"{action.key}_selected" in bulk_actions) == (action.bulk is not None), action.key
        for data in invalid_inputs(action):
            in_admin, in_api = admin_errors(session, item, action.key, data), api_errors(api, item, action.key, data)
            assert in_admin, (action.key, data)
            assert in_admin == in_api, (action.key, data)
            compared += 1
        after = ExceptionItem.objects.get(pk=item.pk)
        assert (after.status, after.owner_id, after.decision) == (item.status, item.owner_id, item.decision)
    assert compared >= 15


def test_a_refused_state_reads_the_same_in_both(world):
    item = world.items["a"]  # not an approval request
    response = admin_client(world).post(
        reverse("admin:exceptions_exceptionitem_act", args=[item.pk, "approve"]), {"_confirm": "1"}, follow=True
    )
    shown = [str(m) for m in response.context["messages"]]
    answer = token_client("exceptions:write").post(f"/api/v1/exceptions/{item.pk}/approve/", {}, format="json")
    assert answer.status_code == 409
    assert shown == [f"Approve refused: {answer.json()['detail']}"]
    assert answer.json()["detail"] == f"Item #{item.pk} is not an approval request."


def test_the_schema_documents_each_action_body_from_its_form(world):
    schema = token_client("read").get("/api/v1/schema/", {"format": "json"}).json()
    components = schema["components"]["schemas"]
    for action in item_actions():
        operation = schema["paths"][f"/api/v1/exceptions/{{item_id}}/{action.key}/"]["post"]
        assert operation["summary"] == action.summary
        if action.form is None:
            continue
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        body = components[ref.rsplit("/", 1)[1]]
        assert set(body["properties"]) == set(action.bind().fields), action.key
    assert components["ResolveRequest"]["required"] == ["reason_code"]
    # two bodies have a reason_code (the item's resolution, a handoff's rejection): each enum is named for its body
    assert "fixed_in_crm" in components["ResolveReasonCodeEnum"]["enum"]
    assert "/api/v1/exceptions/{item_id}/{action}/" not in schema["paths"]


# --- An action another app registers -------------------------------------------------------------


FLAGGED = []


class FlagForm(ActionForm):
    reason = forms.CharField(max_length=50)

    def clean_reason(self):
        reason = self.cleaned_data["reason"]
        if reason.lower() == "because":
            raise ValidationError("Say why the item is flagged.")
        return reason


def item_flag(*, item, actor, reason):
    FLAGGED.append((item.pk, actor.get_username(), reason))
    return item


def items_bulk_flag(*, items_qs, actor, reason):
    pks = list(items_qs.values_list("pk", flat=True))
    FLAGGED.extend((pk, actor.get_username(), reason) for pk in pks)
    return {"done": len(pks), "skipped": 0, "errors": {}}


@pytest.fixture
def flag(monkeypatch):
    """A "flag" action, registered the way a workflow app's ``ready()`` would; removed afterwards."""
    monkeypatch.setattr(actions, "_ACTIONS", dict(actions._ACTIONS))
    FLAGGED.clear()
    return register_item_action(
        "flag",
        "Flag",
        single=item_flag,
        bulk=items_bulk_flag,
        form=FlagForm,
        permission="assign",  # who may assign an item may flag it: not a rep
        done="flagged",
        summary="Flag an item for the weekly review",
    )


def test_a_registered_action_is_in_the_admin_and_the_api(world, flag):
    item = world.items["a"]
    session = admin_client(world)
    act = reverse("admin:exceptions_exceptionitem_act", args=[item.pk, "flag"])
    api = world.client("manager_a")

    page = session.get(reverse("admin:exceptions_exceptionitem_change", args=[item.pk])).content.decode()
    assert 'data-action="flag"' in page and "Flag…" in page
    form_page = session.get(act)
    assert form_page.status_code == 200 and 'name="reason"' in form_page.content.decode()

    for data in ({}, {"reason": "because"}, {"reason": "x" * 51}):
        assert admin_errors(session, item, "flag", data) == api_errors(api, item, "flag", data)
    assert api_errors(api, item, "flag", {"reason": "because"}) == {"reason": ["Say why the item is flagged."]}
    assert FLAGGED == []

    done = session.post(act, {"_confirm": "1", "reason": "Odd owner"}, follow=True)
    assert f"“{item.title}” flagged." in [str(m) for m in done.context["messages"]]
    response = api.post(f"/api/v1/exceptions/{item.pk}/flag/", {"reason": "Odd queue"}, format="json")
    assert response.status_code == 200 and response.json()["id"] == item.pk
    assert FLAGGED == [(item.pk, "manager_a", "Odd owner"), (item.pk, "manager_a", "Odd queue")]

    bulk = session.post(
        reverse("admin:exceptions_exceptionitem_changelist"),
        {"action": "flag_selected", "_selected_action": [item.pk], "_confirm": "1", "reason": "Bulk"},
        follow=True,
    )
    assert "1 item(s) flagged." in [str(m) for m in bulk.context["messages"]]
    assert FLAGGED[-1] == (item.pk, "manager_a", "Bulk")


def test_a_registered_action_follows_the_role_it_names(world, flag):
    item = world.items["a"]  # the rep's own item: visible to them, but a rep may not assign, so not flag
    rep = admin_client(world, "rep_owner")
    page = rep.get(reverse("admin:exceptions_exceptionitem_change", args=[item.pk])).content.decode()
    assert 'data-action="resolve"' in page and 'data-action="flag"' not in page
    act = reverse("admin:exceptions_exceptionitem_act", args=[item.pk, "flag"])
    assert rep.post(act, {"_confirm": "1", "reason": "Mine"}).status_code == 403
    response = world.client("rep_owner").post(f"/api/v1/exceptions/{item.pk}/flag/", {"reason": "x"}, format="json")
    assert response.status_code == 403
    hidden = world.items["b"]  # another team's item stays a 404 in both
    assert (
        admin_client(world).post(reverse("admin:exceptions_exceptionitem_act", args=[hidden.pk, "flag"])).status_code
        == 404
    )
    assert (
        world.client("manager_a")
        .post(f"/api/v1/exceptions/{hidden.pk}/flag/", {"reason": "x"}, format="json")
        .status_code
        == 404
    )
    assert FLAGGED == []


def test_an_unknown_action_is_a_404_in_both(world):
    item = world.items["a"]
    assert (
        admin_client(world).get(reverse("admin:exceptions_exceptionitem_act", args=[item.pk, "flag"])).status_code
        == 404
    )
    response = token_client("exceptions:write").post(f"/api/v1/exceptions/{item.pk}/flag/", {}, format="json")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    # Without credentials the caller learns nothing about which actions exist: authenticate first.
    assert Client().post(f"/api/v1/exceptions/{item.pk}/flag/").status_code == 401


def test_registering_checks_the_key_and_the_role_rule(monkeypatch):
    monkeypatch.setattr(actions, "_ACTIONS", dict(actions._ACTIONS))
    with pytest.raises(ValueError, match="permission"):
        register_item_action("recheck", "Re-check", single=item_flag, done="re-checked")
    with pytest.raises(ValueError, match="URL segment"):
        register_item_action("re/check", "Re-check", single=item_flag, done="re-checked", permission="escalate")
    action = register_item_action("recheck", "Re-check", single=item_flag, done="re-checked", permission="escalate")
    assert actions.item_action("recheck") is action and not action.needs_input and action.button_label == "Re-check"
