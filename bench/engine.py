"""Benchmark: the engine's in-process evaluation path vs hand-written Python for the same rules.

Uses the ~120 lead rules and the in-memory leads of ``bench/conditions.py``. For every (lead,
rule) pair it measures:

- ``engine_decide_s``: deciding whether a rule holds — the version's compiled predicate on the event's
  shared condition context, compiled once per version as the pipeline caches it (what a scheduled
  scan asks of every record, ``revops.engine.schedule``);
- ``engine_explain_s``: the full run outcome the pipeline stores — ``rule_outcome`` for the
  ``field_update`` kind (``gated``: decided and every condition checked in one pass,
  ``predicate.judge``): the decision, every condition's actual value and result (the compact form
  the Why page expands), and for a run that fires the summary in plain language (the fields set) and
  the actions. A run that does not fire stores no summary: the pages say it from the conditions
  checked when they show it (``revops.engine.selectors.run_summary``);
- ``handwritten_s``: hand-written lambdas doing the same checks (same null handling).

Prints JSON with both ratios. No database or Redis work is measured (records are prefetched per
batch in the real pipeline).

    DEBUG=1 DATA_DIR=/tmp/engine-bench .venv/bin/python bench/engine.py
"""

import json
import os
import random
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "revops.settings")
os.environ.setdefault("BENCH_LEADS", "3000")

from bench import conditions as cond_bench  # noqa: E402  (sets Django up)
from revops.conditions import Context, compile_condition  # noqa: E402
from revops.engine.batch import rule_outcome  # noqa: E402
from revops.engine.kinds import get_kind  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))


def main():
    rng = random.Random(7)
    leads = cond_bench.make_leads(rng)
    rules = cond_bench.make_rules(rng)
    fields = cond_bench.FIELDS
    kind = get_kind("field_update")
    compiled = []
    for i, (tree, hand) in enumerate(rules):
        pred = compile_condition(tree, object_type="lead", fields=fields)
        version = SimpleNamespace(pk=i, number=1, risk="low", config={"set": {"status": "working"}})
        automation = SimpleNamespace(name=f"rule {i}", mode="live", object_type="lead")
        compiled.append((SimpleNamespace(automation=automation, version=version, kind=kind, predicate=pred), hand))
    now = cond_bench.NOW
    assert kind.gated

    def decide():
        hits = 0
        for lead in leads:
            shared = Context(lead, now=now)  # the pipeline builds one per event
            for rule, _hand in compiled:
                if rule.kind.gated and rule.predicate(shared):
                    hits += 1
        return hits

    def explain():
        hits = 0
        for lead in leads:
            shared = Context(lead, now=now)
            for rule, _hand in compiled:
                if rule_outcome(rule, lead, now=now, condition_context=shared, fields=fields).fired:
                    hits += 1
        return hits

    def handwritten():
        hits = 0
        for lead in leads:
            for _rule, hand in compiled:
                if hand(lead):
                    hits += 1
        return hits

    assert decide() == explain() == handwritten()
    timings = {"decide": [], "explain": [], "hand": []}
    for _ in range(ROUNDS):
        for name, fn in (("decide", decide), ("explain", explain), ("hand", handwritten)):
            start = time.perf_counter()
            fn()
            timings[name].append(time.perf_counter() - start)
    best = {name: min(values) for name, values in timings.items()}
    evaluations = len(compiled) * len(leads)
    print(
        json.dumps(
            {
                "rules": len(compiled),
                "leads": len(leads),
                "evaluations": evaluations,
                "engine_decide_s": round(best["decide"], 4),
                "engine_explain_s": round(best["explain"], 4),
                "handwritten_s": round(best["hand"], 4),
                "ratio_decide": round(best["decide"] / best["hand"], 3),
                "ratio_explain": round(best["explain"] / best["hand"], 3),
                "us_per_explained_run": round(best["explain"] / evaluations * 1e6, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
