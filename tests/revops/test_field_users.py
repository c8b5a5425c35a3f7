"""Schema change protection: the dictionary knows everything that reads a field — automations (their
conditions, triggers and kind parameters), routing rules, SLA policies, handoff checklists, scoring
models, lifecycle stages, duplicate rules — and refuses to delete, deprecate or retype a field that
something active reads, naming what does."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from dataquality.models import DuplicateRule
from handoffs.models import Checklist
from lifecycle.models import FitRule, ScoringModel, Stage
from revops import services
from revops.models import FieldDefinition
from revops.plugins import field_users
from routing.models import RoutingRule, SlaPolicy
from tests.dataquality.support import rule as duplicate_rule
from tests.factories import UserFactory
from tests.revops.automation_support import make_automation

pytestmark = pytest.mark.django_db
PERSONA = {"field": "lead.persona", "op": "eq", "value": "buyer"}


def custom_field(object_type="lead", key="persona", field_type="text"):
    return services.dictionary_field_create(
        actor=UserFactory(),
        object_type=object_type,
        key=key,
        label=key.replace("_", " ").capitalize(),
        definition="For the test.",
        field_type=field_type,
        owning_team="RevOps",
    )


@pytest.fixture
def readers():
    """One reader of ``lead.persona`` of each kind, all active but the scoring model (a draft)."""
    field = custom_field()
    auto = make_automation(name="Buyer follow-up", conditions={"all": [PERSONA]})
    auto.mode = "live"
    auto.save()
    RoutingRule.objects.create(
        name="Buyers to the desk",
        status="live",
        target_type="queue",
        target_queue="RevOps",
        fields_used=["lead.persona"],
    )
    SlaPolicy.objects.create(
        name="Buyers in an hour", target_minutes=60, reminder_share=0.5, is_active=True, fields_used=["lead.persona"]
    )
    model = ScoringModel.objects.create(name="Fit", status="draft")
    FitRule.objects.create(model=model, condition=PERSONA, points=10)
    Stage.objects.create(name="Buyer MQL", entry_condition=PERSONA)
    duplicate_rule(
        "Leads: same persona",
        fields=[
            {"field": "email", "method": "normalised", "weight": 100, "blocking": True},
            {"field": "persona", "method": "exact", "weight": 10, "blocking": False},
        ],
    )
    return field


def test_every_reader_is_listed_with_whether_it_is_active(readers):
    users = [(u.kind, u.name, u.active) for u in field_users("lead", "persona")]
    assert users == [
        ("Automation", "Buyer follow-up", True),
        ("Duplicate rule", "Leads: same persona", True),
        ("Lifecycle stage", "Buyer MQL", True),
        ("Routing rule", "Buyers to the desk", True),
        ("SLA policy", "Buyers in an hour", True),
        ("Scoring model", "Fit", False),
    ]


def test_deleting_deprecating_or_retyping_a_field_something_active_reads_is_refused(readers):
    with pytest.raises(ValidationError) as exc:
        services.dictionary_field_delete(field=readers, actor=UserFactory())
    assert "the automation Buyer follow-up" in exc.value.messages[0] and "5 more" not in exc.value.messages[0]
    assert "the routing rule Buyers to the desk" in exc.value.messages[0]
    with pytest.raises(ValidationError) as exc:
        services.dictionary_field_update(field=readers, actor=UserFactory(), is_deprecated=True)
    assert "cannot be deprecated while" in exc.value.message_dict["is_deprecated"][0]
    with pytest.raises(ValidationError) as exc:
        services.dictionary_field_update(
            field=FieldDefinition.objects.get(pk=readers.pk), actor=UserFactory(), field_type="integer"
        )
    assert "cannot be given another type" in exc.value.message_dict["field_type"][0]
    # A definition change is fine while in use.
    services.dictionary_field_update(
        field=FieldDefinition.objects.get(pk=readers.pk), actor=UserFactory(), definition="Who buys."
    )


def test_once_the_readers_are_switched_off_the_field_can_be_deprecated(readers):
    from revops.models import Automation

    Automation.objects.update(mode="paused")
    RoutingRule.objects.update(status="disabled")
    SlaPolicy.objects.update(is_active=False)
    Stage.objects.all().delete()
    DuplicateRule.objects.update(is_active=False)
    services.dictionary_field_update(field=readers, actor=UserFactory(), is_deprecated=True)
    assert FieldDefinition.objects.get(pk=readers.pk).is_deprecated


def test_a_checklists_fields_and_the_account_field_naming_its_receiver_are_protected():
    custom_field("opportunity", "go_live_plan")
    csm = custom_field("account", "csm_rep")
    Checklist.objects.create(
        name="Sales → Onboarding",
        required_fields=[{"field": "go_live_plan"}],
        owner_rule=Checklist.OwnerRule.ACCOUNT_FIELD,
        owner_field="csm_rep",
    )
    assert [u.name for u in field_users("opportunity", "go_live_plan")] == ["Sales → Onboarding"]
    with pytest.raises(ValidationError, match="the handoff checklist Sales → Onboarding"):
        services.dictionary_field_delete(field=csm, actor=UserFactory())


def test_the_field_page_lists_its_readers(readers, admin_client):
    page = admin_client.get(reverse("admin:revops_fielddefinition_change", args=[readers.pk])).content.decode()
    for text in ("Routing rule", "Buyers to the desk", "SLA policy", "Duplicate rule", "Scoring model", "Not active"):
        assert text in page, text


def test_the_admin_refuses_deleting_or_deprecating_a_field_in_use(readers, admin_client):
    change = reverse("admin:revops_fielddefinition_change", args=[readers.pk])
    response = admin_client.get(reverse("admin:revops_fielddefinition_delete", args=[readers.pk]), follow=True)
    assert "cannot be deleted while the automation Buyer follow-up" in response.content.decode()
    form = admin_client.get(change).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(is_deprecated="on", _change_reason="stop using it")
    page = admin_client.post(change, data).content.decode()
    assert "cannot be deprecated while" in page
    assert not FieldDefinition.objects.get(pk=readers.pk).is_deprecated
