"""The generated predicate and checker (``conditions.codegen``) against the leaf closures and the explain
interpreter, for every field kind, operator and boundary value, negated and not, on records with and
without values."""

import datetime as dt

from django.utils import timezone

from revops.conditions import Context, compile_condition, default_fields, explain, explain_text
from revops.conditions.compact import _probe, failed_key
from revops.conditions.compile import _node
from revops.conditions.schema import OPS_BY_TYPE, iter_leaves, parse_or_raise
from revops.models import Account, Lead, Rep

from .test_conditions_property import FIELDS, NOW, PATHS, TEXTS, TODAY

VALUES = {
    "text": TEXTS[:6],
    "integer": [-1, 0, 1],
    "choice": ["new", "working", "qualified"],
    "date": [(TODAY + dt.timedelta(days=d)).isoformat() for d in (-1, 0, 1)],
    "datetime": [(NOW + dt.timedelta(hours=h)).isoformat() for h in (-1, 0, 1)],
    "multi_choice": ["a", "b"],
    "reference": ["R1", "R2"],
}
RELATIVE = {"older_than_days", "within_days", "within_next_days", "within_last_days"}


def _condition_values(path, op, field_type):
    base = ["gold", "silver", "bronze"] if path == "lead.tier" else VALUES[field_type]
    if op in ("is_empty", "is_not_empty", "in_past", "in_future", "changed"):
        return [None]
    if op in RELATIVE:
        return [0, 1]
    if op in ("in", "not_in"):
        return [base[:2], base[1:3]]
    if op == "between":
        return [[base[0], base[1]], [base[1], base[-1]]]
    return base


def _records():
    """Leads whose fields sit on, below and above the condition values, or are missing."""
    owner = Rep(external_id="R1", name="Rep", region="US")
    account = Account(external_id="A", name="Acme", employees=0, industry="us", attributes={"region_code": "CA"})
    yield Lead(external_id="E", status="new", attributes={})  # empty everywhere, no relations
    for offset, text in zip((-1, 0, 1), ("US", "u", "CA"), strict=True):
        yield Lead(
            external_id="L",
            country=text,
            source=text.lower(),
            score=offset,
            status="working" if offset else "new",
            source_updated_at=NOW + dt.timedelta(hours=offset),
            attributes={
                "tier": "gold" if offset else "silver",
                "intent": offset,
                "first_touch": (TODAY + dt.timedelta(days=offset)).isoformat(),
                "last_seen": (NOW + dt.timedelta(hours=offset)).isoformat(),
                "tags": ["a"] if offset < 0 else (["a", "b"] if offset else []),
            },
            owner=owner if offset >= 0 else None,
            matched_account=account if offset <= 0 else None,
        )


def test_generated_predicates_agree_with_the_closures_and_explain_on_every_boundary():
    records = list(_records())
    checked = 0
    for path, (_strategy, field_type) in PATHS.items():
        for op in sorted(OPS_BY_TYPE[field_type] - {"changed", "changed_to"}):
            for value in _condition_values(path, op, field_type):
                leaf = {"field": path, "op": op} | ({} if value is None else {"value": value})
                for tree in (leaf, {"not": leaf}, {"all": [leaf, {"not": leaf}]}, {"any": [leaf, leaf]}):
                    generated = compile_condition(tree, object_type="lead", fields=FIELDS)
                    node = parse_or_raise(tree, object_type="lead", fields=FIELDS)
                    closures, probes = _node(node), [_probe(leaf) for leaf in iter_leaves(node)]
                    for record in records:
                        ctx = Context(record, now=NOW)
                        expected = explain(tree, ctx, object_type="lead", fields=FIELDS)["result"]
                        assert generated(ctx) == closures(ctx) == expected, (tree, record.attributes, generated.source)
                        probed = [probe(ctx) for probe in probes]
                        assert generated.check(ctx) == probed, (tree, record.attributes, generated.check.source)
                        matched, judged = generated.judge(ctx)
                        assert (bool(matched), judged) == (expected, probed), (tree, generated.judge.source)
                        # remembered by the values that failed, so a second record with the same values
                        # reads the same text and one with other values (1 and 1.0, say) its own
                        assert generated.failed_text(probed) == "; ".join(generated.failed_lines(probed))
                        checked += 1
    assert checked > 4000


def test_generated_source_holds_no_user_text():
    hostile = "x') or __import__('os').system('true') or ('"
    tree = {
        "any": [
            {"field": "lead.country", "op": "eq", "value": hostile},
            {"field": "lead.tier", "op": "in", "value": ["gold"]},
        ]
    }
    predicate = compile_condition(tree, object_type="lead", fields=FIELDS)
    assert hostile not in predicate.source and "import" not in predicate.source
    assert predicate(Context(Lead(country=hostile), now=NOW)) is True
    assert predicate(Context(Lead(country="US", attributes={"tier": "silver"}), now=NOW)) is False


def test_every_leaf_is_checked_whatever_the_record_holds():
    """``check`` evaluates leaves the deciding predicate short-circuits past: a reference behind an
    empty relation reads as empty, and a value of the wrong shape (a list where a choice was expected)
    is still compared, as the explain interpreter does."""
    fields = default_fields() | FIELDS
    trees = [
        {
            "all": [
                {"field": "lead.score", "op": "gte", "value": 80},
                {"field": "lead.owner.team", "op": "eq", "value": "T1"},
            ]
        },
        {
            "any": [
                {"field": "lead.score", "op": "gte", "value": 5},
                {"field": "lead.matched_account.owner", "op": "eq", "value": "R1"},
            ]
        },
        {
            "all": [
                {"field": "lead.score", "op": "gte", "value": 80},
                {"field": "lead.tier", "op": "in", "value": ["gold"]},
            ]
        },
    ]
    lead = Lead(external_id="L1", score=10, attributes={"tier": ["gold"]})
    for tree in trees:
        predicate = compile_condition(tree, object_type="lead", fields=fields)
        ctx = Context(lead, now=NOW)
        full = explain(tree, ctx, object_type="lead", fields=fields)
        assert predicate(ctx) == full["result"]
        assert predicate.expand(predicate.check(ctx)) == full
        assert predicate.judge(ctx) == (full["result"], predicate.check(ctx))
        assert predicate.failed_lines(predicate.check(ctx)) == [
            line.strip() for line in explain_text(full)[1:] if line.strip().startswith("✗")
        ]


def test_failed_texts_are_remembered_by_value_and_type():
    assert failed_key([[1, False], ["x", True]]) != failed_key([[1.0, False], ["x", True]])
    assert failed_key([[1, False]]) != failed_key([[True, False]])
    assert failed_key([["DE", False], [None, False]]) == failed_key([["DE", False], [None, False]])
    assert failed_key([["DE", False], [3, True]]) == failed_key([["DE", False], [4, True]])  # passed: not shown
    assert failed_key([[["a", "b"], False]]) is None  # a list cannot be a key: worked out every time
    assert failed_key([[-0.0, False]]) != failed_key([[0.0, False]])  # "-0.0" and "0.0"
    nan = float("nan")
    assert failed_key([[nan, False]]) == failed_key([[nan, False]])  # one entry, not one per run
    # shown in the viewer's time zone, or too long to keep: worked out every time
    assert failed_key([["2026-03-10T15:00:00+00:00", False]]) is None
    assert failed_key([["x" * 101, False]]) is None
    assert failed_key([["2026-03-10", False], ["x" * 100, False]]) is not None  # a date alone reads as sent
    tree = {
        "all": [
            {"field": "lead.tags", "op": "contains", "value": "c"},
            {"field": "lead.score", "op": "gte", "value": 80},
        ]
    }
    predicate = compile_condition(tree, object_type="lead", fields=FIELDS)
    for tags, score in ((["a"], 10), (["a", "b"], 10), (["a"], 10), (None, 7), (None, 7)):
        checked = predicate.check(Context(Lead(score=score, attributes={"tags": tags}), now=NOW))
        assert predicate.failed_text(checked) == "; ".join(predicate.failed_lines(checked))


def test_a_failed_moment_reads_in_each_viewers_time_zone():
    tree = {"all": [{"field": "lead.last_seen", "op": "in_past"}]}
    predicate = compile_condition(tree, object_type="lead", fields=FIELDS)
    lead = Lead(attributes={"last_seen": (NOW + dt.timedelta(hours=5)).isoformat()})
    checked = predicate.check(Context(lead, now=NOW))
    texts = []
    for zone in ("UTC", "America/New_York"):
        with timezone.override(zone):
            text = predicate.failed_text(checked)
            assert text == "; ".join(predicate.failed_lines(checked))
            texts.append(text)
    assert texts[0] != texts[1]
