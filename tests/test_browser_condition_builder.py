"""In a real browser at 1440 × 900: the condition builder round-trips JSON, and a RevOps admin builds a
routing rule with it (no JSON typed) and previews a lead that the rule routes."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from exceptions.models import Queue
from exceptions.roles import ADMIN, assign_role
from revops.conditions import clean_condition
from revops.dictionary_defaults import load_default_dictionary
from revops.engine.services import automation_create
from revops.models import FieldDefinition
from routing.matching import reset_account_index
from routing.models import RoutingRule
from tests.factories import RepFactory, UserFactory

pytest_plugins = ["tests.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "builder-Browser-Pa55!"
# Trees the builder must show and write back unchanged (after clean_condition): every value widget.
ROUND_TRIPS = [
    {"all": []},
    {"any": []},
    {"field": "lead.country", "op": "eq", "value": "DE"},
    {"not": {"field": "lead.status", "op": "in", "value": ["working", "new"]}},  # a multi-select keeps the order
    {
        "all": [
            {"field": "lead.country", "op": "in", "value": ["DE", "AT", "CH"]},
            {"field": "lead.score", "op": "between", "value": [10, 50]},
            {"field": "lead.status", "op": "not_in", "value": ["nurture", "qualified"]},
            {"field": "lead.matched_account.employees", "op": "gte", "value": 500},
            {"field": "lead.matched_account.annual_revenue", "op": "lt", "value": "1000000.50"},
            {"field": "lead.matched_account.is_named", "op": "eq", "value": False},
            {"field": "lead.owner.segments", "op": "contains", "value": "ENT"},
        ]
    },
    {
        "any": [
            {"not": {"field": "lead.owner", "op": "is_not_empty"}},
            {"not": {"all": [{"field": "lead.email", "op": "ends_with", "value": "@gmail.com"}]}},
            {"field": "lead.source_updated_at", "op": "within_last_days", "value": 7},
            {"field": "lead.status", "op": "changed_to", "value": "working"},
            {"field": "lead.matched_account.source_updated_at", "op": "gt", "value": "2026-01-31T09:00:00Z"},
            {"any": [{"field": "lead.source", "op": "starts_with", "value": "web"}]},
        ]
    },
]


@pytest.fixture(autouse=True)
def _fresh_index():
    reset_account_index()
    yield
    reset_account_index()


def builder_json(page) -> dict:
    page.click(".rv-cb-mode[data-mode=json]")
    return json.loads(page.input_value("#id_conditions"))


def test_revops_admin_builds_a_rule_without_json_and_previews_a_lead(browser_page, admin_login, screenshot, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    load_default_dictionary(FieldDefinition)  # emptied by the flush after an earlier transactional test
    user = UserFactory(username="rita.revops")
    user.set_password(PASSWORD)
    user.save()
    assign_role(user, ADMIN)
    Queue.objects.get_or_create(name="RevOps")
    automation_create(
        actor=user,
        name="Lead routing",
        purpose="Route every new lead to the right owner.",
        kind="lead_routing",
        object_type="lead",
        trigger="created",
        conditions={"all": []},
        config={"fallback": {"type": "none"}},
        rule_owner=user,
        failure_owner=user,
        exception_queue="RevOps",
        mode="live",
    )
    RepFactory(external_id="R-DE1", name="Lena Vogel")
    RoutingRule.objects.create(
        name="Review the rest",
        conditions={"all": []},
        target_type="queue",
        target_queue="RevOps",
        priority=5,
        status="live",
    )
    page = browser_page
    page.set_viewport_size({"width": 1440, "height": 900})
    admin_login(page, "rita.revops", PASSWORD)
    page.goto(reverse("admin:routing_routingrule_add"))

    # JSON → builder → JSON gives the canonical JSON back, for every kind of value widget.
    for tree in ROUND_TRIPS:
        page.click(".rv-cb-mode[data-mode=json]")
        page.fill("#id_conditions", json.dumps(tree))
        page.click(".rv-cb-mode[data-mode=builder]")
        assert page.locator(".rv-cb-note").is_hidden(), (tree, page.inner_text(".rv-cb-note"))
        assert builder_json(page) == clean_condition(tree, object_type="lead"), tree
    # What the builder cannot show opens in JSON, saying why; nothing is lost.
    page.fill("#id_conditions", '{"all": [{"field": "lead.no_such", "op": "eq", "value": 1}]}')
    page.click(".rv-cb-mode[data-mode=builder]")
    assert "lead.no_such" in page.inner_text(".rv-cb-note") and page.locator("#id_conditions").is_visible()

    # Start again in the builder and build: country is one of DE, AT and score at least 50.
    page.fill("#id_conditions", "")
    page.click(".rv-cb-mode[data-mode=builder]")
    assert page.locator("#id_conditions").is_hidden()
    page.fill("#id_name", "DACH hot leads to Lena")
    page.fill("#id_priority", "20")
    page.select_option("#id_status", "draft")
    page.click(".rv-cb-root > .rv-cb-actions .rv-cb-add-condition")
    first = page.locator(".rv-cb-leaf").nth(0)
    first.locator(".rv-cb-field").select_option("lead.country")
    first.locator(".rv-cb-op").select_option("in")
    first.locator("textarea.rv-cb-value").fill("DE\nAT")
    page.click(".rv-cb-root > .rv-cb-actions .rv-cb-add-condition")
    second = page.locator(".rv-cb-leaf").nth(1)
    second.locator(".rv-cb-field").select_option("lead.score")
    second.locator(".rv-cb-op").select_option("gte")
    second.locator("input.rv-cb-value").fill("50")
    screenshot(page, "condition-builder-rule")
    page.select_option("#id_target_type", "rep")
    page.click("#id_target_rep + .select2 .select2-selection")
    page.fill(".select2-search__field", "Lena")
    page.click(".select2-results__option >> text=Lena Vogel")
    page.click("input[name=_save]")
    page.wait_for_url(f"**{reverse('admin:routing_routingrule_changelist')}")
    rule = RoutingRule.objects.get(name="DACH hot leads to Lena")
    assert rule.conditions == {
        "all": [
            {"field": "lead.country", "op": "in", "value": ["DE", "AT"]},
            {"field": "lead.score", "op": "gte", "value": 50},
        ]
    }

    # The saved rule opens in the builder, as built.
    page.click('#result_list a:text-is("DACH hot leads to Lena")')
    page.wait_for_url("**/change/")
    page.locator(".rv-cb-leaf").nth(1).wait_for()
    assert page.locator(".rv-cb-leaf").count() == 2 and page.locator("#id_conditions").is_hidden()
    assert page.locator(".rv-cb-leaf").nth(1).locator("input.rv-cb-value").input_value() == "50"

    # Order it: the list states the order and warns that the catch-all above it hides it; ▲ fixes that.
    page.goto(reverse("admin:routing_routingrule_changelist"))
    assert "Rules are tried in priority order" in page.inner_text("#rv-rules-statement")
    assert "“DACH hot leads to Lena” is never reached" in page.inner_text("#rv-rules-warnings")
    page.locator("#result_list tr", has_text="DACH hot leads to Lena").locator("button.rv-move-up").click()
    page.wait_for_selector(".messagelist")
    assert "the other rules keep theirs" in page.inner_text(".messagelist")
    assert dict(RoutingRule.objects.values_list("name", "priority")) == {
        "DACH hot leads to Lena": 5,
        "Review the rest": 20,
    }
    assert page.locator("#rv-rules-warnings").count() == 0
    screenshot(page, "condition-builder-rules-list")

    # Preview a lead (drafts included): the rule routes it to Lena.
    page.goto(reverse("admin:routing_routingrule_preview"))
    page.fill("#id_country", "AT")
    page.fill("#id_score", "70")
    page.check("#id_include_drafts")
    page.click("input[type=submit]")
    body = page.inner_text("#content")
    assert "DACH hot leads to Lena" in body and "Lena Vogel" in body
    screenshot(page, "condition-builder-preview")

    # Shadow it: no JSON typed, and shadow needs no confirmation (live would).
    page.goto(reverse("admin:routing_routingrule_change", args=[rule.pk]))
    page.select_option("#id_status", "shadow")
    page.click("input[name=_save]")
    page.wait_for_url(f"**{reverse('admin:routing_routingrule_changelist')}")
    rule.refresh_from_db()
    assert rule.status == "shadow" and rule.conditions["all"][1]["value"] == 50


# --- Generated trees: JSON → builder → JSON is the canonical JSON ----------------------------------

TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp", "Zs")) | st.just(" "), min_size=1, max_size=10
).filter(lambda t: t == t.strip())
INTEGER = st.integers(min_value=-(10**12), max_value=10**12)
DECIMAL = st.decimals(min_value=-(10**6), max_value=10**6, places=2, allow_nan=False, allow_infinity=False)
DATETIME = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2040, 1, 1), timezones=st.just(dt.UTC)
).map(lambda d: d.replace(microsecond=0).isoformat().replace("+00:00", "Z"))
DAYS = st.integers(min_value=0, max_value=3650)


def _leaf(path, op, value=None):
    """A comparison; decimals (generated as Decimal, so that pairs sort by value) are written as text."""
    if isinstance(value, list):
        value = [str(v) if isinstance(v, Decimal) else v for v in value]
    elif isinstance(value, Decimal):
        value = str(value)
    return {"field": path, "op": op, **({} if value is None else {"value": value})}


def _scalar_leaves(path, values, ops, *, lists=True, between=True, own=True):
    options = [st.builds(_leaf, st.just(path), st.sampled_from(ops), values)]
    options.append(st.builds(_leaf, st.just(path), st.sampled_from(["is_empty", "is_not_empty"])))
    if lists:
        unique = st.lists(values, min_size=1, max_size=4, unique=True)
        options.append(st.builds(_leaf, st.just(path), st.sampled_from(["in", "not_in"]), unique))
    if between:
        pair = st.lists(values, min_size=2, max_size=2, unique=True).map(sorted)
        options.append(st.builds(_leaf, st.just(path), st.just("between"), pair))
    if own:
        options.append(st.builds(_leaf, st.just(path), st.just("changed")))
    return st.one_of(options)


LEAVES = st.one_of(
    _scalar_leaves(
        "lead.country", TEXT, ["eq", "ne", "contains", "starts_with", "ends_with", "changed_to"], between=False
    ),
    _scalar_leaves("lead.score", INTEGER, ["eq", "ne", "gt", "gte", "lt", "lte", "changed_to"]),
    _scalar_leaves(
        "lead.status", st.sampled_from(["new", "working", "nurture", "qualified"]), ["eq", "ne"], between=False
    ),
    _scalar_leaves("lead.owner", TEXT, ["eq", "ne"], between=False),
    _scalar_leaves("lead.matched_account.annual_revenue", DECIMAL, ["gt", "lte"], lists=False, own=False),
    _scalar_leaves("lead.matched_account.is_named", st.booleans(), ["eq", "ne"], lists=False, between=False, own=False),
    _scalar_leaves("lead.matched_account.source_updated_at", DATETIME, ["gt", "lt"], lists=False, own=False),
    st.builds(_leaf, st.just("lead.owner.segments"), st.just("contains"), st.sampled_from(["SMB", "MM", "ENT"])),
    st.builds(
        _leaf,
        st.just("lead.source_updated_at"),
        st.sampled_from(["within_days", "older_than_days", "within_next_days", "within_last_days"]),
        DAYS,
    ),
    st.builds(_leaf, st.just("lead.source_updated_at"), st.sampled_from(["in_past", "in_future"])),
)


def _groups(children):
    group = st.builds(
        lambda kind, items: {kind: items}, st.sampled_from(["all", "any"]), st.lists(children, max_size=4)
    )
    return group | group.map(lambda g: {"not": g})


TREES = st.recursive(LEAVES | LEAVES.map(lambda leaf: {"not": leaf}), _groups, max_leaves=10)

ROUND_TRIP_JS = """(text) => {
  const root = document.querySelector(".rv-cb");
  const json = root.querySelector(".rv-cb-mode[data-mode=json]");
  const builder = root.querySelector(".rv-cb-mode[data-mode=builder]");
  const area = document.getElementById("id_conditions");
  json.click();
  area.value = text;
  builder.click();
  const note = root.querySelector(".rv-cb-note");
  const shown = note.hidden;
  json.click();
  return {shown: shown, note: note.textContent, text: area.value};
}"""


def test_generated_trees_round_trip_through_the_builder(admin_page):
    load_default_dictionary(FieldDefinition)
    page = admin_page
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(reverse("admin:routing_routingrule_add"))
    page.wait_for_selector(".rv-cb-root")

    @hyp_settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(TREES)
    def round_trip(tree):
        canonical = clean_condition(tree, object_type="lead")
        result = page.evaluate(ROUND_TRIP_JS, json.dumps(canonical))
        assert result["shown"], result["note"]
        assert json.loads(result["text"]) == canonical

    round_trip()
