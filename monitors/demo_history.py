"""The demo's past weeks of pipeline movement, synced through the real sync service at the times they happened.

The demo org is created as it stands today, so the portal would know no history: no close date ever
pushed, no amount ever changed, every deal "in its stage since today". This builder plays the CRM's
past changes of some deals committed to the forecast, each batch through ``revops.sync.sync_batch_apply``
(what ``POST /api/v1/sync/opportunities/`` calls) with the CRM's ``source_updated_at`` of the moment
it happened, and hands its outbox events to the consumer, so the monitors' event hook records the
movements as it does in production (``monitors.services.deal_movements_record``).

Two phases around last week's forecast snapshot (``monitors_demo_snapshot_build``, order 55), so the
snapshot holds what the deals looked like a week ago:

- before it (order 54, changes up to 8 days ago): close dates pushed twice; deals moved on to
  Negotiation weeks ago and stalled there;
- after it (order 56, changes in the last six days): amounts cut or raised by a quarter since the
  snapshot, one more push, and best-case deals moved to Commit (some without their evidence).

The CRM's morning sync (order 60) then brings today's changes. Deals are picked by external id with
the demo's seed, so the same seed plays the same history. A change is only ever dated after the
deal's last CRM update (the sync refuses older updates as stale).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

from django.utils import timezone

from revops.demo_records.tables import REGION_COUNTRIES
from revops.models import Opportunity
from revops.outbox import outbox_process_batch
from revops.sync import sync_batch_apply

# Per region: how many commit deals get each story (the NA manager's queue shows every kind).
PUSHED = {"NA": 3, "EMEA": 2, "APAC": 1}
STALLED = {"NA": 2, "EMEA": 1, "APAC": 1}
AMOUNT_CHANGED = {"NA": 2, "EMEA": 1, "APAC": 1}
MOVED_TO_COMMIT = {"NA": 2, "EMEA": 1, "APAC": 0}
LAST_WEEK = dt.timedelta(days=8)


def _open(category: str):
    return (
        Opportunity.objects.filter(
            external_id__startswith="OPP-", stage__in=Opportunity.OPEN_STAGES, forecast_category=category
        )
        .select_related("account")
        .order_by("external_id")
    )


def _region_of(deal: Opportunity) -> str | None:
    country = deal.account.country if deal.account_id else ""
    return next((region for region, codes in REGION_COUNTRIES.items() if country in codes), None)


def _pick(deals, per_region: dict[str, int], *, used: set[int], rng: random.Random) -> list[Opportunity]:
    by_region: dict[str, list[Opportunity]] = defaultdict(list)
    for deal in deals:
        region = _region_of(deal)
        if region in per_region and deal.pk not in used:
            by_region[region].append(deal)
    picked = []
    for region, count in per_region.items():
        candidates = by_region[region]
        for deal in rng.sample(candidates, min(count, len(candidates))):
            used.add(deal.pk)
            picked.append(deal)
    return picked


def _at(deal: Opportunity, earliest: dt.datetime, latest: dt.datetime, rng: random.Random) -> dt.datetime | None:
    """A moment after the deal's last CRM update, between ``earliest`` and ``latest``; None if none is left."""
    start = max(earliest, (deal.source_updated_at or earliest) + dt.timedelta(hours=1))
    if start >= latest:
        return None
    return start + (latest - start) * rng.uniform(0.1, 0.6)


def _sync(records: list[dict], *, actor) -> int:
    """Apply one batch per moment, oldest first, each processed by the outbox consumer; the records applied."""
    applied = 0
    for _stamp, batch in sorted(_by_stamp(records).items()):
        outcome = sync_batch_apply(object_name="opportunities", records=batch, actor=actor)
        applied += sum(1 for result in outcome.results if result["status"] in ("created", "updated"))
        if outcome.batch is not None:
            outbox_process_batch(batch_id=outcome.batch.pk)
    return applied


def _by_stamp(records: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        grouped[record["source_updated_at"]].append(record)
    return grouped


def history_before_snapshot(*, now: dt.datetime, seed: int, actor) -> dict[str, int]:
    """The weeks before last week's snapshot: two close-date pushes; moves to Negotiation that then stalled."""
    rng = random.Random(f"{seed}:monitors-history:before")
    today, cutoff = timezone.localdate(now), now - LAST_WEEK
    used: set[int] = set()
    records: list[dict] = []
    counts = {"pushed": 0, "stalled": 0}
    commit = list(_open("commit"))
    room = [d for d in commit if d.source_updated_at and d.source_updated_at <= now - dt.timedelta(days=16)]
    for deal in _pick(room, PUSHED, used=used, rng=rng):
        first = _at(deal, now - dt.timedelta(days=60), cutoff - dt.timedelta(days=4), rng)
        if first is None:
            continue
        second = first + (cutoff - first) * rng.uniform(0.4, 0.9)
        close = max(deal.close_date or today, today - dt.timedelta(days=10))
        pushes = deal.close_date_pushes
        for moment in (first, second):
            close += dt.timedelta(days=rng.choice([14, 21, 28]))
            pushes += 1
            records.append(
                {
                    "external_id": deal.external_id,
                    "source_updated_at": moment.isoformat(),
                    "close_date": close.isoformat(),
                    "close_date_pushes": pushes,
                }
            )
        counts["pushed"] += 1
    proposal = [d for d in commit if d.stage == "proposal" and d.source_updated_at <= now - dt.timedelta(days=26)]
    for deal in _pick(proposal, STALLED, used=used, rng=rng):
        moment = _at(deal, now - dt.timedelta(days=45), now - dt.timedelta(days=25), rng)
        if moment is None:
            continue
        records.append(
            {"external_id": deal.external_id, "source_updated_at": moment.isoformat(), "stage": "negotiation"}
        )
        counts["stalled"] += 1
    counts["changes"] = _sync(records, actor=actor)
    return counts


def history_after_snapshot(*, now: dt.datetime, seed: int, actor) -> dict[str, int]:
    """The last six days: amounts changed by a quarter, best-case deals moved to Commit, one more push."""
    rng = random.Random(f"{seed}:monitors-history:after")
    earliest, latest = now - dt.timedelta(days=6), now - dt.timedelta(hours=2)
    used: set[int] = set()
    records: list[dict] = []
    counts = {"amount_changed": 0, "moved_to_commit": 0}
    commit = [d for d in _open("commit") if d.amount]
    for deal in _pick(commit, AMOUNT_CHANGED, used=used, rng=rng):
        moment = _at(deal, earliest, latest, rng)
        if moment is None:
            continue
        factor = rng.choice([0.7, 0.75, 1.3])
        amount = int(round(float(deal.amount) * factor, -2))
        records.append({"external_id": deal.external_id, "source_updated_at": moment.isoformat(), "amount": amount})
        counts["amount_changed"] += 1
    # Best-case deals without an executive sponsor first: committing them is what the evidence policy asks about.
    best_case = sorted(_open("best_case"), key=lambda d: bool((d.attributes or {}).get("executive_sponsor")))
    unsponsored = [d for d in best_case if not (d.attributes or {}).get("executive_sponsor")]
    for deal in _pick(unsponsored or best_case, MOVED_TO_COMMIT, used=used, rng=rng):
        moment = _at(deal, earliest, latest, rng)
        if moment is None:
            continue
        records.append(
            {"external_id": deal.external_id, "source_updated_at": moment.isoformat(), "forecast_category": "commit"}
        )
        counts["moved_to_commit"] += 1
    counts["changes"] = _sync(records, actor=actor)
    return counts


def monitors_demo_history_before_build(context: dict) -> None:
    """Demo builder (order 54, fresh org only): the pipeline's movement before last week's snapshot."""
    if context.get("fresh"):
        counts = history_before_snapshot(now=context["now"], seed=context["seed"], actor=context["actor"])
        context["details"]["pipeline history:changes synced"] = counts["changes"]


def monitors_demo_history_after_build(context: dict) -> None:
    """Demo builder (order 56, fresh org only): the pipeline's movement since last week's snapshot."""
    if context.get("fresh"):
        counts = history_after_snapshot(now=context["now"], seed=context["seed"], actor=context["actor"])
        context["details"]["pipeline history:changes synced"] = (
            context["details"].get("pipeline history:changes synced", 0) + counts["changes"]
        )
