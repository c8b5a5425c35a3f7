"""Backtest: what a draft rule set would have done with the leads of the last N days. Writes nothing.

Runs the same ``Router`` as live routing over leads loaded once, with ``SimLookups``: reps,
matched accounts, open opportunities and pools are preloaded, and pools are *simulated* in
memory (weighted counts, round-robin pointer, per-day and open-lead caps) in the order the
leads arrived. Working hours are judged at each lead's arrival time; out-of-office is ignored
(the portal does not know past absences), inactive reps are skipped as they are now.

The leads are replayed twice over the same simulated start: through the chosen rules (the
proposal) and through the live rules alone, so the comparison is rule set against rule set, not
against the owners the leads happen to have now. The report: outcomes of both, leads per rule, per
rep (live vs proposed, by name) and per pool, the leads whose result would change, leads sent to
the fallback (all of them, and those because a pool was capped), and cap violations (rep-days
where targets that ignore caps — named accounts, a named rep — would exceed the daily cap of a
pool the rep belongs to).
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
    """Replay the leads created in the last ``days`` days twice — through the rules with ``statuses`` (the
    proposal, every included rule counting as live) and through the live rules alone — and compare the two."""
    from .matching import account_index
    from .services import routing_automation

    started = time.perf_counter()
    now = now or timezone.now()
    since = now - dt.timedelta(days=days)
    automation = routing_automation(modes=("live", "shadow", "draft"))
    config = RoutingConfig.from_config(automation.config if automation is not None else {})
    fields = conditions.load_fields()
    rules = load_rules(statuses)
    live_rules = load_rules((RoutingRule.Status.LIVE,))
    # In a backtest every included rule counts as live ("what if these rules were live").
    compiled = [CompiledRule(_as_live(c.rule), c.predicate) for c in compile_rules(rules, fields)]
    compiled_live = compile_rules(live_rules, fields)
    index = account_index()
    qs = Lead.objects.filter(created_at__gte=since, created_at__lt=now).order_by("created_at", "pk").only(*LEAD_COLUMNS)
    leads = list(qs[:limit] if limit else qs)
    threshold = float(config.fuzzy_threshold)
    matches = [
        index.match(email=lead.email, domain=lead.domain, company=lead.company, fuzzy_threshold=threshold)
        for lead in leads
    ]
    account_ids = [m.account_id for m in matches if m.account_id] + [ld.matched_account_id for ld in leads]
    lookups, live_lookups = SimLookups(now=now), SimLookups(now=now)
    for each in (lookups, live_lookups):
        each.load_accounts(account_ids)
    loaded = time.perf_counter()
    proposal = _replay(
        Router(rules=compiled, config=config, lookups=lookups, index=index, explain=False), leads, matches
    )
    live = _replay(
        Router(rules=compiled_live, config=config, lookups=live_lookups, index=index, explain=False), leads, matches
    )
    changes = rotations = 0
    samples = []
    for lead, new, old in zip(leads, proposal.results, live.results, strict=True):
        if _route(new) == _route(old):
            # Same rule and pool: once one lead goes elsewhere, a pool's rotation and counts shift, so
            # its pick may differ. That is the pool sharing the load, not the rules deciding otherwise.
            rotations += int(new["owner"] != old["owner"])
            continue
        changes += 1
        if len(samples) < CHANGES_SHOWN:
            samples.append(
                {
                    "lead": _lead_label(lead),
                    "lead_id": lead.pk,
                    "live": _result_text(lookups, old),
                    "live_rule": old["rule"],
                    "proposed": _result_text(lookups, new),
                    "proposed_rule": new["rule"],
                }
            )
    caps = _daily_caps(lookups)
    violations = [
        {"rep": _rep_name(lookups, rep_id), "day": day.isoformat(), "assigned": n, "cap": caps[rep_id]}
        for (rep_id, day), n in sorted(proposal.rep_days.items(), key=lambda kv: (kv[0][1], kv[0][0]))
        if rep_id in caps and n > caps[rep_id]
    ]
    reps = set(live.owners) | set(proposal.owners)
    return {
        "window": {"days": days, "since": since.isoformat(), "until": now.isoformat()},
        "rules": [{"rule": r.name, "priority": r.priority, "status": r.status} for r in rules],
        "live_rules": [{"rule": r.name, "priority": r.priority, "status": r.status} for r in live_rules],
        "leads": len(leads),
        "outcomes": dict(proposal.outcomes),
        "live_outcomes": dict(live.outcomes),
        "match": dict(proposal.match),
        "by_rule": [{"rule": k, "leads": v} for k, v in proposal.by_rule.most_common()],
        "by_pool": [{"pool": k, "leads": v} for k, v in proposal.by_pool.most_common()],
        "by_rep": sorted(
            (
                {
                    "rep": _rep_ext(lookups, pk),
                    "name": _rep_name(lookups, pk),
                    "live": live.owners[pk],
                    "proposed": proposal.owners[pk],
                    "delta": proposal.owners[pk] - live.owners[pk],
                }
                for pk in reps
            ),
            key=lambda row: (-row["proposed"], row["name"]),
        ),
        "changes": changes,
        "changes_sample": samples,
        "pool_rotations": rotations,
        "fallbacks": proposal.outcomes.get("fallback", 0),
        "live_fallbacks": live.outcomes.get("fallback", 0),
        "capped_fallbacks": proposal.capped,
        "cap_violations": violations,
        "seconds": {"load": round(loaded - started, 3), "total": round(time.perf_counter() - started, 3)},
    }


CHANGES_SHOWN = 50
NO_RULE = "(no rule took the lead)"


class _Replay:
    """One pass of the leads through one router: per-lead results and the counts of the report."""

    def __init__(self):
        self.results: list[dict] = []
        self.outcomes: Counter = Counter()
        self.match: Counter = Counter()
        self.by_rule: Counter = Counter()
        self.by_pool: Counter = Counter()
        self.owners: Counter = Counter()
        self.rep_days: Counter = Counter()
        self.capped = 0


def _replay(router: Router, leads, matches) -> _Replay:
    """Decide for every lead in arrival order; the simulated pools learn each assignment."""
    out = _Replay()
    lookups = router.lookups
    for lead, match in zip(leads, matches, strict=True):
        plan = router.decide(lead, now=lead.created_at, match=match)
        rule = plan.rule.name if plan.rule is not None else None
        out.outcomes[plan.outcome] += 1
        out.match[plan.match.status] += 1
        out.by_rule[rule or NO_RULE] += 1
        if plan.pool is not None and plan.owner is not None:
            out.by_pool[plan.pool.name] += 1
        if plan.pick is not None and plan.pick.rep_id is None:
            out.capped += 1
        owner = plan.owner_id if plan.outcome in ("assigned", "fallback") else None
        if owner is not None:
            out.owners[owner] += 1
            day = lead.created_at.date()
            out.rep_days[(owner, day)] += 1
            if lead.status in OPEN_LEAD_STATUSES:
                lookups.rep_open[owner] += 1
            lookups.rep_day[(owner, day)] += 1
        pool = plan.pool.name if plan.pool is not None and owner is not None else None
        out.results.append(
            {"owner": owner, "outcome": plan.outcome, "queue": plan.queue or None, "rule": rule, "pool": pool}
        )
    return out


def _route(result: dict) -> tuple:
    """What the rules decided for a lead: outcome, rule, queue, and the pool — or the owner when no pool chose."""
    owner = None if result["pool"] else result["owner"]
    return (result["outcome"], result["rule"], result["queue"], result["pool"], owner)


def _result_text(lookups: SimLookups, result: dict) -> str:
    outcome = result["outcome"]
    if outcome in ("assigned", "fallback"):
        name = _rep_name(lookups, result["owner"])
        if result["pool"]:
            name = f"{name} (pool {result['pool']})"
        return f"{name} (by the fallback)" if outcome == "fallback" else name
    if outcome == "queued":
        return f"manual review in {result['queue'] or '?'}"
    if outcome == "approval":
        return "waiting for approval"
    if outcome == "unassigned":
        return "left unassigned"
    return "not routed"


def _lead_label(lead: Lead) -> str:
    name = f"{lead.first_name or ''} {lead.last_name or ''}".strip()
    label = ", ".join(part for part in (name, lead.company or "") if part)
    return label or lead.email or lead.external_id or f"lead {lead.pk}"


def _rep_name(lookups: SimLookups, rep_id) -> str:
    rep = lookups.rep(rep_id)
    return rep.name if rep is not None else "a rep no longer in the portal"


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
