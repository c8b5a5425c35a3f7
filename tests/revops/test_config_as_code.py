"""Configuration as code: export, plan and apply (services and the ``revops_config`` command)."""

import io
from pathlib import Path

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from exceptions.models import Queue
from revops import services
from revops.configuration import (
    CONFIG_USER,
    Attr,
    Section,
    config_apply,
    config_export,
    config_export_text,
    config_plan,
    register_section,
)
from revops.configuration.base import SECTIONS
from revops.dictionary_defaults import load_default_dictionary
from revops.engine import services as automation_services
from revops.engine.kinds import KINDS, AutomationKind
from revops.models import Automation, AutomationVersion, FieldDefinition
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

KIND = "config_test_task"


class ConfigTestKind(AutomationKind):
    """A small kind for these tests: creates a task; config ``title`` (required) and ``due_in_hours``."""

    key = KIND
    label = "Config test task"
    object_types = ("lead", "opportunity")

    def validate_config(self, config, *, object_type):
        unknown = sorted(set(config) - {"title", "due_in_hours"})
        if unknown:
            raise ValidationError({"config": f"unknown parameter(s): {', '.join(unknown)}"})
        if not isinstance(config.get("title"), str) or not config["title"]:
            raise ValidationError({"config": "title: the task needs a title"})
        hours = config.get("due_in_hours", 24)
        if isinstance(hours, bool) or not isinstance(hours, int) or hours <= 0:
            raise ValidationError({"config": "due_in_hours: a whole number of hours > 0"})
        return {"title": config["title"], "due_in_hours": hours}


@pytest.fixture(autouse=True)
def registered_test_kind():
    """Register the test kind for the test only (other kinds, e.g. built-in ones, stay as they are)."""
    previous = KINDS.get(KIND)
    KINDS[KIND] = ConfigTestKind
    yield ConfigTestKind
    if previous is None:
        KINDS.pop(KIND, None)
    else:
        KINDS[KIND] = previous


def make_user(username):
    return get_user_model().objects.create(username=username)


@pytest.fixture
def people():
    return {name: make_user(name) for name in ("alice", "bob", "carol")}


HOT_LEAD_CONDITIONS = {
    "all": [
        {"field": "lead.country", "op": "in", "value": ["US", "CA"]},
        {"field": "lead.score", "op": "gte", "value": 70},
        {"field": "lead.partner_tier", "op": "eq", "value": "gold"},
    ]
}


@pytest.fixture
def configured(people):
    """A configuration built through the services (as the admin would): edits, custom fields, automations."""
    alice, bob = people["alice"], people["bob"]
    core = FieldDefinition.objects.get(object_type="lead", key="country")
    services.dictionary_field_update(field=core, actor=alice, definition="HQ country, ISO 3166-1 alpha-2.")
    services.dictionary_field_create(
        actor=alice,
        object_type="lead",
        key="partner_tier",
        label="Partner tier",
        definition="The referring partner's tier.\nGold partners get a 4-hour response.",
        field_type="choice",
        allowed_values=["gold", "silver"],
        owning_team="Partnerships",
    )
    services.dictionary_field_create(
        actor=alice,
        object_type="lead",
        key="webinar_name",
        label="Webinar",
        definition="The webinar the lead attended.",
        field_type="text",
        source_of_truth="marketing_automation",
        owning_team="Marketing",
        is_deprecated=True,
    )
    Queue.objects.get_or_create(name="Lead routing")  # the exception path must name a queue
    automation_services.automation_create(
        actor=alice,
        name="Hot lead follow-up",
        purpose="Call hot partner leads within four hours.",
        kind=KIND,
        object_type="lead",
        trigger="field_changed",
        trigger_fields=["score", "partner_tier"],
        conditions=HOT_LEAD_CONDITIONS,
        config={"title": "Call the lead", "due_in_hours": 4},
        risk="low",
        mode="live",
        rule_owner=alice,
        system_owner=bob,
        failure_owner=bob,
        exception_queue="Lead routing",
        downstream_effect="A call task for the owner.",
        rollback_notes="Cancel the tasks it created.",
        review_cadence_days=30,
        last_reviewed_at="2026-01-15",
    )
    automation_services.automation_create(
        actor=alice,
        name="Stale opportunity nudge",
        purpose="Remind owners of opportunities without a next step.",
        kind=KIND,
        object_type="opportunity",
        trigger="schedule",
        schedule_minutes=1440,
        conditions={"field": "opportunity.next_step", "op": "is_empty"},
        config={"title": "Add a next step"},
    )
    return people


def reset_to_empty():
    """An empty portal: no automations, the dictionary as the migration creates it minus custom entries."""
    Automation.objects.all().delete()
    FieldDefinition.objects.all().delete()
    load_default_dictionary(FieldDefinition)
    FieldDefinition.objects.filter(is_core=False).delete()


def edit(text, fn):
    document = yaml.safe_load(text)
    fn(document)
    return document


def automation(document, name):
    return next(a for a in document["automations"] if a["name"] == name)


def summary(plan):
    return [(c.section, c.action, c.key, [f[0] for f in c.fields]) for c in plan.changes]


# --- export --------------------------------------------------------------------------------------


def test_export_is_deterministic_yaml_with_owners_by_username(configured):
    text = config_export_text()
    assert text == config_export_text()
    assert text.startswith("# RevOps portal configuration")
    document = yaml.safe_load(text)
    assert list(document) == [
        "version",
        "dictionary",
        "queues",
        "business_calendars",
        "pools",
        "automations",
        "routing_rules",
        "sla_policies",
        "checklists",
        "scoring_models",
        "lifecycle_stages",
        "duplicate_rules",
    ]
    assert document["version"] == 1
    hot = automation(document, "Hot lead follow-up")
    assert hot["rule_owner"] == "alice" and hot["failure_owner"] == "bob"
    assert hot["conditions"] == HOT_LEAD_CONDITIONS
    assert hot["config"] == {"due_in_hours": 4, "title": "Call the lead"}
    assert "version" not in hot and "fields_used" not in hot and "identity" not in hot
    keys = [(e["object_type"], e["key"]) for e in document["dictionary"]]
    assert len(keys) == FieldDefinition.objects.count()
    tier = next(e for e in document["dictionary"] if e["key"] == "partner_tier")
    assert tier == {
        "object_type": "lead",
        "key": "partner_tier",
        "label": "Partner tier",
        "field_type": "choice",
        "definition": "The referring partner's tier.\nGold partners get a 4-hour response.",
        "allowed_values": ["gold", "silver"],
        "required": "never",
        "enforcement": "reject",
        "normalise": "none",
        "source_of_truth": "crm",
        "owning_team": "Partnerships",
    }
    assert "definition: |-\n      The referring partner's tier.\n" in text  # multi-line text as a literal block
    assert [a["name"] for a in document["automations"]] == ["Hot lead follow-up", "Stale opportunity nudge"]


# --- round trip ----------------------------------------------------------------------------------


def test_round_trip_export_apply_to_empty_database_export_is_byte_identical(configured):
    exported = config_export_text()
    reset_to_empty()
    assert not Automation.objects.exists()

    plan = config_apply(document=exported, source="revops-config.yaml")

    assert plan.ok, plan.render()
    assert plan.applied
    assert config_export_text() == exported
    assert config_plan(document=exported).changes == []
    hot = Automation.objects.get(name="Hot lead follow-up")
    assert (hot.mode, hot.version, hot.rule_owner.username) == ("live", 1, "alice")
    assert hot.fields_used == ["lead.country", "lead.partner_tier", "lead.score"]


def test_applying_the_export_changes_nothing(configured):
    exported = config_export_text()
    history = FieldDefinition.history.count() + Automation.history.count()

    plan = config_apply(document=exported, source="same.yaml")

    assert plan.applied and plan.changes == []
    assert FieldDefinition.history.count() + Automation.history.count() == history


# --- plan ----------------------------------------------------------------------------------------


def test_plan_lists_exactly_the_changes_and_writes_nothing(configured):
    def change(document):
        document["prune"] = True
        automation(document, "Hot lead follow-up")["purpose"] = "Call hot partner leads within two hours."
        document["dictionary"] = [e for e in document["dictionary"] if e["key"] != "webinar_name"]
        document["dictionary"].append(
            {
                "object_type": "account",
                "key": "health_score",
                "label": "Health score",
                "field_type": "integer",
                "definition": "Customer health, 0-100.",
                "owning_team": "Customer Success",
            }
        )

    document = edit(config_export_text(), change)
    history = FieldDefinition.history.count() + Automation.history.count()

    plan = config_plan(document=document, source="changed.yaml")

    assert plan.ok, plan.render()
    assert summary(plan) == [
        (
            "dictionary",
            "create",
            "account.health_score",
            [
                "object_type",
                "key",
                "label",
                "field_type",
                "definition",
                "required",
                "enforcement",
                "normalise",
                "source_of_truth",
                "owning_team",
            ],
        ),
        ("automations", "update", "'Hot lead follow-up'", ["purpose"]),
        ("dictionary", "delete", "lead.webinar_name", []),
    ]
    update = plan.changes[1]
    assert update.fields == [
        ("purpose", "Call hot partner leads within four hours.", "Call hot partner leads within two hours.")
    ]
    assert update.location == "automations[0] 'Hot lead follow-up'"
    text = plan.render()
    assert "  + create account.health_score\n" in text
    assert "  ~ update 'Hot lead follow-up'\n" in text
    assert (
        '      purpose: "Call hot partner leads within four hours." → "Call hot partner leads within two hours."'
        in text
    )
    assert "  - delete lead.webinar_name\n" in text
    assert text.endswith("Plan for changed.yaml: 1 to create, 1 to update, 1 to delete, 0 to retire.\n")
    # A plan is a dry run.
    assert FieldDefinition.history.count() + Automation.history.count() == history
    assert not FieldDefinition.objects.filter(key="health_score").exists()
    assert FieldDefinition.objects.filter(key="webinar_name").exists()

    applied = config_apply(document=document, source="changed.yaml")
    assert applied.applied and summary(applied) == summary(plan)
    assert config_plan(document=document).changes == []


def test_without_prune_entries_missing_from_the_file_are_kept(configured):
    document = edit(config_export_text(), lambda d: d.update(dictionary=[], automations=[]))
    assert config_plan(document=document).changes == []


def test_prune_retires_automations_and_never_deletes_core_entries(configured):
    def change(document):
        document["prune"] = ["automations", "dictionary"]
        document["dictionary"] = [e for e in document["dictionary"] if not e.get("is_core")]
        document["automations"] = [a for a in document["automations"] if a["name"] != "Stale opportunity nudge"]

    plan = config_apply(document=edit(config_export_text(), change))

    assert plan.applied, plan.render()
    assert summary(plan) == [("automations", "retire", "'Stale opportunity nudge'", ["mode"])]
    assert Automation.objects.get(name="Stale opportunity nudge").mode == "retired"
    assert FieldDefinition.objects.filter(is_core=True).count() > 50


def test_prune_refuses_to_delete_a_field_an_automation_reads_or_records_hold(configured):
    LeadFactory(attributes={"webinar_name": "Pipeline 101"})

    def change(document):
        document["prune"] = ["dictionary"]
        document["dictionary"] = [e for e in document["dictionary"] if e["key"] not in ("partner_tier", "webinar_name")]

    plan = config_apply(document=edit(config_export_text(), change))

    assert not plan.applied
    messages = [str(p) for p in plan.problems]
    assert len(messages) == 2, messages
    assert messages[0].startswith("dictionary lead.partner_tier: automation(s) 'Hot lead follow-up' still read")
    assert messages[1].startswith("dictionary lead.webinar_name: 1 lead record(s) still hold a value")
    assert FieldDefinition.objects.filter(key__in=["partner_tier", "webinar_name"]).count() == 2


def test_non_canonical_conditions_are_not_a_change(configured):
    def change(document):
        conditions = automation(document, "Hot lead follow-up")["conditions"]
        conditions["all"][1]["value"] = "70"  # the service stores 70

    assert config_plan(document=edit(config_export_text(), change)).changes == []


# --- apply: atomic, audited, versioned ------------------------------------------------------------


def test_apply_is_atomic_an_error_in_the_last_automation_writes_nothing(configured):
    def change(document):
        document["dictionary"].append(
            {
                "object_type": "lead",
                "key": "event_name",
                "label": "Event",
                "field_type": "text",
                "definition": "The event the lead came from.",
                "owning_team": "Marketing",
            }
        )
        automation(document, "Hot lead follow-up")["conditions"]["all"][0]["value"] = ["US", "CA", "MX"]
        document["automations"].append(
            {
                "name": "Broken rule",
                "purpose": "Refers to a field that does not exist.",
                "kind": KIND,
                "object_type": "lead",
                "conditions": {"field": "lead.employes", "op": "gte", "value": 10},
                "config": {"title": "Never"},
            }
        )

    history = FieldDefinition.history.count() + Automation.history.count()
    versions = AutomationVersion.objects.count()

    plan = config_apply(document=edit(config_export_text(), change), source="broken.yaml")

    assert not plan.applied and not plan.ok
    assert [str(p) for p in plan.problems] == [
        "automations[2] 'Broken rule': conditions: lead.employes is not a lead field in the data dictionary "
        "nor a computed lead field; computed lead fields: routing_rule"
    ]
    assert [c.action for c in plan.changes] == ["create", "update", "create"]
    assert not FieldDefinition.objects.filter(key="event_name").exists()
    assert not Automation.objects.filter(name="Broken rule").exists()
    assert Automation.objects.get(name="Hot lead follow-up").conditions == HOT_LEAD_CONDITIONS
    assert FieldDefinition.history.count() + Automation.history.count() == history
    assert AutomationVersion.objects.count() == versions
    assert "Errors:\n  ! automations[2] 'Broken rule': conditions: lead.employes" in plan.render()


def test_apply_records_actor_and_reason_and_versions_only_rule_changes(configured):
    carol = configured["carol"]
    hot = Automation.objects.get(name="Hot lead follow-up")
    assert hot.version == 1

    document = edit(
        config_export_text(),
        lambda d: automation(d, "Hot lead follow-up").update(
            purpose="Call hot partner leads fast.", rule_owner="carol"
        ),
    )
    plan = config_apply(document=document, actor=carol, source="owners.yaml")

    assert plan.applied, plan.render()
    hot.refresh_from_db()
    assert (hot.version, hot.rule_owner, hot.purpose) == (1, carol, "Call hot partner leads fast.")
    row = hot.history.first()
    assert (row.history_user, row.history_change_reason) == (carol, "config apply owners.yaml by carol")

    def rule_change(d):
        automation(d, "Hot lead follow-up")["config"]["due_in_hours"] = 2
        next(e for e in d["dictionary"] if e["key"] == "partner_tier")["label"] = "Partner level"

    config_apply(document=edit(config_export_text(), rule_change), actor=carol, source="rule.yaml")

    hot.refresh_from_db()
    assert hot.version == 2
    version = hot.versions.get(number=2)
    assert (version.config, version.created_by) == ({"title": "Call the lead", "due_in_hours": 2}, carol)
    field_row = FieldDefinition.objects.get(key="partner_tier").history.first()
    assert (field_row.history_user, field_row.history_change_reason, field_row.label) == (
        carol,
        "config apply rule.yaml by carol",
        "Partner level",
    )


def test_default_actor_is_the_config_as_code_system_user(configured):
    document = edit(config_export_text(), lambda d: automation(d, "Stale opportunity nudge").update(risk="high"))

    config_apply(document=document, source="risk.yaml")

    row = Automation.objects.get(name="Stale opportunity nudge").history.first()
    assert row.history_user.username == CONFIG_USER
    assert not row.history_user.is_active
    assert row.history_change_reason == f"config apply risk.yaml by {CONFIG_USER}"


def test_go_live_governance_applies(configured):
    document = edit(config_export_text(), lambda d: automation(d, "Stale opportunity nudge").update(mode="live"))

    plan = config_plan(document=document)

    assert [str(p) for p in plan.problems] == [
        "automations[1] 'Stale opportunity nudge': mode: It cannot be live because it has no rule owner (who "
        "agrees the rule); it has no failure owner (who is told when it fails); it has no exception path (where "
        "what it cannot finish goes)."
    ]


# --- validation, located in the file --------------------------------------------------------------


def test_errors_are_located_in_the_file(configured):
    def change(document):
        document["dictionary"].append(
            {
                "object_type": "lead",
                "key": "budget",
                "label": "Budget",
                "field_type": "money",
                "definition": "Budget.",
                "owning_team": "Sales",
            }
        )
        country = next(e for e in document["dictionary"] if e["object_type"] == "lead" and e["key"] == "country")
        country["field_type"] = "choice"
        hot = automation(document, "Hot lead follow-up")
        document["automations"].append(dict(hot))
        hot["failure_owner"] = "nobody"
        hot["review_cadence_days"] = "monthly"
        hot["colour"] = "red"
        nudge = automation(document, "Stale opportunity nudge")
        nudge["kind"] = "teleport"

    document = edit(config_export_text(), change)
    country_index = next(
        i for i, e in enumerate(document["dictionary"]) if e["object_type"] == "lead" and e["key"] == "country"
    )
    budget_index = len(document["dictionary"]) - 1

    plan = config_plan(document=document)

    messages = [str(p) for p in plan.problems]
    assert messages[:3] == [
        "automations[0] 'Hot lead follow-up': colour: unknown key; valid keys: name, purpose, kind, object_type, "
        "trigger, trigger_fields, trigger_value, schedule_minutes, conditions, config, risk, mode, rule_owner, "
        "system_owner, failure_owner, exception_queue, downstream_effect, rollback_notes, review_cadence_days, "
        "last_reviewed_at, minutes_saved_per_run",
        "automations[0] 'Hot lead follow-up': review_cadence_days: expected a whole number ≥ 0, got text ('monthly')",
        "automations[2] 'Hot lead follow-up': duplicate of automations[0]",
    ]
    assert messages[3].startswith(
        f"dictionary[{country_index}] lead.country: field_type: lead.country is a core column: its field type "
        "mirrors the table and cannot change"
    )
    assert messages[4].startswith(f"dictionary[{budget_index}] lead.budget: field_type: Value 'money' is not a valid")
    assert messages[5] == "automations[0] 'Hot lead follow-up': failure_owner: no user with username 'nobody'"
    assert messages[6].startswith("automations[1] 'Stale opportunity nudge': kind: unknown automation kind 'teleport'")
    assert len(messages) == 7


@pytest.mark.parametrize(
    "text, message",
    [
        ("version: 1\ndictionary: [\n", "line 3, column 1: invalid YAML"),
        ("- 1\n- 2\n", "the document must be a map with 'version: 1' and sections, got a list"),
        ("dictionary: []\n", "version: is required (version: 1)"),
        ("version: 2\n", "version: unsupported version 2; this portal reads 1"),
        ("version: 1\nautomation: []\n", "automation: unknown section; valid keys: version, prune, dictionary, "),
        ("version: 1\nprune: sometimes\n", "prune: expected true, false or a list of sections"),
        ("version: 1\ndictionary: {}\n", "dictionary: expected a list of entries, got a map"),
        ("version: 1\nautomations: [42]\n", "automations[0]: expected a map, got a number (42)"),
        ("version: 1\nautomations:\n  - purpose: x\n", "automations[0]: name: is required"),
        ("version: 1\nx: &a [1]\ny: *a\n", "line 3, column 4: invalid YAML: aliases (*name) are not supported"),
        (
            "version: 1\nautomations:\n  - {name: a, purpose: b, kind: c, object_type: lead, conditions: "
            "{field: lead.created_at, op: gt, value: 2026-01-01}}\n",
            "automations[0] 'a': conditions: a date (2026-01-01) is not a JSON value; quote it",
        ),
    ],
)
def test_malformed_documents_are_refused_with_a_location(text, message):
    plan = config_plan(document=text)
    assert not plan.ok
    assert any(str(p).startswith(message) for p in plan.problems), [str(p) for p in plan.problems]


def test_a_file_with_errors_does_not_prune(configured):
    document = {"version": 1, "prune": True, "automations": [{"name": "x"}], "dictionary": []}
    plan = config_plan(document=document)
    assert not plan.ok
    assert [c.action for c in plan.changes] == ["create"]  # the malformed 'x', but no delete or retire


def test_section_left_out_is_untouched_even_with_prune(configured):
    plan = config_plan(document={"version": 1, "prune": True})
    assert plan.ok and plan.changes == []


def test_empty_export_round_trips():
    Automation.objects.all().delete()
    text = config_export_text()
    assert yaml.safe_load(text)["automations"] == []
    assert config_plan(document=text).changes == []
    assert config_export()["version"] == 1


# --- the command ---------------------------------------------------------------------------------


def run_command(*args, stdin=None):
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        import sys

        saved, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        call_command("revops_config", *args, stdout=out, stderr=err)
    finally:
        if stdin is not None:
            sys.stdin = saved
    return out.getvalue(), err.getvalue()


def test_command_export_to_stdout_and_file(configured, tmp_path):
    out, _ = run_command("export")
    assert out == config_export_text()
    target = tmp_path / "revops-config.yaml"
    _, err = run_command("export", str(target))
    assert target.read_text() == out
    assert "Wrote the configuration" in err


def test_command_plan_and_apply(configured, tmp_path):
    target = tmp_path / "revops-config.yaml"
    document = edit(config_export_text(), lambda d: automation(d, "Hot lead follow-up").update(risk="high"))
    target.write_text(yaml.safe_dump(document))

    out, _ = run_command("plan", str(target))
    assert '  ~ update \'Hot lead follow-up\'\n      risk: "low" → "high"\n' in out
    assert out.endswith("Plan for revops-config.yaml: 0 to create, 1 to update, 0 to delete, 0 to retire.\n")
    with pytest.raises(SystemExit) as exited:
        run_command("plan", str(target), "--detailed-exitcode")
    assert exited.value.code == 2
    assert Automation.objects.get(name="Hot lead follow-up").risk == "low"

    with pytest.raises(CommandError, match="pass --yes"):
        run_command("apply", str(target))
    assert Automation.objects.get(name="Hot lead follow-up").risk == "low"

    out, _ = run_command("apply", str(target), "--yes", "--actor", "carol")
    assert 'risk: "low" → "high"' in out and "Applied revops-config.yaml." in out
    hot = Automation.objects.get(name="Hot lead follow-up")
    assert hot.risk == "high" and hot.version == 2
    assert hot.history.first().history_change_reason == "config apply revops-config.yaml by carol"

    out, _ = run_command("plan", str(target), "--detailed-exitcode")
    assert out.endswith("No changes: the configuration matches the file.\n")


def test_command_errors_exit_non_zero_and_apply_nothing(configured, tmp_path):
    target = tmp_path / "bad.yaml"
    document = edit(config_export_text(), lambda d: automation(d, "Hot lead follow-up").update(rule_owner="zed"))
    target.write_text(yaml.safe_dump(document))

    for args in (("plan", str(target)), ("apply", str(target), "--yes")):
        with pytest.raises(CommandError, match="1 error"):
            run_command(*args)
    assert Automation.objects.get(name="Hot lead follow-up").rule_owner.username == "alice"

    with pytest.raises(CommandError, match="Cannot read"):
        run_command("plan", str(tmp_path / "missing.yaml"))
    with pytest.raises(CommandError, match="No user with username 'nobody'"):
        run_command("apply", str(target), "--actor", "nobody")


def test_command_reads_stdin_and_prints_json(configured):
    import json

    text = config_export_text().replace("Call hot partner leads within four hours.", "Call them.")
    out, _ = run_command("plan", "-", "--json", stdin=text)
    plan = json.loads(out)
    assert plan["valid"] and plan["source"] == "stdin"
    assert plan["changes"] == [
        {
            "section": "automations",
            "action": "update",
            "key": "'Hot lead follow-up'",
            "location": "automations[0] 'Hot lead follow-up'",
            "changes": [{"field": "purpose", "old": "Call hot partner leads within four hours.", "new": "Call them."}],
        }
    ]
    out, _ = run_command("apply", "-", "--yes", stdin=text)
    assert Automation.objects.get(name="Hot lead follow-up").purpose == "Call them."


# --- the documented example and the section interface -----------------------------------------------


def test_the_documented_example_applies_cleanly_and_round_trips():
    pytest.importorskip("revops.engine.builtin")  # the example uses the built-in kinds
    for username in ("revops.lead", "revops.oncall"):
        make_user(username)
    text = (Path(__file__).resolve().parents[2] / "docs" / "examples" / "revops-config.yaml").read_text()

    plan = config_apply(document=text, source="revops-config.yaml")

    assert plan.applied, plan.render()
    assert plan.counts() == {
        "create": 17,
        "update": 1,
        "delete": 0,
        "retire": 0,
    }  # 14 before the example named its 3 queues
    assert config_plan(document=text).changes == []
    exported = config_export_text()
    reset_to_empty()
    assert config_apply(document=exported).applied
    assert config_export_text() == exported


class MemorySection(Section):
    """A section kept in a dict, standing in for the handoff checklists… to come."""

    name = "checklists"
    order = 15
    identity_attrs = ("name",)
    attrs = (Attr("name", required=True), Attr("sla_hours", "int", default=24))
    rows: dict = {}

    def identity(self, data):
        return data["name"]

    def stored(self):
        return dict(sorted(self.rows.items()))

    def serialize(self, obj):
        return dict(obj)

    def create(self, entry, desired, run):
        self.rows[entry.key] = desired

    def update(self, obj, entry, changes, run):
        obj.update(changes)

    def remove(self, key, obj, run):
        run.change(self.name, "delete", key, self.location(None, key))
        del self.rows[key]


def test_a_new_section_plugs_in():
    MemorySection.rows = {"Triage": {"name": "Triage", "sla_hours": 24}, "Old": {"name": "Old", "sla_hours": 8}}
    real = SECTIONS.get(MemorySection.name)  # the handoffs app's section of the same name, put back after
    register_section(MemorySection)
    try:
        document = yaml.safe_load(config_export_text())
        assert list(document) == [
            "version",
            "dictionary",
            "queues",
            "business_calendars",
            "pools",
            "checklists",
            "automations",
            "routing_rules",
            "sla_policies",
            "scoring_models",
            "lifecycle_stages",
            "duplicate_rules",
        ]
        assert document["checklists"] == [{"name": "Old", "sla_hours": 8}, {"name": "Triage", "sla_hours": 24}]
        plan = config_plan(
            document={
                "version": 1,
                "prune": ["checklists"],
                "checklists": [{"name": "Triage", "sla_hours": 4}, {"name": "New"}],
            }
        )
        assert summary(plan) == [
            ("checklists", "update", "Triage", ["sla_hours"]),
            ("checklists", "create", "New", ["name", "sla_hours"]),
            ("checklists", "delete", "Old", []),
        ]
    finally:
        SECTIONS.pop("checklists")
        if real is not None:
            SECTIONS["checklists"] = real
