"""Automatic merges: a lead rule marked "merge without approval" merges the simple sets it finds.

A set is simple when it is open, holds exactly two leads that still exist, neither converted nor
matched to a named/strategic account, and no merge of it was ever proposed (a person who rejected or
undid one has decided). Such a set is merged by the rule's system login with the usual survivorship
(``merges.merge_apply``: history, changes feed, undo). A set of such a rule that is not simple goes to
a person as an ordinary merge proposal, its note saying why it was not merged automatically — so
strategic accounts always need approval.

Sets are handed over after commit by ``duplicate_pairs_record`` (ingest and the scan), and a finished
scan hands over every open set of an auto-merge rule, so a merge missed while Redis was down happens
at the next scan.
"""

from __future__ import annotations

import logging

import django_rq
from django.core.exceptions import ValidationError
from django.db import transaction

from revops.audit import system_user
from revops.models import Lead

from .merges import merge_apply, merge_propose
from .models import DuplicateMember, DuplicateRule, DuplicateSet, Merge

logger = logging.getLogger(__name__)

JOB = "dataquality.jobs.dataquality_auto_merge"
AUTO_USER = "duplicate-auto-merge"
OBJECT_TYPE = "lead"


def auto_merge_rule_ids() -> set[int]:
    """The active lead rules that merge without approval."""
    return set(
        DuplicateRule.objects.filter(object_type=OBJECT_TYPE, auto_merge=True, is_active=True).values_list(
            "pk", flat=True
        )
    )


def auto_merge_enqueue(set_ids: list[int] | None) -> bool:
    """Queue the automatic merge of ``set_ids`` (None: every open set of an auto-merge rule) on the low
    lane; False (logged) when Redis is down — the next scan hands the sets over again."""
    try:
        django_rq.get_queue("low", commit_mode="auto").enqueue(JOB, set_ids)
    except Exception:
        logger.exception("could not enqueue the automatic merges; the next duplicate scan will")
        return False
    return True


def auto_merge_later(set_ids) -> None:
    """After commit, queue the automatic merge of those of ``set_ids`` whose rule merges without approval
    (one query, and none when no set changed: this runs in every ingest that finds duplicates)."""
    if not set_ids:
        return
    wanted = sorted(
        DuplicateSet.objects.filter(
            pk__in=list(set_ids), rule__auto_merge=True, rule__is_active=True, status=DuplicateSet.Status.OPEN
        ).values_list("pk", flat=True)
    )
    if wanted:
        transaction.on_commit(lambda: auto_merge_enqueue(wanted))


def _blocker(leads: list[Lead], member_count: int) -> str:
    """Why a person must decide this set (empty: it is simple)."""
    if member_count != 2:
        return f"the set holds {member_count} leads (only a pair is merged automatically)"
    if len(leads) != 2:
        return "one of its leads no longer exists"
    for lead in leads:
        if lead.status == Lead.Status.CONVERTED:
            return f"{lead} ({lead.external_id}) is converted"
        if lead.matched_account_id and lead.matched_account.is_named:
            return f"{lead} ({lead.external_id}) belongs to the named/strategic account {lead.matched_account.name}"
    return ""


def duplicate_sets_auto_merge(*, set_ids: list[int] | None = None) -> dict[str, int]:
    """Merge the simple sets among ``set_ids`` (None: every open set of an auto-merge rule) and propose
    the others to a person; each set in its own transaction. Returns counts."""
    counts = {"merged": 0, "proposed": 0, "skipped": 0}
    rules = auto_merge_rule_ids()
    if not rules:
        return counts
    sets = DuplicateSet.objects.filter(rule_id__in=rules, status=DuplicateSet.Status.OPEN, object_type=OBJECT_TYPE)
    if set_ids is not None:
        sets = sets.filter(pk__in=list(set_ids))
    for set_id in sets.order_by("pk").values_list("pk", flat=True):
        try:
            counts[_one(set_id)] += 1
        except ValidationError as exc:  # the set changed under us (a person acted): leave it to them
            logger.info("duplicate set %s not merged automatically: %s", set_id, "; ".join(exc.messages))
            counts["skipped"] += 1
    return counts


@transaction.atomic
def _one(set_id: int) -> str:
    dup_set = DuplicateSet.objects.select_for_update().select_related("rule").get(pk=set_id)
    if dup_set.status != DuplicateSet.Status.OPEN or Merge.objects.filter(duplicate_set=dup_set).exists():
        return "skipped"
    ids = list(DuplicateMember.objects.filter(set=dup_set).values_list("object_id", flat=True))
    leads = list(Lead.objects.filter(pk__in=ids).select_related("matched_account").order_by("pk"))
    actor = system_user(AUTO_USER, first_name="Automatic merges")
    blocker = _blocker(leads, len(ids))
    if blocker:
        note = f"Not merged automatically by the rule {dup_set.rule.name}: {blocker}."
        merge_propose(dup_set=dup_set, actor=actor, note=note)
        return "proposed"
    (merge,) = merge_propose(dup_set=dup_set, actor=actor, automatic=True)
    merge_apply(merge=merge, actor=actor, note=f"Merged automatically by the rule {dup_set.rule.name}.")
    return "merged"
