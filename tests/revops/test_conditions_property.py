"""Property test: for random condition trees and records, compiled predicate == explain == ORM filter."""

import datetime as dt
import itertools
import json

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revops.conditions import Context, Field, compile_condition, default_fields, explain, explain_text, to_q
from revops.conditions.compact import expand_stored
from revops.conditions.schema import OPS_BY_TYPE, dump
from revops.models import Account, Lead, Rep

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()

FIELDS = {
    **default_fields(),
    ("lead", "tier"): Field("lead", "tier", "Tier", "choice", False, ("gold", "silver", "bronze")),
    ("lead", "intent"): Field("lead", "intent", "Intent", "integer", False),
    ("lead", "first_touch"): Field("lead", "first_touch", "First touch", "date", False),
    ("lead", "last_seen"): Field("lead", "last_seen", "Last seen", "datetime", False),
    ("lead", "tags"): Field("lead", "tags", "Tags", "multi_choice", False, ("a", "b", "c")),
    ("account", "region_code"): Field("account", "region_code", "Region code", "text", False),
}

# (path, field type, strategy for condition values)
TEXTS = ["US", "CA", "us", "u", "S", "%", "_", "a_b", "a%", "x\\y"]
text_value = st.sampled_from(TEXTS)
small_int = st.integers(-3, 3)
date_value = st.integers(-6, 6).map(lambda d: TODAY + dt.timedelta(days=d))
datetime_value = st.integers(-6 * 24, 6 * 24).map(lambda h: NOW + dt.timedelta(hours=h))
PATHS = {
    "lead.country": (text_value, "text"),
    "lead.source": (text_value, "text"),
    "lead.score": (small_int, "integer"),
    "lead.status": (st.sampled_from([s for s, _ in Lead.Status.choices]), "choice"),
    "lead.source_updated_at": (datetime_value, "datetime"),
    "lead.tier": (st.sampled_from(["gold", "silver", "bronze"]), "choice"),
    "lead.intent": (small_int, "integer"),
    "lead.first_touch": (date_value, "date"),
    "lead.last_seen": (datetime_value, "datetime"),
    "lead.tags": (st.sampled_from(["a", "b", "c"]), "multi_choice"),
    "lead.owner": (st.sampled_from(["R1", "R2"]), "reference"),
    "lead.matched_account.employees": (small_int, "integer"),
    "lead.matched_account.industry": (text_value, "text"),
    "lead.matched_account.region_code": (text_value, "text"),
    "lead.owner.region": (text_value, "text"),
}


def _json(value):
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@st.composite
def leaves(draw):
    path = draw(st.sampled_from(sorted(PATHS)))
    values, ftype = PATHS[path]
    op = draw(st.sampled_from(sorted(OPS_BY_TYPE[ftype] - {"changed", "changed_to"})))
    leaf = {"field": path, "op": op}
    if op in ("is_empty", "is_not_empty", "in_past", "in_future"):
        return leaf
    if op in ("in", "not_in"):
        leaf["value"] = [_json(v) for v in draw(st.lists(values, min_size=1, max_size=3))]
    elif op == "between":
        lo, hi = sorted(draw(st.lists(values, min_size=2, max_size=2)))
        leaf["value"] = [_json(lo), _json(hi)]
    elif op in ("older_than_days", "within_days", "within_next_days", "within_last_days"):
        leaf["value"] = draw(st.integers(0, 5))
    else:
        leaf["value"] = _json(draw(values))
    return leaf


trees = st.recursive(
    leaves(),
    lambda children: st.one_of(
        st.lists(children, max_size=3).map(lambda c: {"all": c}),
        st.lists(children, max_size=3).map(lambda c: {"any": c}),
        children.map(lambda c: {"not": c}),
    ),
    max_leaves=6,
)

maybe_text = st.sampled_from(["", "US", "CA", "us", "uS", "a_b", "a%b", "x\\y", "USA"])
optional = st.none() | st.just("absent")

records = st.fixed_dictionaries(
    {
        "country": st.sampled_from(["", "US", "CA", "us", "uS", "S", "_", "%", "\\"]),
        "source": maybe_text,
        "score": st.none() | small_int,
        "status": st.sampled_from([s for s, _ in Lead.Status.choices]),
        "source_updated_at": st.none() | datetime_value,
        "tier": optional | st.sampled_from(["gold", "silver"]),
        "intent": optional | small_int,
        "first_touch": optional | date_value,
        "last_seen": optional | datetime_value,
        "tags": optional | st.lists(st.sampled_from(["a", "b", "c"]), unique=True, max_size=2),
        "account": st.none()
        | st.fixed_dictionaries(
            {
                "employees": st.none() | small_int,
                "industry": maybe_text,
                "region_code": optional | maybe_text,
            }
        ),
        "owner": st.none()
        | st.fixed_dictionaries({"external_id": st.sampled_from(["R1", "R2"]), "region": maybe_text}),
    }
)

_ids = itertools.count()


def _attrs(data, keys):
    out = {}
    for key in keys:
        value = data[key]
        if value != "absent":
            out[key] = _json(value)
    return out


def _save(data):
    n = next(_ids)
    account = owner = None
    if data["account"] is not None:
        a = data["account"]
        account = Account.objects.create(
            external_id=f"PA{n}",
            name="Acme",
            employees=None if a["employees"] is None else abs(a["employees"]),
            industry=a["industry"],
            attributes=_attrs(a, ["region_code"]),
        )
    if data["owner"] is not None:
        o = data["owner"]
        owner = Rep.objects.filter(external_id=o["external_id"]).first()
        if owner is None:
            owner = Rep.objects.create(external_id=o["external_id"], name="Rep", email="r@example.com")
        owner.region = o["region"]
        owner.save()
    return Lead.objects.create(
        external_id=f"PL{n}",
        country=data["country"],
        source=data["source"],
        score=data["score"],
        status=data["status"],
        source_updated_at=data["source_updated_at"],
        attributes=_attrs(data, ["tier", "intent", "first_touch", "last_seen", "tags"]),
        owner=owner,
        matched_account=account,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=trees, data=st.lists(records, min_size=1, max_size=4))
def test_compiled_explain_and_orm_agree(tree, data):
    with transaction.atomic():  # each example sees only its own rows
        _check(tree, data)
        transaction.set_rollback(True)


def _check(tree, data):
    pred = compile_condition(tree, object_type="lead", fields=FIELDS)
    q = to_q(tree, object_type="lead", fields=FIELDS, now=NOW)
    saved = [_save(d) for d in data]
    leads = Lead.objects.select_related("owner", "matched_account").filter(pk__in=[s.pk for s in saved])
    matched = set(Lead.objects.filter(pk__in=[s.pk for s in saved]).filter(q).values_list("pk", flat=True))
    for lead in leads:
        ctx = Context(lead, now=NOW)
        compiled = pred(ctx)
        explained = explain(tree, ctx, object_type="lead", fields=FIELDS)["result"]
        as_dict = pred(Context(_as_dict(lead), now=NOW))
        assert compiled == explained == (lead.pk in matched) == as_dict, (tree, lead.__dict__)
        _check_compact(pred, ctx)


def _check_compact(pred, ctx):
    """A run's compact form (``pred.check``), stored as JSON and expanded, is the full explanation, and
    its lines (all, and the ✗ ones) are the explanation text's."""
    full = pred.explain(ctx)
    checked = pred.check(ctx)
    stored = json.loads(json.dumps(checked))
    assert pred.expand(stored) == json.loads(json.dumps(full))
    failed = [line.strip() for line in explain_text(full)[1:] if line.strip().startswith("✗")]
    assert pred.failed_lines(stored) == failed
    assert pred.text_lines(stored) == explain_text(full)
    # Should the rule stop reading with the dictionary, its stored conditions give the same tree, by path.
    unlabelled = expand_stored(dump(pred.node), stored)
    assert _without_words(unlabelled) == _without_words(json.loads(json.dumps(full)))


def _without_words(tree):
    if "conditions" in tree:
        return {**tree, "conditions": [_without_words(child) for child in tree["conditions"]]}
    if "condition" in tree:
        return {**tree, "condition": _without_words(tree["condition"])}
    return {key: value for key, value in tree.items() if key not in ("label", "text")}


def _as_dict(lead):
    """The same record as a plain dict, the way a caller without model instances would pass it."""

    def plain(obj, names):
        return None if obj is None else {n: getattr(obj, n) for n in names}

    record = plain(lead, ["country", "source", "score", "status", "source_updated_at", "attributes"])
    record["owner"] = plain(lead.owner, ["external_id", "region"])
    record["matched_account"] = plain(lead.matched_account, ["employees", "industry", "attributes"])
    return record
