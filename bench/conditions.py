"""Benchmark: compiled condition predicates vs hand-written Python for the same rules.

Builds ~120 realistic lead rules (country lists, employee thresholds, score ranges, sources,
statuses, custom attributes, related account/owner fields, nested all/any/not), compiles them,
and evaluates them over 20,000 in-memory Lead instances with their account and owner attached,
side by side with hand-written lambdas doing the same checks (with the same null handling).
Prints JSON: {"compiled_s", "handwritten_s", "ratio", "leads_per_s_per_core", ...}.

    DEBUG=1 DATA_DIR=/tmp/cond-bench .venv/bin/python bench/conditions.py
"""

import datetime as dt
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "revops.settings")

import django  # noqa: E402

django.setup()

from revops.conditions import Context, Field, compile_condition, default_fields  # noqa: E402
from revops.models import Account, Lead, Rep  # noqa: E402

N_LEADS = int(os.environ.get("BENCH_LEADS", 20_000))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 5))
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)

COUNTRIES = ["US", "CA", "GB", "DE", "FR", "NL", "SE", "ES", "IT", "AU", "JP", "BR", "MX", "IN", "SG"]
SOURCES = ["web", "webinar", "event", "partner", "outbound", "content", "paid_search", ""]
STATUSES = [s for s, _ in Lead.Status.choices]
INDUSTRIES = ["Software", "Manufacturing", "Finance", "Healthcare", "Retail", "Education", ""]
REGIONS = ["NA", "EMEA", "APAC", "LATAM"]
TIERS = ["gold", "silver", "bronze"]

FIELDS = {
    **default_fields(),
    ("lead", "tier"): Field("lead", "tier", "Tier", "choice", False, tuple(TIERS)),
    ("lead", "intent"): Field("lead", "intent", "Intent", "integer", False),
}


def make_leads(rng: random.Random) -> list[Lead]:
    reps = [Rep(external_id=f"R{i}", name=f"Rep {i}", region=rng.choice(REGIONS)) for i in range(50)]
    accounts = [
        Account(
            external_id=f"A{i}",
            name=f"Acme {i}",
            employees=rng.choice([None, *range(5, 20_000, 37)]),
            industry=rng.choice(INDUSTRIES),
            country=rng.choice(COUNTRIES),
            is_named=rng.random() < 0.1,
        )
        for i in range(2_000)
    ]
    leads = []
    for i in range(N_LEADS):
        attributes = {}
        if rng.random() < 0.7:
            attributes["tier"] = rng.choice(TIERS)
        if rng.random() < 0.6:
            attributes["intent"] = rng.randint(0, 100)
        lead = Lead(
            external_id=f"L{i}",
            country=rng.choice(COUNTRIES + [""]),
            source=rng.choice(SOURCES),
            score=rng.choice([None, *range(0, 101)]),
            status=rng.choice(STATUSES),
            title=rng.choice(["VP Sales", "CEO", "Engineer", "Head of RevOps", ""]),
            attributes=attributes,
        )
        lead.owner = rng.choice(reps) if rng.random() < 0.6 else None
        lead.matched_account = rng.choice(accounts) if rng.random() < 0.7 else None
        leads.append(lead)
    return leads


def _ge(v, n):
    return v is not None and v >= n


def make_rules(rng: random.Random):
    """(tree, hand-written predicate) pairs: the lambdas are what a developer would write by hand."""
    rules = []
    for _ in range(10):
        cs = rng.sample(COUNTRIES, rng.randint(2, 5))
        cset = set(cs)
        n = rng.choice([100, 250, 500, 1000, 5000])
        score = rng.randint(10, 80)
        lo, hi = sorted(rng.sample(range(0, 101), 2))
        src = rng.choice(SOURCES[:-1])
        sts = rng.sample(STATUSES, 2)
        sset = set(sts)
        ind = rng.choice(INDUSTRIES[:-1])
        region = rng.choice(REGIONS)
        tier = rng.sample(TIERS, 2)
        tset = set(tier)
        intent = rng.randint(20, 90)
        rules += [
            (
                {"field": "lead.country", "op": "in", "value": cs},
                lambda r, cset=cset: r.country in cset,
            ),
            (
                {
                    "all": [
                        {"field": "lead.country", "op": "in", "value": cs},
                        {"field": "lead.matched_account.employees", "op": "gte", "value": n},
                    ]
                },
                lambda r, cset=cset, n=n: (
                    r.country in cset
                    and (a := r.matched_account) is not None
                    and a.employees is not None
                    and a.employees >= n
                ),
            ),
            (
                {"field": "lead.score", "op": "between", "value": [lo, hi]},
                lambda r, lo=lo, hi=hi: r.score is not None and lo <= r.score <= hi,
            ),
            (
                {
                    "all": [
                        {"field": "lead.source", "op": "eq", "value": src},
                        {"field": "lead.score", "op": "gte", "value": score},
                    ]
                },
                lambda r, src=src, score=score: r.source == src and r.score is not None and r.score >= score,
            ),
            (
                {"field": "lead.status", "op": "in", "value": sts},
                lambda r, sset=sset: r.status in sset,
            ),
            (
                {
                    "all": [
                        {
                            "any": [
                                {"field": "lead.country", "op": "in", "value": cs},
                                {"field": "lead.source", "op": "eq", "value": src},
                            ]
                        },
                        {"not": {"field": "lead.status", "op": "in", "value": sts}},
                    ]
                },
                lambda r, cset=cset, src=src, sset=sset: (
                    (r.country in cset or r.source == src) and r.status not in sset
                ),
            ),
            (
                {
                    "all": [
                        {"field": "lead.owner.region", "op": "eq", "value": region},
                        {"field": "lead.matched_account.industry", "op": "eq", "value": ind},
                    ]
                },
                lambda r, region=region, ind=ind: (
                    (o := r.owner) is not None
                    and o.region == region
                    and (a := r.matched_account) is not None
                    and a.industry == ind
                ),
            ),
            (
                {
                    "all": [
                        {"field": "lead.tier", "op": "in", "value": tier},
                        {"field": "lead.intent", "op": "gte", "value": intent},
                    ]
                },
                lambda r, tset=tset, intent=intent: (
                    r.attributes.get("tier") in tset and _ge(r.attributes.get("intent"), intent)
                ),
            ),
            (
                {
                    "all": [
                        {"field": "lead.country", "op": "in", "value": cs},
                        {"field": "lead.owner", "op": "is_empty"},
                        {
                            "any": [
                                {"field": "lead.matched_account.employees", "op": "gte", "value": n},
                                {"field": "lead.score", "op": "gte", "value": score},
                                {"field": "lead.matched_account.is_named", "op": "eq", "value": True},
                            ]
                        },
                    ]
                },
                lambda r, cset=cset, n=n, score=score: (
                    r.country in cset
                    and r.owner_id is None
                    and (
                        ((a := r.matched_account) is not None and a.employees is not None and a.employees >= n)
                        or (r.score is not None and r.score >= score)
                        or (a is not None and a.is_named is True)
                    )
                ),
            ),
            (
                {
                    "any": [
                        {"field": "lead.title", "op": "contains", "value": "vp"},
                        {
                            "all": [
                                {"field": "lead.status", "op": "eq", "value": "new"},
                                {"field": "lead.matched_account.employees", "op": "lt", "value": n},
                                {"field": "lead.country", "op": "ne", "value": cs[0]},
                            ]
                        },
                    ]
                },
                lambda r, n=n, c0=cs[0]: (
                    (bool(r.title) and "vp" in r.title.lower())
                    or (
                        r.status == "new"
                        and (a := r.matched_account) is not None
                        and a.employees is not None
                        and a.employees < n
                        and r.country != c0
                    )
                ),
            ),
            (
                {"not": {"field": "lead.score", "op": "lt", "value": score}},
                lambda r, score=score: not (r.score is not None and r.score < score),
            ),
            (
                {
                    "all": [
                        {"field": "lead.country", "op": "eq", "value": cs[0]},
                        {"field": "lead.status", "op": "ne", "value": "converted"},
                    ]
                },
                lambda r, c0=cs[0]: r.country == c0 and r.status != "converted",
            ),
        ]
    return rules


def main():
    rng = random.Random(7)
    leads = make_leads(rng)
    rules = make_rules(rng)
    preds = [compile_condition(tree, object_type="lead", fields=FIELDS) for tree, _ in rules]
    hands = [hand for _, hand in rules]

    # Same answers first: a benchmark of wrong code proves nothing.
    for i, lead in enumerate(leads[:3000]):
        ctx = Context(lead, now=NOW)
        for j, (pred, hand) in enumerate(zip(preds, hands, strict=True)):
            assert pred(ctx) == bool(hand(lead)), (i, j, rules[j][0])

    def run_compiled():
        hits = 0
        for lead in leads:
            ctx = Context(lead, now=NOW)
            for pred in preds:
                if pred(ctx):
                    hits += 1
        return hits

    def run_handwritten():
        hits = 0
        for lead in leads:
            for hand in hands:
                if hand(lead):
                    hits += 1
        return hits

    compiled, handwritten = [], []
    for _ in range(ROUNDS):
        for fn, out in ((run_compiled, compiled), (run_handwritten, handwritten)):
            start = time.perf_counter()
            hits = fn()
            out.append(time.perf_counter() - start)
    assert run_compiled() == run_handwritten() == hits
    compiled_s, handwritten_s = min(compiled), min(handwritten)
    print(
        json.dumps(
            {
                "rules": len(preds),
                "leads": len(leads),
                "evaluations": len(preds) * len(leads),
                "matches": hits,
                "compiled_s": round(compiled_s, 4),
                "handwritten_s": round(handwritten_s, 4),
                "ratio": round(compiled_s / handwritten_s, 3),
                "leads_per_s_per_core": round(len(leads) / compiled_s),
                "ns_per_rule_evaluation": round(compiled_s / (len(preds) * len(leads)) * 1e9, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
