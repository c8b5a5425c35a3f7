"""Blocking keeps recall: on a generated set with known duplicates, the pairs the rules would find by
comparing everything with everything share a blocking key, and the rules find nearly every true pair."""

from collections import defaultdict

import pytest

from dataquality.generate import generate, pair_quality
from dataquality.keys import BLOCK_LIMIT
from dataquality.objects import duplicate_object
from dataquality.rules import best_match, prepare_rows

from .support import ACCOUNT_FIELDS, LEAD_FIELDS, spec

PHONE = {"field": "phone", "method": "normalised", "weight": 60, "blocking": True}


def _found(object_type, records, specs):
    """Pairs (by external id) the rules find among records sharing a key, grouped into sets."""
    prepared = prepare_rows(
        duplicate_object(object_type),
        specs,
        [dict(r, id=i, attributes={"phone": r.get("phone")}) for i, r in enumerate(records)],
    )
    blocks = defaultdict(list)
    for p in prepared:
        for key in p.keys:
            blocks[key].append(p.pk)
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    for ids in blocks.values():
        if len(ids) > BLOCK_LIMIT:
            continue
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                if best_match(specs, prepared[b], prepared[a]):
                    parent[find(a)] = find(b)
    groups = defaultdict(list)
    for x in list(parent):
        groups[find(x)].append(records[x]["external_id"])
    return {tuple(sorted((a, b))) for g in groups.values() for i, a in enumerate(g) for b in g[i + 1 :]}, prepared


@pytest.mark.parametrize(
    ("object_type", "fields"), [("lead", [*LEAD_FIELDS[:2], PHONE, *LEAD_FIELDS[2:]]), ("account", ACCOUNT_FIELDS)]
)
def test_blocking_loses_no_pair_the_rule_matches_and_the_rules_find_the_known_duplicates(object_type, fields):
    data = generate(leads=3000, accounts=800, seed=11)
    records = data.leads if object_type == "lead" else data.accounts
    specs = [spec(object_type, fields)]
    found, prepared = _found(object_type, records, specs)
    by_ext = {p.external_id: p for p in prepared}
    truth = data.true_pairs(object_type)
    matched = [(a, b) for a, b in truth if best_match(specs, by_ext[a], by_ext[b])]
    unblocked = [(a, b) for a, b in matched if not by_ext[a].keys & by_ext[b].keys]
    assert unblocked == []  # every true pair the rule accepts is compared
    quality = pair_quality(found, truth)
    assert quality["recall"] >= 0.95, quality
    assert quality["precision"] >= 0.95, quality
