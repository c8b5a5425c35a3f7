"""The hygiene scan: every live or shadow hygiene policy over every open deal, in chunks, with one item per
deal for the rep's manager.

``hygiene_scan(now=…)`` reads ``CHUNK`` open deals at a time with their ``deal_signals`` (two queries),
runs each policy in memory, and compares with what is stored before writing anything:

- ``HygieneFinding`` rows: created when a policy starts firing, rewritten when its sentence or values
  change, resolved (with what fixed it) when it stops, when the deal closes or when the policy stops
  running. A rescan that finds the same things writes nothing.
- one ``forecast_hygiene`` exception item per deal with **live** findings (shadow ones are recorded
  only), in the queue of the owner's team for that team's manager, listing every policy the deal
  breaks with its values, due an hour before the team's next forecast call. Opened or refreshed in
  bulk, and only when its text changed; resolved with a note naming what the CRM fixed when the
  deal's live findings are all gone. A person's dismissal (or resolution) holds until a policy finds
  something new on the deal.
- scarcity (docs/monitors.md "Scarcity"): a policy a person suppressed for a deal
  (``exceptions.Suppression``, until a date or until the deal changes) is still recorded as a finding
  but left off the item (named under "left out"); an item with nothing else left closes itself
  (``suppressed``). A per-owner rate limit on new hygiene items (``exceptions.RateLimit``) opens the
  biggest deals first (amount, then how many policies) and holds the rest back, counted per manager
  (``RateLimitHold``); they are offered again on every scan and open when there is room.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict

from django.db import transaction
from django.utils import timezone

from exceptions.bulk import ItemSpec
from exceptions.gap_items import ItemPlacement
from exceptions.models import ExceptionItem
from exceptions.rate_limits import rate_limit_for
from exceptions.registry import register_suppression_topics
from exceptions.services import OPEN, exception_item_resolve
from exceptions.suppressions import suppressions_in_force
from revops.audit import system_user
from revops.engine.pause import pause_all_state
from revops.models import Automation, Opportunity

from . import words
from .calls import CallBook
from .findings import (
    findings_write,
    item_candidates,
    item_policies,
    item_text_unchanged,
    items_close_gone,
    items_open,
    items_open_waiting,
    suppressed_text,
)
from .models import HygieneFinding
from .policies import CATEGORIES, POLICIES, STAGES, policy_check
from .scopes import policy_scopes
from .selectors import deal_signals, evidence_labels, hygiene_policies

logger = logging.getLogger(__name__)

ITEM_KIND = "forecast_hygiene"
CHUNK = 2000
EXPECTED = (
    "Before the forecast call: inspect the timing evidence with the rep, then confirm the deal, move it out of "
    "commit (or change its category) in the CRM, or dismiss this item with a reason. It closes by itself when "
    "the CRM fixes the data."
)
LIVE = Automation.Mode.LIVE


def item_key(opportunity_id: int) -> str:
    return f"{ITEM_KIND}:opportunity:{opportunity_id}"


def scan_actor():
    return system_user("monitors:hygiene", first_name="Forecast hygiene scan")


def _item_text(deal, lines: list[tuple[str, str]], *, call, today, left_out: list[str] = ()) -> dict:
    owner = deal.owner.name if deal.owner_id else "no owner"
    amount = f", {words.money(deal.amount)}" if deal.amount is not None else ""
    closing = f", closing {words.day(deal.close_date, today)}" if deal.close_date else ""
    n = len(lines)
    reason = (
        f"{deal} ({deal.external_id}; owner {owner}; {STAGES.get(deal.stage, deal.stage)}, "
        f"{CATEGORIES.get(deal.forecast_category, deal.forecast_category)}{amount}{closing}) breaks "
        f"{'one hygiene policy' if n == 1 else f'{n} hygiene policies'}:\n"
        + "\n".join(f"• {name}: {text}" for name, text in lines)
    )
    if left_out:
        reason += "\nLeft out (suppressed for this deal):\n" + "\n".join(f"• {text}" for text in sorted(left_out))
    when = (
        f" Due an hour before the forecast call ({call.get_weekday_display()} {call.time:%H:%M} {call.time_zone})."
        if call is not None
        else " The team has no forecast call set, so it is due in two days."
    )
    return {
        "title": f"{str(deal)[:140]}: {n} forecast hygiene issue{'s' if n != 1 else ''}",
        "reason": reason,
        "expected_action": EXPECTED + when,
    }


class _Scan:
    def __init__(self, *, now: dt.datetime, actor, reason: str):
        self.now, self.actor, self.reason = now, actor, reason
        self.today = timezone.localdate(now)
        self.policies = hygiene_policies()
        self.scopes = policy_scopes(self.policies, now, object_type="opportunity")
        self.labels = evidence_labels()
        self.placement, self.calls = ItemPlacement(), CallBook()
        self.counts: Counter = Counter()
        self.first_seen: dict[int, dt.datetime] = {}
        self.left_out: dict[int, list[str]] = {}  # by deal: its suppressed live policies, in words
        self.limit = rate_limit_for(ITEM_KIND)
        self.waiting: list[tuple] = []  # (spec, due, importance) of new items, when a rate limit applies

    # --- findings ---------------------------------------------------------------------------------

    def findings(self, deals: list) -> tuple[dict, dict]:
        """Bring the chunk's findings up to date; return (live findings by deal, fixed texts by deal)."""
        ids = [deal.pk for deal in deals]
        signals = deal_signals(deals=deals, now=self.now)
        covered: dict[int, set[int] | None] = {}  # by id() of the scope: policies with the same conditions share one
        for scope in self.scopes.values():
            if id(scope) not in covered:
                covered[id(scope)] = scope.ids(deals)
        scopes = {pk: covered[id(scope)] for pk, scope in self.scopes.items()}
        existing = {
            (f.opportunity_id, f.automation_id): f
            for f in HygieneFinding.objects.filter(opportunity_id__in=ids, resolved_at__isnull=True)
        }
        fired, passing = {}, {}
        for deal in deals:
            s = signals.get(deal.pk)
            if s is None:
                continue
            for automation in self.policies:
                scope = scopes[automation.pk]
                if scope is not None and deal.pk not in scope:
                    continue
                check = policy_check(automation.config, deal, s, today=self.today, labels=self.labels)
                (fired if check.fired else passing)[deal.pk, automation.pk] = (automation, check)
        written = findings_write(
            model=HygieneFinding,
            subject="opportunity",
            existing=existing,
            fired=fired,
            passing=passing,
            running=set(self.scopes),
            policies=POLICIES,
            now=self.now,
            noun="deal",
        )
        fixed = written.fixed
        self.counts.update(written.counts())
        live: dict[int, list] = defaultdict(list)
        self.first_seen = {}
        in_force = suppressions_in_force(
            object_type="opportunity", records={deal.pk: deal for deal in deals}, now=self.now, kind=ITEM_KIND
        )
        suppressed = {(pk, row.automation_id): row for pk, rows in in_force.items() for row in rows}
        self.left_out = defaultdict(list)
        for (deal_pk, automation_pk), (automation, check) in fired.items():
            if automation.mode != LIVE:
                continue
            if (deal_pk, automation_pk) in suppressed:
                self.left_out[deal_pk].append(suppressed_text(suppressed[deal_pk, automation_pk]))
                self.counts["findings_suppressed"] += 1
                continue
            live[deal_pk].append((automation.name, check.text))
            old = existing.get((deal_pk, automation_pk))
            first = old.first_seen_at if old is not None else self.now
            self.first_seen[deal_pk] = max(self.first_seen.get(deal_pk, first), first)
        return live, fixed

    # --- items ------------------------------------------------------------------------------------

    def items(self, deals: list, live: dict, fixed: dict) -> None:
        candidates = item_candidates(deals, live, key_of=item_key, first_seen=self.first_seen, actor=self.actor)
        specs, dues = [], {}
        for deal, key, old in candidates.todo:
            team_id = deal.owner.team_id if deal.owner_id else None
            due, call = self.calls.due(team_id, now=self.now)
            text = _item_text(
                deal, sorted(live[deal.pk]), call=call, today=self.today, left_out=self.left_out.get(deal.pk, [])
            )
            if item_text_unchanged(old, text):
                continue
            queue, manager_id = self.placement.place(team_id)
            spec = ItemSpec(
                dedupe_key=key,
                kind=ITEM_KIND,
                queue=queue,
                owner_id=manager_id,
                object_type="opportunity",
                object_id=deal.pk,
                external_id=deal.external_id,
                **text,
            )
            if old is None and self.limit is not None:
                # A new item under a rate limit waits for the end of the scan: the biggest deals go first.
                importance = (-(deal.amount or 0), -len(live[deal.pk]), deal.pk)
                self.waiting.append((spec, due, importance))
                continue
            specs.append(spec)
            if old is None:
                dues[key] = due
        self.open(specs, dues)
        self.counts["items_resolved"] += items_close_gone(
            candidates,
            live,
            fixed=fixed,
            left_out=self.left_out,
            nothing_left="no live hygiene policy flags the deal any more",
            actor=self.actor,
        )

    def open(self, specs: list[ItemSpec], dues: dict) -> None:
        """Open or refresh ``specs`` in bulk; new ones (in ``dues``) get their due time before the call."""
        self.counts.update(
            items_open(
                specs,
                dues,
                actor=self.actor,
                reason=self.reason,
                now=self.now,
                due_reason="due before the forecast call",
            )
        )

    def open_waiting(self, *, record_holds: bool) -> None:
        """Under a rate limit: open the waiting new items that fit each manager's room, biggest deals first;
        count the rest as held back (``record_holds``: this pass saw every deal, so its counts replace the
        stored ones)."""
        self.counts.update(
            items_open_waiting(
                kind=ITEM_KIND,
                waiting=self.waiting,
                actor=self.actor,
                reason=self.reason,
                now=self.now,
                due_reason="due before the forecast call",
                chunk=CHUNK,
                record_holds=record_holds,
            )
        )
        self.waiting = []

    def resolve(self, item: ExceptionItem, note: str, *, code: str = "fixed_in_crm") -> None:
        exception_item_resolve(item=item, reason_code=code, note=note[:1000], actor=self.actor)
        self.counts["items_resolved"] += 1

    def closed_deals(self) -> None:
        """Findings and items of deals that closed since: resolved, saying so."""
        stale = list(
            HygieneFinding.objects.filter(resolved_at__isnull=True)
            .exclude(opportunity__stage__in=Opportunity.OPEN_STAGES)
            .select_related("opportunity")
        )
        for finding in stale:
            finding.resolved_at = self.now
            finding.resolution = f"the deal closed ({STAGES.get(finding.opportunity.stage, finding.opportunity.stage)})"
        HygieneFinding.objects.bulk_update(stale, ["resolved_at", "resolution"])
        self.counts["findings_resolved"] += len(stale)
        deals = {f.opportunity_id: f.opportunity for f in stale}
        for item in ExceptionItem.objects.filter(
            dedupe_key__in=[item_key(pk) for pk in deals], status__in=OPEN
        ).order_by("pk"):
            deal = deals[item.object_id]
            self.resolve(
                item, f"The deal closed ({STAGES.get(deal.stage, deal.stage)}); forecast hygiene no longer applies."
            )


def hygiene_scan(*, now: dt.datetime | None = None, actor=None, reason: str = "hygiene scan") -> dict[str, int]:
    """Run every live and shadow hygiene policy over every open deal (see the module docstring).

    Each chunk of ``CHUNK`` deals is its own transaction. Returns counts: deals, findings created,
    changed, resolved and suppressed (live findings left off their item), items created, refreshed and
    resolved, and items held back by the per-manager rate limit (``items_held``)."""
    if pause_all_state() is not None:
        return {"skipped_all_paused": 1}  # every automation is paused: findings and items stay as they are
    now = now or timezone.now()
    scan = _Scan(now=now, actor=actor or scan_actor(), reason=reason[:100])
    deals_qs = Opportunity.objects.filter(stage__in=Opportunity.OPEN_STAGES).select_related("owner").order_by("pk")
    last = 0
    while True:
        deals = list(deals_qs.filter(pk__gt=last)[:CHUNK])
        if not deals:
            break
        last = deals[-1].pk
        scan.counts["deals"] += len(deals)
        with transaction.atomic():
            live, fixed = scan.findings(deals)
            scan.items(deals, live, fixed)
    scan.open_waiting(record_holds=True)
    with transaction.atomic():
        scan.closed_deals()
    return dict(scan.counts)


def hygiene_scan_deals(
    deal_ids: list[int], *, now: dt.datetime | None = None, actor=None, reason: str = "hygiene rescan"
) -> dict[str, int]:
    """The scan for a few open deals only (e.g. right after a person suppressed a policy on one): their
    findings and items brought up to date now, in the caller's transaction. Held-back counts are left
    as the last full scan stored them."""
    now = now or timezone.now()
    scan = _Scan(now=now, actor=actor or scan_actor(), reason=reason[:100])
    deals = list(
        Opportunity.objects.filter(pk__in=deal_ids, stage__in=Opportunity.OPEN_STAGES)
        .select_related("owner")
        .order_by("pk")
    )
    if deals:
        with transaction.atomic():
            live, fixed = scan.findings(deals)
            scan.items(deals, live, fixed)
        scan.open_waiting(record_holds=False)
    scan.counts["deals"] = len(deals)
    return dict(scan.counts)


# --- suppression from the deal's item (exceptions.registry.register_suppression_topics) -----------


def hygiene_item_policies(item: ExceptionItem) -> list[tuple[int, str]]:
    """The live policies the deal's item lists now (its live findings not suppressed), by name."""
    return item_policies(item, model=HygieneFinding, subject="opportunity")


def hygiene_after_suppress(item: ExceptionItem, actor) -> None:
    """Right after a person suppressed policies on a deal's item: rescan the deal, so the item drops them
    (or closes, "suppressed", when nothing is left)."""
    who = actor.get_username() if actor is not None else "someone"
    hygiene_scan_deals([item.object_id], reason=f"policies suppressed by {who}")


# Registered on import: MonitorsConfig.ready() imports this module.
register_suppression_topics(ITEM_KIND, hygiene_item_policies, after=hygiene_after_suppress)
