"""The bulk routing driver: many leads per transaction, the same router (``routing.engine.Router``).

The one-lead driver is the engine's one-run path: a transaction per lead, the pool locked and its
members' counts read again for every pick, each action writing its own rows. For a batch (a
backfill, a large sync; the engine hands over chunks of ``ENGINE_BATCH_SIZE`` leads through
``LeadRouting.run_batch``) this driver, in ONE transaction per chunk:

1. claims the runs (created in one insert, locked) and locks the leads (id order);
2. matches every lead to its account in memory and loads the matched accounts, their owners and
   open opportunities in three queries; then, last, locks every pool the rules or the fallback can
   pick from (id order, so two drivers never deadlock) and reads each pool's members and counts once
   (``BatchLookups``): the pools are held from there to the commit, and another worker's chunk does
   its claims and reads meanwhile;
3. decides lead by lead with the same ``Router`` and the same kind code (``LeadRouting.evaluate``);
   the pools are moved forward in memory after each pick exactly as the database would be
   (counters, rotation, today's and open-lead counts of every rep the chunk assigns), so fairness
   and caps are those of routing the leads one by one in the same order;
4. writes what the common actions do — matched account, owner, pool counters, SLA clocks,
   applied actions, decisions, runs, history (one row per lead, with its run as reason) and the
   changes feed — with a few set-based statements. A lead whose plan needs anything else (an
   exception item, an approval, replacing a running clock) goes through the one-run path inside
   the same transaction, after the pools' counters written so far.

A worker killed mid-chunk rolls the whole chunk back; the events stay pending and the outbox
sweeper hands them out again, so every lead ends with exactly one decision.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from revops import conditions
from revops.bulk_writes import bulk_create_audited, bulk_update_rows_audited
from revops.engine.actions import needs_approval
from revops.engine.batch import (
    ChunkBudget,
    Claimed,
    rule_outcome,
    run_finish,
    run_reason,
    runs_claim,
    runs_write,
)
from revops.feed import change_entries_record
from revops.models import Account, AppliedAction, ChangeEntry, Lead, Opportunity, Rep
from revops.values import jsonable

from .engine import decision_row
from .models import Pool, PoolCounter, RoutingDecision, SlaClock, SlaPolicy
from .pools import COUNTED_OUTCOMES, OPEN_LEAD_STATUSES, PoolConfig, choose, load_states_many

BATCH_LOOKUPS = "routing.batch_lookups"  # the key of the chunk's lookups in the engine's BatchCache
BULK_ACTIONS = ("update_field", "assign_owner", "start_sla_clock", "open_exception")


class BatchLookups:
    """``DbLookups`` for a chunk: pools locked and read once, then moved forward in memory."""

    lock = True

    def __init__(self, *, now: dt.datetime):
        self.now = now
        self.reps: dict[int, Rep | None] = {}
        self.accounts: dict[int, Account] = {}
        self.opportunities: dict[int, dict | None] = {}
        self.matches: dict[int, object] = {}
        self.pools: dict[int, Pool] = {}
        self.states: dict[int, list] = {}
        self.configs: dict[int, PoolConfig] = {}
        self.counters: dict[int, set[int]] = {}  # reps with a stored counter, per pool
        self.initial: dict[int, dict[int, int]] = {}  # each member's counter (or newcomer baseline) as read
        self.pending: Counter = Counter()  # (pool id, rep id) → assignments not written yet
        self.last_pick: tuple | None = None

    # --- loading ----------------------------------------------------------------------------

    def load(self, *, records, setup, config, index) -> None:
        """Match the leads and read their accounts, deals and reps: before the pools are locked, so another
        worker's chunk holding them meanwhile is not kept waiting by these reads."""
        self.setup, self.index = setup, index
        rules = setup[0]
        account_ids = set()
        for lead in records:
            match = index.match(
                email=lead.email or "",
                domain=lead.domain or "",
                company=lead.company or "",
                fuzzy_threshold=float(config.fuzzy_threshold),
            )
            self.matches[lead.pk] = match
            if match.status == "matched" and match.account_id:
                account_ids.add(match.account_id)
            if lead.matched_account_id:
                account_ids.add(lead.matched_account_id)
        self.accounts = Account.objects.select_related("owner", "parent").in_bulk(list(account_ids))
        for opp in (
            Opportunity.objects.filter(account_id__in=list(account_ids), stage__in=Opportunity.OPEN_STAGES)
            .filter(owner__isnull=False)
            .order_by("-amount", "close_date", "pk")
            .values("pk", "external_id", "name", "owner_id", "account_id")
        ):
            self.opportunities.setdefault(opp.pop("account_id"), opp)
        rep_ids = {a.owner_id for a in self.accounts.values()} | {o["owner_id"] for o in self.opportunities.values()}
        rep_ids |= {rule.target_rep_id for rule in rules if rule.target_rep_id}
        rep_ids |= {lead.owner_id for lead in records if lead.owner_id}
        self._reps_load(rep_ids)

    def lock_pools(self, *, config) -> None:
        """Lock and read the pools the rules and the fallback name, with their members' states."""
        pool_ids = {rule.target_pool_id for rule in self.setup[0] if rule.target_pool_id}
        names = [config.fallback.get("pool")] if (config.fallback or {}).get("type") == "pool" else []
        # The one-lead path locks a rule's pool, then the fallback pool: the same order here (rule pools
        # by id, the fallback last) so the two drivers never wait for each other in a circle.
        fallback = Pool.objects.filter(name__in=names, is_active=True).values_list("pk", flat=True).first()
        for pool in Pool.objects.select_for_update().filter(pk__in=pool_ids - {fallback}).order_by("pk"):
            self.pools[pool.pk] = pool
        for pool in Pool.objects.select_for_update().filter(pk=fallback):
            self.pools[pool.pk] = pool
        self._read_pools(list(self.pools.values()))
        self._reps_load({s.rep_id for states in self.states.values() for s in states})

    def _reps_load(self, ids) -> None:
        missing = [pk for pk in ids if pk is not None and pk not in self.reps]
        if missing:
            found = Rep.objects.select_related("manager", "team", "user").in_bulk(missing)
            for pk in missing:
                self.reps[pk] = found.get(pk)

    def _read_pools(self, pools: list[Pool]) -> None:
        """Every pool's member states, config and stored counters, in five queries for all of them."""
        if not pools:
            return
        states, stored = load_states_many(pools, now=self.now)
        for pool in pools:
            self.states[pool.pk] = states[pool.pk] if pool.is_active else []
            self.configs[pool.pk] = PoolConfig.from_pool(pool)
            self.counters[pool.pk] = {rep_id for pool_id, rep_id in stored if pool_id == pool.pk}
            self.initial[pool.pk] = {s.rep_id: s.assigned for s in self.states[pool.pk]}

    # --- the Lookups interface (routing.engine) ----------------------------------------------

    def match_for(self, lead):
        return self.matches.get(lead.pk)

    def rep(self, rep_id: int | None) -> Rep | None:
        if rep_id is None:
            return None
        if rep_id not in self.reps:
            self._reps_load([rep_id])
        return self.reps[rep_id]

    def rep_by_external_id(self, external_id: str) -> Rep | None:
        for rep in self.reps.values():
            if rep is not None and rep.external_id == external_id:
                return rep
        rep = Rep.objects.select_related("manager", "team", "user").filter(external_id=external_id).first()
        if rep is not None:
            self.reps[rep.pk] = rep
        return rep

    def account(self, account_id: int | None) -> Account | None:
        if account_id is None:
            return None
        if account_id not in self.accounts:
            found = Account.objects.select_related("owner", "parent").filter(pk=account_id).first()
            if found is None:
                return None
            self.accounts[account_id] = found
        return self.accounts[account_id]

    def open_opportunity(self, account_id: int) -> dict | None:
        if account_id not in self.opportunities:
            from .engine import DbLookups

            self.opportunities[account_id] = DbLookups(lock=False).open_opportunity(account_id)
        return self.opportunities[account_id]

    def pool(self, pool_id: int | None = None, name: str | None = None, hint: Pool | None = None) -> Pool | None:
        if pool_id is not None:
            pool = self.pools.get(pool_id)
        else:
            pool = next((p for p in self.pools.values() if p.name == name), None)
        if pool is None:  # not a pool the rules name (changed meanwhile): read it as the one-lead path does
            qs = Pool.objects.select_for_update().filter(is_active=True)
            pool = qs.filter(pk=pool_id).first() if pool_id is not None else qs.filter(name=name).first()
            if pool is None:
                return None
            self.pools[pool.pk] = pool
            self._read_pools([pool])
        return pool if pool.is_active else None

    def pick(self, pool: Pool, *, now, exclude_rep_ids=(), dry: bool = False):
        from .pools import PoolPick

        pool = self.pools.get(pool.pk, pool)
        config = self.configs[pool.pk]
        if not pool.is_active:
            return PoolPick(
                pool_id=pool.pk,
                pool_name=pool.name,
                strategy=config.strategy,
                rep_id=None,
                reason="the pool is inactive",
            )
        states = self.states[pool.pk]
        pick = choose(config, states, now=now, exclude_rep_ids=exclude_rep_ids, last_rep_id=pool.last_rep_id)
        pick.weights = {state.rep_id: state.weight for state in states}
        return pick

    def assigned(self, pool: Pool, rep_id: int, *, now) -> None:
        pool = self.pools[pool.pk]
        state = next((s for s in self.states[pool.pk] if s.rep_id == rep_id), None)
        undo = (pool.last_rep_id, state.assigned if state else None, state.last_assigned_at if state else None)
        self.last_pick = (pool.pk, rep_id, undo)
        pool.last_rep_id = rep_id
        if state is not None:
            state.assigned += 1
            # The clock, as pool_record_assignment stamps it: the order of these moments breaks
            # least-loaded ties ("waited longest"), so every pick gets its own.
            state.last_assigned_at = timezone.now()

    # --- moving the chunk forward -------------------------------------------------------------

    def pick_taken(self, *, counted: bool) -> None:
        """The lead's pick is final: ``counted`` (its assignment is written by this driver) or not (the
        one-run path writes it); an assignment that was not applied is undone in memory."""
        if self.last_pick is not None and counted:
            pool_id, rep_id, _undo = self.last_pick
            self.pending[(pool_id, rep_id)] += 1
        self.last_pick = None

    def pick_undone(self) -> None:
        if self.last_pick is None:
            return
        pool_id, rep_id, (last_rep, assigned, last_at) = self.last_pick
        self.pools[pool_id].last_rep_id = last_rep
        for state in self.states[pool_id]:
            if state.rep_id == rep_id and assigned is not None:
                state.assigned, state.last_assigned_at = assigned, last_at
        self.last_pick = None

    def observe(self, *, decided_owner_id, counted: bool, new_owner_id, previous_owner_id, lead_open: bool) -> None:
        """What the database now says of the reps' days and open leads, for the next picks."""
        for states in self.states.values():
            for state in states:
                if counted and state.rep_id == decided_owner_id:
                    state.today += 1
                if lead_open and new_owner_id != previous_owner_id:
                    if state.rep_id == new_owner_id:
                        state.open_leads += 1
                    elif state.rep_id == previous_owner_id:
                        state.open_leads -= 1

    def counters_write(self, *, now: dt.datetime) -> None:
        """Write the pools' counters and rotation moved by this driver's assignments so far."""
        if not self.pending:
            return
        for pool_id in {pool_id for pool_id, _rep in self.pending}:
            weights = {s.rep_id: s.weight for s in self.states[pool_id]}
            stored = self.counters[pool_id]  # a one-run lead's counter made meanwhile: skipped on conflict
            assigned_reps = {rep for p, rep in self.pending if p == pool_id}
            missing = [r for r in {*weights, *assigned_reps} if r not in stored]
            if missing:
                PoolCounter.objects.bulk_create(
                    [PoolCounter(pool_id=pool_id, rep_id=r, assigned=self.initial[pool_id].get(r, 0)) for r in missing],
                    ignore_conflicts=True,
                )
                stored.update(missing)
            Pool.objects.filter(pk=pool_id).update(last_rep_id=self.pools[pool_id].last_rep_id)
        moments = {(pool_id, s.rep_id): s.last_assigned_at for pool_id, states in self.states.items() for s in states}
        _counters_add({key: (n, moments.get(key) or now) for key, n in self.pending.items()})
        self.pending.clear()


def _counters_add(pending: dict) -> None:
    """Add each (pool, rep)'s assignments to its counter and stamp its last one: ``pending`` maps
    (pool id, rep id) to (count, moment). One statement on PostgreSQL."""
    if connection.vendor != "postgresql":
        for (pool_id, rep_id), (n, moment) in pending.items():
            PoolCounter.objects.filter(pool_id=pool_id, rep_id=rep_id).update(
                assigned=F("assigned") + n, last_assigned_at=moment
            )
        return
    rows = [(pool_id, rep_id, n, moment) for (pool_id, rep_id), (n, moment) in pending.items()]
    pools, reps, counts, moments = zip(*rows, strict=True)
    table = connection.ops.quote_name(PoolCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS c SET assigned = c.assigned + v.n, last_assigned_at = v.at "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::int[], %s::timestamptz[]) AS v(pool_id, rep_id, n, at) "
            "WHERE c.pool_id = v.pool_id AND c.rep_id = v.rep_id",
            [list(pools), list(reps), list(counts), list(moments)],
        )


@dataclass
class _Clock:
    """A clock to start: the lead, its owner, the run's reason, the policy's plan, and the index of its
    applied action in the chunk's list (its ``clock_id`` is filled in once the clock exists)."""

    lead_id: int
    owner: Rep | None
    run: object
    reason: str
    plan: dict
    applied_index: int


class _Writes:
    """The chunk's set-based writes, collected lead by lead."""

    def __init__(self):
        self.leads: dict[int, dict] = {}
        self.lead_reasons: dict[int, str] = {}
        self.applied: list[AppliedAction] = []
        self.decisions: list[tuple[RoutingDecision, _Clock | None, dt.datetime | None]] = []
        self.clocks: list[_Clock] = []
        self.runs = []
        self.feed: list[dict] = []
        self.items: list[tuple] = []  # (claimed, index, action, its entry in the run's actions_applied)


def _bulkable(rule, outcome) -> bool:
    """Whether this driver writes the outcome itself (else the one-run path applies it)."""
    if not outcome.fired:
        return True
    for action in outcome.actions:
        if action.type not in BULK_ACTIONS:
            return False
        if action.type == "update_field" and action.params.get("key") != "matched_account":
            return False
        if action.type == "start_sla_clock" and (action.params.get("replace_running") or not action.params.get("plan")):
            return False
        if needs_approval(risk=rule.version.risk, action=action, object_type="lead"):
            return False
    return True


def run_batch(kind, rule, items, *, now: dt.datetime, cache, setup) -> dict[int, str]:
    """Route ``items`` ((event, lead) pairs) in one transaction; each event's run outcome. ``setup``:
    the (rules, SLA policies, calendars) routing reads (``routing.kind.routing_setup``)."""
    from .engine import RoutingConfig
    from .matching import account_index

    outcomes: dict[int, str] = {}
    with transaction.atomic():
        claimed, finished = runs_claim(rule, items)
        outcomes.update(finished)
        if not claimed:
            return outcomes
        config = RoutingConfig.from_config(rule.version.config)
        lookups = BatchLookups(now=now)
        ids = sorted(c.record.pk for c in claimed)
        locked = {
            row["id"]: row
            for row in Lead.objects.select_for_update()
            .filter(pk__in=ids)
            .order_by("pk")
            .values("id", "owner_id", "matched_account_id", "status")
        }
        lookups.load(records=[c.record for c in claimed], setup=setup, config=config, index=account_index())
        running = set(
            SlaClock.objects.filter(lead_id__in=ids, status=SlaClock.Status.RUNNING).values_list("lead_id", flat=True)
        )
        fields = conditions.load_fields()
        lookups.lock_pools(config=config)  # last: the pools are held from here to the commit
        writes = _Writes()
        budget = ChunkBudget()  # after the reads: the routing itself is timed
        cache.values[BATCH_LOOKUPS] = lookups
        try:
            for item in claimed:
                if outcomes.keys() - finished.keys() and budget.spent():
                    break  # commit what is done: the pools' locks are held until then
                outcome = rule_outcome(rule, item.record, now=now, event=item.event, cache=cache, fields=fields)
                if item.record.pk not in locked or not _bulkable(rule, outcome):
                    outcomes[item.event.pk] = _one_run(
                        rule, item, outcome, lookups=lookups, now=now, cache=cache, feed=writes.feed
                    )
                    continue
                _collect(
                    rule, item, outcome, writes, lookups=lookups, row=locked[item.record.pk], running=running, now=now
                )
                outcomes[item.event.pk] = item.run.outcome
        finally:
            cache.values.pop(BATCH_LOOKUPS, None)
        _write(writes, lookups, now=now, actor=rule.automation.identity)
    return outcomes


def _one_run(rule, item: Claimed, outcome, *, lookups: BatchLookups, now, cache, feed: list) -> str:
    """Apply ``outcome`` through the engine's one-run path (same transaction), then move the pools; its
    feed entries join the chunk's (``feed``), written last in lead order."""
    from revops.engine.pipeline import run_rule

    lookups.counters_write(now=timezone.now())  # its own pool write reads the counters
    plan = outcome.data if outcome.fired else None
    before = item.record.owner_id
    status, run = run_rule(
        rule,
        item.record,
        trigger_key=f"event:{item.event.pk}",
        now=now,
        event=item.event,
        cache=cache,
        evaluated=outcome,
        feed=feed,
    )
    if status != "done":  # rolled back: nothing it decided happened
        lookups.pick_undone()
        return status
    assigned = next((a for a in run.actions_applied or [] if a.get("type") == "assign_owner"), None)
    applied = assigned is not None and assigned.get("status") == "applied"
    if applied:
        lookups.pick_taken(counted=False)
    else:
        lookups.pick_undone()
    if plan is not None:
        _observe(lookups, plan, applied=applied, previous=before, lead_open=item.record.status in OPEN_LEAD_STATUSES)
    return run.outcome if status == "done" else status


def _observe(lookups: BatchLookups, plan, *, applied: bool, previous, lead_open: bool) -> None:
    decided = plan.owner if plan.outcome in ("assigned", "fallback") else plan.approval_owner
    lookups.observe(
        decided_owner_id=getattr(decided, "pk", None),
        counted=plan.outcome in COUNTED_OUTCOMES and decided is not None,
        new_owner_id=plan.owner_id if applied else previous,
        previous_owner_id=previous,
        lead_open=lead_open,
    )


def _collect(rule, item: Claimed, outcome, writes: _Writes, *, lookups: BatchLookups, row: dict, running: set, now):
    """What the outcome's actions do to the lead, as the actions would (``routing.actions``,
    ``revops.engine.generic_actions.update_field``), collected for the chunk's writes."""
    lead, run = item.record, item.run
    reason = run_reason(rule, run)
    applied_rows, applied = [], []
    owner_applied = False
    values: dict = {}
    clock = None
    plan = outcome.data if outcome.fired else None
    run.summary = outcome.summary  # an item's reason defaults to it
    for index, action in enumerate(outcome.actions if outcome.fired else []):
        params = dict(action.params)
        note, feed = "", None
        if action.type == "open_exception":  # opened by the action itself once the leads are written
            entry = {"index": index, "type": action.type, "status": "applied"}
            applied.append(entry)
            writes.items.append((item, index, action, entry))
            continue
        if action.type == "update_field":
            current = lookups.account(row["matched_account_id"])
            target = plan.account
            before, after = getattr(current, "external_id", None), getattr(target, "external_id", None)
            result = (
                "applied",
                {"key": "matched_account", "value": before},
                {"key": "matched_account", "value": after},
            )
            if before == after:
                result, note = ("skipped", *result[1:]), "already has this value"
            else:
                values["matched_account_id"] = getattr(target, "pk", None)
                row["matched_account_id"] = values["matched_account_id"]
                feed = {
                    "kind": ChangeEntry.Kind.FIELD_UPDATED,
                    "payload": {"field": "matched_account", "value": after, "previous": before},
                }
        elif action.type == "assign_owner":
            new, current = params.get("owner_id"), row["owner_id"]
            new_rep, current_rep = lookups.rep(new), lookups.rep(current)
            before = {"owner_id": current, "owner": getattr(current_rep, "external_id", None)}
            after = {"owner_id": new, "owner": getattr(new_rep, "external_id", None)}
            expected = params.get("expected_owner_id", lead.owner_id)
            result = ("applied", before, after)
            if current == new:
                result, note = ("skipped", before, after), "already owned by this rep"
            elif current != expected:
                result = ("skipped", before, after)
                note = f"owner changed since the run evaluated the record (was {expected}, now {current})"
            else:
                owner_applied = True
                values["owner_id"] = new
                row["owner_id"] = new
                feed = {
                    "kind": ChangeEntry.Kind.OWNER_ASSIGNED,
                    "payload": {
                        "owner": after["owner"],
                        "previous_owner": before["owner"],
                        **(params.get("feed") or {}),
                    },
                }
        else:  # start_sla_clock with a policy's plan
            sla = params["plan"]
            after = {k: sla.get(k) for k in ("policy", "policy_id", "target_minutes", "due_at", "remind_at")}
            result = ("applied", {}, after)
            if lead.pk in running:
                result, note = ("skipped", {}, after), "a clock is already running"
            else:
                running.add(lead.pk)
                owner = lookups.rep(params.get("owner_id", row["owner_id"]))
                clock = _Clock(lead.pk, owner, run, reason, sla, len(writes.applied) + len(applied_rows))
                writes.clocks.append(clock)
        status, before, after = result
        applied_rows.append(
            AppliedAction(
                run=run,
                index=index,
                action=action.type,
                object_type="lead",
                object_id=lead.pk,
                params=jsonable(params),
                before=before,
                after={**after, **({"note": note} if note else {})},
                status=status,
            )
        )
        applied.append({"index": index, "type": action.type, "status": status, **({"note": note} if note else {})})
        if feed is not None:
            writes.feed.append(
                {
                    **feed,
                    "object_type": "lead",
                    "external_id": lead.external_id,
                    "reason": reason,
                    "dedupe_key": f"run:{run.pk}:{index}",
                }
            )
    if plan is not None:
        if owner_applied:
            lookups.pick_taken(counted=True)
        else:
            lookups.pick_undone()
        _observe(
            lookups, plan, applied=owner_applied, previous=lead.owner_id, lead_open=row["status"] in OPEN_LEAD_STATUSES
        )
    if values:  # every written lead carries both columns (the same statement for all)
        writes.leads[lead.pk] = {
            "owner_id": row["owner_id"],
            "matched_account_id": row["matched_account_id"],
            "updated_at": now,
        }
        writes.lead_reasons[lead.pk] = reason
        lead.owner = lookups.rep(row["owner_id"])
        lead.matched_account = lookups.account(row["matched_account_id"])
        lead.updated_at = now
    run_finish(item, outcome, applied=applied)
    writes.runs.append(run)
    writes.applied.extend(applied_rows)
    if plan is not None:
        decision = _decision(plan, lead, run, now)
        writes.decisions.append((decision, clock, getattr(item.event, "created_at", None)))


def _decision(plan, lead, run, now) -> RoutingDecision:
    """The decision row as ``routing.kind.decision_record`` writes it (latency set at write time)."""
    return decision_row(plan, lead=lead, run=run, mode=run.mode, decided_at=now, explanation=plan.explanation())


def _items_open(writes: _Writes) -> None:
    """The plans' exception items, through the ``open_exception`` action (its de-duplication, queue and
    notices; new items together, through its batch form), after the leads are written as the one-run
    path has them by then."""
    from revops.engine.actions import ActionExecutor

    executors: dict[int, ActionExecutor] = {}
    entries = []
    for claimed, index, action, _entry in writes.items:
        run, rule = claimed.run, claimed.rule
        executor = executors.get(run.pk)
        if executor is None:
            executor = executors[run.pk] = ActionExecutor(
                run=run,
                automation=rule.automation,
                version=rule.version,
                record=claimed.record,
                object_type="lead",
                mode=run.mode,
                seen={"owner_id": claimed.record.owner_id},
            )
        entries.append((executor, index, action))
    rows = ActionExecutor.execute_many(entries)
    for (_claimed, _index, _action, entry), row in zip(writes.items, rows, strict=True):
        entry["status"] = row.status
        note = (row.after or {}).get("note")
        if note:
            entry["note"] = note
    for executor in executors.values():
        writes.feed.extend({**entry, "reason": executor.reason} for entry in executor.feed)


def _write(writes: _Writes, lookups: BatchLookups, *, now, actor) -> None:
    """The chunk's rows: leads (+ history), pool counters, decisions, clocks (+ history), applied
    actions, runs, then the feed (last: it takes the feed's lock until commit)."""
    if writes.leads:
        fields = ["owner_id", "matched_account_id", "updated_at"]
        bulk_update_rows_audited(model=Lead, rows=writes.leads, fields=fields, actor=actor, reasons=writes.lead_reasons)
    lookups.counters_write(now=timezone.now())
    _items_open(writes)
    committed = timezone.now()
    for decision, _clock, arrived in writes.decisions:
        latency = (committed - arrived).total_seconds() * 1000 if arrived else 0.0
        decision.explanation = {**decision.explanation, "latency_ms": round(latency, 1)}
        decision.latency_ms = round(latency, 3)
    bulk_create_audited(model=RoutingDecision, objs=[decision for decision, _clock, _arrived in writes.decisions])
    decided = {id(clock): decision for decision, clock, _arrived in writes.decisions if clock is not None}
    policy_ids = {c.plan.get("policy_id") for c in writes.clocks} - {None}
    existing = (
        set(SlaPolicy.objects.filter(pk__in=list(policy_ids)).values_list("pk", flat=True)) if policy_ids else set()
    )
    clocks = [
        SlaClock(
            lead_id=c.lead_id,
            owner=c.owner,
            policy=str(c.plan.get("policy") or "")[:120],
            policy_ref_id=c.plan.get("policy_id") if c.plan.get("policy_id") in existing else None,
            decision=decided.get(id(c)),
            target_minutes=int(c.plan["target_minutes"]),
            business_hours=bool(c.plan.get("business_hours")),
            started_at=_moment(c.plan["started_at"]),
            due_at=_moment(c.plan["due_at"]),
            remind_at=_moment(c.plan.get("remind_at")),
            run=c.run,
            status=SlaClock.Status.RUNNING,
        )
        for c in writes.clocks
    ]
    bulk_create_audited(model=SlaClock, objs=clocks, actor=actor, reasons=[c.reason for c in writes.clocks])
    for clock, entry in zip(clocks, writes.clocks, strict=True):
        row = writes.applied[entry.applied_index]
        row.after = {**row.after, "clock_id": clock.pk}
    bulk_create_audited(model=AppliedAction, objs=writes.applied)  # COPY; neither has a history
    runs_write(writes.runs)
    change_entries_record(writes.feed)


def _moment(value) -> dt.datetime | None:
    """A plan's ISO time (``routing.sla.sla_plan``) as a datetime."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
