"""Backtest: what a draft rule set would have done with the leads of the last N days. Writes nothing.

Runs the same ``Router`` as live routing over leads loaded once, with ``SimLookups``: reps,
matched accounts, open opportunities and pools are preloaded, and pools are *simulated* in
memory (weighted counts, round-robin pointer, per-day and open-lead caps) in the order the
leads arrived. Working hours are judged at each lead's arrival time; out-of-office is ignored
(the portal does not know past absences), inactive reps are skipped as they are now.

The report: outcomes, leads per rule, per rep (now vs proposed) and per pool, how many leads
would change owner, leads sent to the fallback because a pool was capped, and cap violations
(rep-days where targets that ignore caps — named accounts, a named rep — would exceed the daily
cap of a pool the rep belongs to).
"""

from __future__ import annotations

import copy
import datetime as dt
import time
from collections import Counter

from django.utils import timezone

from revops import conditions
from revops.models import Account, Lead, Opportunity, Rep

from .engine import CompiledRule, Router, RoutingConfig, compile_rules, load_rules
from .models import Pool, RoutingRule
from .pools import OPEN_LEAD_STATUSES

DEFAULT_STATUSES = (RoutingRule.Status.LIVE, RoutingRule.Status.SHADOW, RoutingRule.Status.DRAFT)
LEAD_COLUMNS = (
    "id",
    "external_id",
    "email",
    "first_name",
    "last_name",
    "company",
    "domain",
    "title",
    "country",
    "state",
    "source",
    "score",
    "status",
    "owner_id",
    "matched_account_id",
    "attributes",
    "created_at",
)


class SimLookups:
    """Preloaded reads and in-memory pools for the backtest."""

    def __init__(self, *, now: dt.datetime):
        from .pools import load_states

        self.reps: dict[int, Rep] = {}
        for rep in Rep.objects.all():
            rep.out_of_office_until = None  # past absences are unknown
            self.reps[rep.pk] = rep
        self.by_external = {rep.external_id: rep for rep in self.reps.values()}
        self.accounts: dict[int, Account] = {}
        self.opportunities: dict[int, dict] = {}
        for opp in (
            Opportunity.objects.filter(stage__in=Opportunity.OPEN_STAGES, owner__isnull=False, account__isnull=False)
            .order_by("-amount", "close_date", "pk")
            .values("pk", "external_id", "name", "owner_id", "account_id")
        ):
            self.opportunities.setdefault(opp["account_id"], opp)
        self.pools = {pool.pk: pool for pool in Pool.objects.filter(is_active=True)}
        self.pools_by_name = {pool.name: pool for pool in self.pools.values()}
        self.states = {}
        for pool in self.pools.values():
            states = load_states(pool, now=now)
            for state in states:
                state.assigned, state.today, state.open_leads, state.out_of_office_until = 0, 0, 0, None
                state.last_assigned_at = None
            self.states[pool.pk] = states
        self.last_rep: dict[int, int | None] = {}
        self.configs: dict = {}
        self.rep_open: Counter = Counter()
        self.rep_day: Counter = Counter()
        self.day: dt.date | None = None
        self.lead_open = True

    def load_accounts(self, ids) -> None:
        missing = [pk for pk in set(ids) if pk and pk not in self.accounts]
        if missing:
            self.accounts.update(Account.objects.select_related("owner", "parent").in_bulk(missing))

    def rep(self, rep_id):
        return self.reps.get(rep_id) if rep_id is not None else None

    def rep_by_external_id(self, external_id: str):
        return self.by_external.get(external_id)

    def account(self, account_id):
        return self.accounts.get(account_id) if account_id is not None else None

    def open_opportunity(self, account_id):
        return self.opportunities.get(account_id)

    def pool(self, pool_id=None, name=None, hint=None):
        return self.pools.get(pool_id) if pool_id is not None else self.pools_by_name.get(name)

    def pick(self, pool, *, now, exclude_rep_ids=(), dry: bool = False):
        from .pools import PoolConfig, choose

        states = self.states.get(pool.pk, [])
        day = now.date()
        for state in states:
            state.open_leads = self.rep_open[state.rep_id]
            state.today = self.rep_day[(state.rep_id, day)]
        config = self.configs.get(pool.pk)
        if config is None:
            config = self.configs[pool.pk] = PoolConfig.from_pool(pool)
        return choose(
            config,
            states,
            now=now,
            exclude_rep_ids=exclude_rep_ids,
            last_rep_id=self.last_rep.get(pool.pk),
            explain=False,
        )

    def assigned(self, pool, rep_id: int, *, now) -> None:
        self.last_rep[pool.pk] = rep_id
        for state in self.states.get(pool.pk, []):
            if state.rep_id == rep_id:
                state.assigned += 1
                state.last_assigned_at = now


def backtest(
    *, days: int = 30, statuses=DEFAULT_STATUSES, now: dt.datetime | None = None, limit: int | None = None
) -> dict:
    """Replay the leads created in the last ``days`` days through the rules with ``statuses``; return the report."""
    from .matching import account_index
    from .services import routing_automation

    started = time.perf_counter()
    now = now or timezone.now()
    since = now - dt.timedelta(days=days)
    automation = routing_automation(modes=("live", "shadow", "draft"))
    config = RoutingConfig.from_config(automation.config if automation is not None else {})
    fields = conditions.load_fields()
    rules = load_rules(statuses)
    # In a backtest every included rule counts as live ("what if these rules were live").
    compiled = [CompiledRule(_as_live(c.rule), c.predicate) for c in compile_rules(rules, fields)]
    index = account_index()
    lookups = SimLookups(now=now)
    router = Router(rules=compiled, config=config, lookups=lookups, index=index, explain=False)
    qs = Lead.objects.filter(created_at__gte=since, created_at__lt=now).order_by("created_at", "pk").only(*LEAD_COLUMNS)
    leads = list(qs[:limit] if limit else qs)
    loaded = time.perf_counter()
    threshold = float(config.fuzzy_threshold)
    matches = [
        index.match(email=lead.email, domain=lead.domain, company=lead.company, fuzzy_threshold=threshold)
        for lead in leads
    ]
    lookups.load_accounts([m.account_id for m in matches if m.account_id] + [ld.matched_account_id for ld in leads])
    outcomes: Counter = Counter()
    by_rule: Counter = Counter()
    by_pool: Counter = Counter()
    proposed: Counter = Counter()
    current: Counter = Counter()
    match_counts: Counter = Counter()
    changes = 0
    samples = []
    capped = 0
    rep_days: Counter = Counter()
    for lead, match in zip(leads, matches, strict=True):
        owner_before = lead.owner_id
        plan = router.decide(lead, now=lead.created_at, match=match)
        outcomes[plan.outcome] += 1
        match_counts[plan.match.status] += 1
        by_rule[plan.rule.name if plan.rule is not None else "(no rule: fallback)"] += 1
        if plan.pool is not None and plan.owner is not None:
            by_pool[plan.pool.name] += 1
        if owner_before:
            current[owner_before] += 1
        if plan.pick is not None and plan.pick.rep_id is None:
            capped += 1
        new_owner = plan.owner_id if plan.outcome in ("assigned", "fallback") else None
        if new_owner is not None:
            proposed[new_owner] += 1
            rep_days[(new_owner, lead.created_at.date())] += 1
            if lead.status in OPEN_LEAD_STATUSES:
                lookups.rep_open[new_owner] += 1
            lookups.rep_day[(new_owner, lead.created_at.date())] += 1
        if new_owner != owner_before:
            changes += 1
            if len(samples) < 20:
                samples.append(
                    {
                        "lead": lead.external_id,
                        "now": _rep_ext(lookups, owner_before),
                        "proposed": _rep_ext(lookups, new_owner),
                        "outcome": plan.outcome,
                        "rule": plan.rule.name if plan.rule is not None else None,
                    }
                )
    caps = _daily_caps(lookups)
    violations = [
        {"rep": _rep_ext(lookups, rep_id), "day": day.isoformat(), "assigned": n, "cap": caps[rep_id]}
        for (rep_id, day), n in sorted(rep_days.items(), key=lambda kv: (kv[0][1], kv[0][0]))
        if rep_id in caps and n > caps[rep_id]
    ]
    reps = set(current) | set(proposed)
    return {
        "window": {"days": days, "since": since.isoformat(), "until": now.isoformat()},
        "rules": [{"rule": r.name, "priority": r.priority, "status": r.status} for r in rules],
        "leads": len(leads),
        "outcomes": dict(outcomes),
        "match": dict(match_counts),
        "by_rule": [{"rule": k, "leads": v} for k, v in by_rule.most_common()],
        "by_pool": [{"pool": k, "leads": v} for k, v in by_pool.most_common()],
        "by_rep": sorted(
            (
                {
                    "rep": _rep_ext(lookups, pk),
                    "name": getattr(lookups.rep(pk), "name", "?"),
                    "now": current[pk],
                    "proposed": proposed[pk],
                    "delta": proposed[pk] - current[pk],
                }
                for pk in reps
            ),
            key=lambda row: (-row["proposed"], row["name"]),
        ),
        "changes": changes,
        "changes_sample": samples,
        "capped_fallbacks": capped,
        "cap_violations": violations,
        "seconds": {"load": round(loaded - started, 3), "total": round(time.perf_counter() - started, 3)},
    }


def _as_live(rule: RoutingRule) -> RoutingRule:
    if rule.status == RoutingRule.Status.LIVE:
        return rule
    clone = copy.copy(rule)
    clone.status = RoutingRule.Status.LIVE
    return clone


def _rep_ext(lookups: SimLookups, rep_id):
    rep = lookups.rep(rep_id)
    return rep.external_id if rep is not None else None


def _daily_caps(lookups: SimLookups) -> dict[int, int]:
    """The smallest daily cap a rep has in any pool (where they have one)."""
    caps: dict[int, int] = {}
    for states in lookups.states.values():
        for state in states:
            if state.max_per_day is not None:
                caps[state.rep_id] = min(caps.get(state.rep_id, state.max_per_day), state.max_per_day)
    return caps
