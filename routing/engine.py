"""The router: one lead in, one ``Plan`` out — match, ordered rules, target, fallback, SLA, items.

The same code decides for the live automation (``routing.kind``), for the admin's preview and
for backtests; only the ``Lookups`` differ:

- ``DbLookups(lock=True)``: live routing inside the run's transaction; a pool is picked under its
  row lock so concurrent workers serialise on it (fair counts, caps never exceeded);
- ``DbLookups(lock=False)``: preview and shadow mode, reads only;
- ``routing.backtest.SimLookups``: everything preloaded, pools simulated in memory.

Precedence is the order of the rules (lower ``priority`` first; the first rule whose conditions
hold *and* whose target can take the lead wins). A rule whose target cannot take the lead (no
matched account, owner inactive or out of office, no open opportunity) is recorded with the
reason and the next rule is tried. A pool whose members are all capped or unavailable sends the
lead to the fallback with an exception item, never silently nowhere. No rule → fallback + item.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from revops import conditions
from revops.models import Account, Lead, Opportunity, Rep

from .models import Pool, RoutingDecision, RoutingRule
from .pause import paused_item, rule_pause_sentence

if TYPE_CHECKING:
    from .matching import MatchResult

Outcome = RoutingDecision.Outcome
Target = RoutingRule.Target
INPUT_FIELDS = ("email", "first_name", "last_name", "company", "domain", "title", "country", "state", "source", "score")


@dataclass
class RoutingConfig:
    """The routing automation's settings (its versioned ``config``)."""

    fallback: dict = field(default_factory=lambda: {"type": "none"})
    fuzzy_threshold: float = 90.0
    review_unmatched: bool = False
    route_owned_leads: bool = False
    start_sla: bool = True

    @classmethod
    def from_config(cls, config: dict | None) -> RoutingConfig:
        config = config or {}
        return cls(**{k: config[k] for k in cls.__dataclass_fields__ if k in config})


@dataclass
class CompiledRule:
    rule: RoutingRule
    predicate: Any


def compile_rules(rules, fields=None) -> list[CompiledRule]:
    """Rules with their predicates, compiled once per (rule, conditions, dictionary)."""
    fields = fields if fields is not None else conditions.load_fields()
    return [
        CompiledRule(
            rule,
            conditions.compile_cached(
                ("routing rule", rule.pk), rule.conditions or {"all": []}, object_type="lead", fields=fields
            ),
        )
        for rule in rules
    ]


def load_rules(statuses=(RoutingRule.Status.LIVE, RoutingRule.Status.SHADOW)) -> list[RoutingRule]:
    return list(
        RoutingRule.objects.filter(status__in=list(statuses))
        .select_related("target_rep", "target_pool", "paused_by")
        .order_by("priority", "pk")
    )


def rep_label(rep) -> str:
    return f"{rep.name} ({rep.external_id})" if rep is not None else "nobody"


def when(moment: dt.datetime | None) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def unavailable_reason(rep: Rep, now: dt.datetime) -> str:
    """Why ``rep`` cannot take a lead now ("" when they can)."""
    if not rep.is_active:
        return f"{rep.name} is inactive in the CRM"
    if rep.out_of_office_until and rep.out_of_office_until > now:
        return f"{rep.name} is out of office until {when(rep.out_of_office_until)}"
    return ""


class DbLookups:
    """Reads from the database, cached per instance (one routing decision or one preview)."""

    def __init__(self, *, lock: bool):
        self.lock = lock
        self._reps: dict[int, Rep | None] = {}

    def rep(self, rep_id: int | None) -> Rep | None:
        if rep_id is None:
            return None
        if rep_id not in self._reps:
            self._reps[rep_id] = Rep.objects.select_related("manager", "team", "user").filter(pk=rep_id).first()
        return self._reps[rep_id]

    def rep_by_external_id(self, external_id: str) -> Rep | None:
        rep = Rep.objects.select_related("manager", "team", "user").filter(external_id=external_id).first()
        if rep is not None:
            self._reps[rep.pk] = rep
        return rep

    def account(self, account_id: int | None) -> Account | None:
        if account_id is None:
            return None
        return Account.objects.select_related("owner", "parent").filter(pk=account_id).first()

    def open_opportunity(self, account_id: int) -> dict | None:
        opp = (
            Opportunity.objects.filter(account_id=account_id, stage__in=Opportunity.OPEN_STAGES, owner__isnull=False)
            .order_by("-amount", "close_date", "pk")
            .values("pk", "external_id", "name", "owner_id")
            .first()
        )
        return opp

    def pool(self, pool_id: int | None = None, name: str | None = None, hint: Pool | None = None) -> Pool | None:
        if hint is not None and hint.pk == pool_id:
            return hint if hint.is_active else None  # loaded with the rules
        qs = Pool.objects.filter(is_active=True)
        return qs.filter(pk=pool_id).first() if pool_id is not None else qs.filter(name=name).first()

    def pick(self, pool: Pool, *, now, exclude_rep_ids=(), dry: bool = False):
        """The pool's pick; ``dry`` (shadow rules) never locks, whatever the mode."""
        from .pools import pool_pick

        # By id: the pool is read again (the rules' copy of it carries a stale rotation).
        return pool_pick(pool.pk, now=now, lock=self.lock and not dry, exclude_rep_ids=exclude_rep_ids)

    def assigned(self, pool: Pool, rep_id: int, *, now) -> None:
        """Live assignments are counted by the assign_owner action; nothing to do here."""


@dataclass
class Plan:
    """What routing decided for one lead, with everything needed to explain and apply it."""

    inputs: dict
    match: MatchResult
    account: Any = None
    rules: list[dict] = field(default_factory=list)
    rule: RoutingRule | None = None
    target_type: str = ""
    outcome: str = Outcome.UNASSIGNED
    owner: Rep | None = None
    previous_owner_id: int | None = None
    saved_account_id: int | None = None
    pool: Pool | None = None
    pick: Any = None
    queue: str = ""
    approval_owner: Rep | None = None
    items: list[dict] = field(default_factory=list)
    sla: dict | None = None
    shadow: dict | None = None
    fallback_reason: str = ""
    paused: bool = False  # the router or the matching rule is paused: fallback with a "routing paused" item
    summary: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def owner_id(self) -> int | None:
        return self.owner.pk if self.owner is not None else None

    def explanation(self) -> dict:
        """The decision record's ``explanation`` (JSON)."""
        return {
            "inputs": self.inputs,
            "match": self.match.as_dict(),
            "rules": self.rules,
            "rule": self.rule.name if self.rule is not None else None,
            "target_type": self.target_type,
            "outcome": self.outcome,
            "owner": _rep_dict(self.owner),
            "pool": self.pick.as_dict() if self.pick is not None else None,  # with its candidates
            "queue": self.queue or None,
            "approval_owner": _rep_dict(self.approval_owner),
            "fallback_reason": self.fallback_reason or None,
            "sla": self.sla,
            "shadow": self.shadow,
            "items": [{k: item[k] for k in ("kind", "title")} for item in self.items],
            "notes": self.notes,
        }

    def expected_next(self) -> str:
        if self.outcome in (Outcome.ASSIGNED, Outcome.FALLBACK) and self.owner is not None:
            if self.sla:
                return f"{self.owner.name} should make the first touch by {when(_parse(self.sla['due_at']))}."
            return f"{self.owner.name} should work the lead."
        if self.outcome == Outcome.QUEUED:
            return f"The {self.queue} queue's manager should choose an owner."
        if self.outcome == Outcome.APPROVAL:
            return "The rule owner should approve or reject the proposed owner."
        return "A manager should assign an owner by hand (see the exception item)."


def decision_row(plan: Plan, *, lead, run, mode: str, decided_at, explanation: dict) -> RoutingDecision:
    """``plan`` as an unsaved ``RoutingDecision`` (both drivers store it; latency is set by the writer)."""
    return RoutingDecision(
        lead=lead,
        run=run,
        mode=mode,
        outcome=plan.outcome,
        rule=plan.rule,
        rule_name=plan.rule.name if plan.rule is not None else "",
        target_type=plan.target_type,
        pool=plan.pool,
        owner=plan.owner if plan.outcome in ("assigned", "fallback") else plan.approval_owner,
        previous_owner_id=plan.previous_owner_id,
        match_status=plan.match.status,
        matched_account=plan.account,
        explanation=explanation,
        summary=plan.summary,
        decided_at=decided_at,
    )


def explanation_candidates(explanation: dict) -> list[dict]:
    """The pool's candidates of a decision's ``explanation``: under ``pool`` (decisions before
    2026-12-08 also kept a copy at the top, which is all some older rows have)."""
    return explanation.get("candidates") or (explanation.get("pool") or {}).get("candidates") or []


def _rep_dict(rep) -> dict | None:
    if rep is None:
        return None
    return {"id": rep.pk, "external_id": rep.external_id, "name": rep.name}


def _parse(value):
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def lead_inputs(lead: Lead) -> dict:
    """The snapshot of what routing saw."""
    data = {key: getattr(lead, key) for key in INPUT_FIELDS}
    data["status"] = lead.status
    data["owner"] = getattr(lead.owner, "external_id", None) if lead.owner_id else None
    data["attributes"] = dict(lead.attributes or {})
    data["external_id"] = lead.external_id
    return data


class Router:
    """Decides for leads with one rule set, one configuration and one set of lookups."""

    def __init__(
        self,
        *,
        rules: list[CompiledRule],
        config: RoutingConfig,
        lookups,
        index,
        explain: bool = True,
        policies=None,
        calendars=None,
        fields=None,
    ):
        self.rules = rules
        self.config = config
        self.lookups = lookups
        self.index = index
        self.explain = explain
        self.policies = policies
        self.calendars = calendars
        self.fields = fields

    # --- entry point ------------------------------------------------------------------------

    def decide(
        self, lead: Lead, *, now: dt.datetime, exclude_rep_ids=(), reason: str = "", match=None, paused: str = ""
    ) -> Plan:
        """Decide for ``lead`` at ``now`` (``match``: an account match already computed for it).

        ``paused``: the sentence saying the router is paused; no rule is tried and the lead goes to the
        fallback with a "routing paused" item. A live rule that matches while paused does the same.
        """
        exclude = set(exclude_rep_ids or ())
        if match is None:
            match = self.index.match(
                email=lead.email or "",
                domain=lead.domain or "",
                company=lead.company or "",
                fuzzy_threshold=float(self.config.fuzzy_threshold),
            )
        plan = Plan(
            inputs=lead_inputs(lead) if self.explain else {},
            match=match,
            previous_owner_id=lead.owner_id,
            saved_account_id=lead.matched_account_id,
        )
        if reason:
            plan.notes.append(reason)
        self._attach_account(lead, plan)
        ctx = conditions.Context(lead, changes={}, now=now)
        if paused:
            plan.paused, plan.fallback_reason = True, paused
        for compiled in () if paused else self.rules:
            rule = compiled.rule
            predicate = compiled.predicate
            matched = bool(predicate(ctx))
            entry = {"rule": rule.name, "priority": rule.priority, "status": rule.status, "matched": matched}
            if self.explain:
                entry["conditions_text"] = predicate.text_lines(predicate.check(ctx))
            plan.rules.append(entry)
            if not matched:
                continue
            if rule.paused_at is not None:
                if rule.status == RoutingRule.Status.SHADOW:
                    entry["note"] = "shadow rule, paused: not recorded"
                    continue
                # A paused rule's leads go to the fallback, never to a later rule they were not meant for.
                plan.rule, plan.paused, plan.fallback_reason = rule, True, rule_pause_sentence(rule)
                entry["note"] = "matched, but the rule is paused; fallback"
                break
            if rule.status == RoutingRule.Status.SHADOW:
                if plan.shadow is None:
                    plan.shadow = self._shadow(rule, plan, now=now, exclude=exclude)
                    entry["note"] = "shadow rule: recorded, not applied"
                continue
            taken, note = self._apply_target(rule, plan, now=now, exclude=exclude)
            entry["note"] = note
            if taken:
                plan.rule = rule
                break
        if plan.rule is None:
            plan.fallback_reason = plan.fallback_reason or "no routing rule matched and could take the lead"
        if plan.fallback_reason and plan.outcome not in (Outcome.ASSIGNED, Outcome.QUEUED, Outcome.APPROVAL):
            self._fallback(lead, plan, now=now, exclude=exclude)
        self._match_items(lead, plan)
        if (
            self.config.start_sla
            and self.policies is not None
            and plan.owner is not None
            and plan.outcome in (Outcome.ASSIGNED, Outcome.FALLBACK)
        ):
            from .sla import sla_plan

            plan.sla = sla_plan(
                lead, plan.owner, now=now, policies=self.policies, calendars=self.calendars, fields=self.fields
            )
        plan.summary = self._summary(lead, plan)
        return plan

    # --- pieces -----------------------------------------------------------------------------

    def _attach_account(self, lead: Lead, plan: Plan) -> None:
        match = plan.match
        if match.status == "matched" and match.account_id:
            plan.account = self.lookups.account(match.account_id)
        elif lead.matched_account_id:
            plan.account = self.lookups.account(lead.matched_account_id)
            if plan.account is not None:
                match.evidence.append(
                    f"Kept the account set earlier: {plan.account.name} ({plan.account.external_id})."
                )
        lead.matched_account = plan.account

    def _available(self, rep: Rep | None, rule: RoutingRule, *, now, exclude) -> tuple[bool, str]:
        if rep is None:
            return False, "no rep"
        if rep.pk in exclude:
            return False, f"{rep.name} is excluded (the lead is being routed away from them)"
        why = unavailable_reason(rep, now)
        if why and rule.when_unavailable == RoutingRule.WhenUnavailable.ASSIGN_ANYWAY and rep.is_active:
            return True, f"{why}; assigned anyway (the rule says so)"
        return (not why), why

    def _account_owner(self, rule: RoutingRule, plan: Plan) -> tuple[Rep | None, str]:
        if plan.account is None:
            return None, "the lead has no matched account"
        account = plan.account
        if rule.use_parent_account:
            owner_id, owning_id, evidence = self.index.named_owner(account.pk)
        else:
            owner_id, owning_id, evidence = account.owner_id, account.pk, ""
        rep = self.lookups.rep(owner_id)
        if rep is None:
            return None, f"{account.name} has no owner" + (f" ({evidence})" if evidence else "")
        via = f"; {evidence}" if evidence and owning_id != account.pk else ""
        return rep, f"{account.name}'s owner{via}"

    def _opportunity_owner(self, plan: Plan) -> tuple[Rep | None, str]:
        if plan.account is None:
            return None, "the lead has no matched account"
        opp = self.lookups.open_opportunity(plan.account.pk)
        if opp is None:
            return None, f"{plan.account.name} has no open opportunity with an owner"
        rep = self.lookups.rep(opp["owner_id"])
        return rep, f"owner of the open opportunity {opp['name']} ({opp['external_id']})"

    def _rep_for(self, kind: str, rule: RoutingRule, plan: Plan) -> tuple[Rep | None, str]:
        if kind == Target.ACCOUNT_OWNER:
            return self._account_owner(rule, plan)
        if kind == Target.OPPORTUNITY_OWNER:
            return self._opportunity_owner(plan)
        rep = self.lookups.rep(rule.target_rep_id)
        return rep, "the rep named on the rule" if rep is not None else "the rule names no rep"

    def _apply_target(self, rule: RoutingRule, plan: Plan, *, now, exclude) -> tuple[bool, str]:
        """Try ``rule``'s target; (taken, note)."""
        kind = rule.target_type
        if kind in (Target.ACCOUNT_OWNER, Target.OPPORTUNITY_OWNER, Target.REP):
            rep, how = self._rep_for(kind, rule, plan)
            ok, why = self._available(rep, rule, now=now, exclude=exclude)
            if rep is None or not ok:
                return False, f"matched, but cannot take the lead: {why if rep is not None else how}; next rule"
            plan.owner, plan.target_type, plan.outcome = rep, kind, Outcome.ASSIGNED
            return True, f"→ {rep_label(rep)}, {how}" + (f" ({why})" if why else "")
        if kind == Target.POOL:
            pool = self.lookups.pool(pool_id=rule.target_pool_id, hint=rule.target_pool)
            if pool is None:
                return False, "matched, but its pool is inactive or gone; next rule"
            pick = self._take_from_pool(plan, pool, now=now, exclude=exclude)
            plan.pool, plan.pick, plan.target_type = pool, pick, kind
            if pick.rep_id is None:
                plan.rule = rule
                plan.fallback_reason = (
                    f"every member of pool {pool.name} is capped"
                    if pick.all_capped
                    else f"no member of pool {pool.name} can take the lead"
                ) + (f" ({pick.unavailable})" if pick.unavailable else "")
                return True, f"matched, but {plan.fallback_reason}; fallback"
            plan.outcome = Outcome.ASSIGNED
            return True, f"→ pool {pool.name}: {pick.reason}"
        if kind == Target.QUEUE:
            plan.target_type, plan.outcome, plan.queue = kind, Outcome.QUEUED, rule.target_queue
            return True, f"→ manual review in the {rule.target_queue} queue"
        if kind == Target.APPROVAL:
            proposed_kind = rule.approval_owner or Target.ACCOUNT_OWNER
            rep, how = self._rep_for(proposed_kind, rule, plan)
            ok, why = self._available(rep, rule, now=now, exclude=exclude)
            if rep is None or not ok:
                return False, f"matched, but no owner to propose: {why if rep is not None else how}; next rule"
            plan.approval_owner, plan.target_type, plan.outcome = rep, kind, Outcome.APPROVAL
            return True, f"→ {rep_label(rep)} ({how}), after approval"
        return False, f"unknown target {kind!r}; next rule"

    def _take_from_pool(self, plan: Plan, pool: Pool, *, now, exclude):
        """Pick from ``pool``; when someone is chosen they become the plan's owner (and are counted)."""
        pick = self.lookups.pick(pool, now=now, exclude_rep_ids=exclude)
        if pick.rep_id is not None:
            plan.owner, plan.pool, plan.pick = self.lookups.rep(pick.rep_id), pool, pick
            self.lookups.assigned(pool, pick.rep_id, now=now)
        return pick

    def _shadow(self, rule: RoutingRule, plan: Plan, *, now, exclude) -> dict:
        """What a shadow rule would have done (nothing is picked under lock or counted)."""
        kind = rule.target_type
        would, rep = "", None
        if kind in (Target.ACCOUNT_OWNER, Target.OPPORTUNITY_OWNER, Target.REP):
            rep, how = self._rep_for(kind, rule, plan)
            would = f"{rep_label(rep)} ({how})"
        elif kind == Target.POOL:
            pool = self.lookups.pool(pool_id=rule.target_pool_id, hint=rule.target_pool)
            if pool is None:
                would = "a pool that is inactive or gone"
            else:
                pick = self.lookups.pick(pool, now=now, exclude_rep_ids=exclude, dry=True)
                rep = self.lookups.rep(pick.rep_id)
                would = f"pool {pool.name} → {rep_label(rep)}"
        elif kind == Target.QUEUE:
            would = f"manual review in {rule.target_queue}"
        else:
            would = "an approval"
        # rule_id, target_type and owner feed the shadow report (would vs did); older records lack them.
        return {
            "rule": rule.name,
            "rule_id": rule.pk,
            "target_type": kind,
            "queue": rule.target_queue if kind == Target.QUEUE else None,
            "owner": _rep_dict(rep),
            "would_route_to": would,
        }

    def _fallback(self, lead: Lead, plan: Plan, *, now, exclude) -> None:
        spec = self.config.fallback or {"type": "none"}
        kind = spec.get("type", "none")
        capped = plan.pick is not None and plan.pick.rep_id is None
        failed_pick = plan.pick if capped else None
        how = ""
        if kind == "pool":
            pool = self.lookups.pool(name=spec.get("pool"))
            if pool is not None:
                pick = self._take_from_pool(plan, pool, now=now, exclude=exclude)
                if pick.rep_id is not None:
                    how = f"fallback pool {pool.name}: {pick.reason}"
                else:
                    how = f"the fallback pool {pool.name} is capped or unavailable too"
                    if failed_pick is None:
                        plan.pick, plan.pool = pick, pool
            else:
                how = f"the fallback pool {spec.get('pool')!r} is inactive or missing"
        elif kind == "rep":
            rep = self.lookups.rep_by_external_id(spec.get("rep") or "")
            if rep is not None and not unavailable_reason(rep, now) and rep.pk not in exclude:
                plan.owner, how = rep, f"fallback rep {rep_label(rep)}"
            else:
                how = f"the fallback rep {spec.get('rep')} cannot take the lead"
        elif kind == "queue":
            plan.queue, plan.outcome = spec.get("queue", ""), Outcome.QUEUED
            how = f"fallback: manual review in the {plan.queue} queue"
        else:
            how = "no fallback is configured"
        if plan.owner is not None and plan.outcome not in (Outcome.QUEUED,):
            plan.outcome = Outcome.FALLBACK
        elif plan.outcome != Outcome.QUEUED:
            plan.outcome = Outcome.UNASSIGNED
        if failed_pick is not None and plan.pick is not failed_pick:
            plan.notes.append(f"{failed_pick.pool_name}: {failed_pick.reason}")
            plan.notes.extend(f"  {c.name}: {c.reason}" for c in failed_pick.candidates if c.status == "skipped")
        plan.notes.append(f"Fallback: {how}.")
        if plan.outcome == Outcome.QUEUED:
            return  # the review item in the queue says why
        assigned = plan.owner is not None
        if plan.paused:
            plan.items.append(paused_item(lead, plan, how=how))
            return
        kind_name = "no_routing_match"
        title = (
            (
                f"Every member of {failed_pick.pool_name} was capped: {lead}"
                if failed_pick.all_capped
                else f"No member of {failed_pick.pool_name} could take {lead}"
            )
            if capped
            else f"No routing rule matched {lead}"
        )
        where = f"it went to {plan.owner.name} through the fallback" if assigned else "it has NO owner"
        plan.items.append(
            {
                "kind": kind_name,
                "title": title[:200],
                "reason": f"{plan.fallback_reason[0].upper()}{plan.fallback_reason[1:]} for {lead}; {where} ({how}).",
                "expected_action": "Check the owner is right (reassign in the CRM if not) and fix the rules, pool "
                "caps or lead data so leads like this route by rule.",
                "severity": "medium" if assigned else "high",
                "dedupe_key": f"routing:no_match:lead:{lead.pk}",
                "owner": "rule_owner",
            }
        )

    def _match_items(self, lead: Lead, plan: Plan) -> None:
        match = plan.match
        needs_review = match.status == "ambiguous" or (
            match.status == "none"
            and plan.account is None
            and self.config.review_unmatched
            and bool(lead.company)
            and _business_domain(lead)
        )
        if not needs_review:
            return
        what = "matches several accounts" if match.status == "ambiguous" else "matches no account"
        names = ", ".join(f"{c['name']} ({c['external_id']})" for c in match.candidates[:5])
        plan.items.append(
            {
                "kind": "account_match",
                "title": f"{lead}: {what}"[:200],
                "reason": f"{lead} {what}. " + " ".join(match.evidence) + (f" Candidates: {names}." if names else ""),
                "expected_action": "Link the lead to the right account (or create the account in the CRM); "
                "routing follows the account owner.",
                "severity": "medium",
                "dedupe_key": f"routing:account_match:lead:{lead.pk}",
                "owner": "rule_owner",
            }
        )

    def _summary(self, lead: Lead, plan: Plan) -> str:
        rule = f"rule {plan.rule.name!r}" if plan.rule is not None else "no rule"
        if plan.outcome == Outcome.ASSIGNED:
            text = f"{lead} → {rep_label(plan.owner)} by {rule}."
        elif plan.outcome == Outcome.FALLBACK:
            text = f"{lead} → {rep_label(plan.owner)} by the fallback ({plan.fallback_reason})."
        elif plan.outcome == Outcome.QUEUED:
            text = f"{lead} → manual review in {plan.queue} by {rule}."
        elif plan.outcome == Outcome.APPROVAL:
            text = f"{lead} → {rep_label(plan.approval_owner)} after approval, by {rule}."
        else:
            text = f"{lead} could not be routed ({plan.fallback_reason}); an exception item asks for an owner."
        if plan.sla:
            text += f" {plan.sla.get('text', '')}"
        return text.strip()


def _business_domain(lead: Lead) -> bool:
    from revops.names import email_domain, is_free_mail

    domain = email_domain(lead.email or "") or (lead.domain or "")
    return bool(domain) and not is_free_mail(domain)
