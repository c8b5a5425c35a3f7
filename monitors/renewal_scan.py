"""The renewal scan: every live or shadow ``renewal_monitor`` policy over the customer accounts, in chunks.

``renewal_scan(now=…, account_ids=None)`` reads ``CHUNK`` accounts at a time (customers, plus any
account that still has an open finding or save-plan spell), runs each policy in memory against the
portal's recorded history (``History``: one query per field and point in time per chunk) and compares
with what is stored before writing anything. Per chunk, in one transaction:

- **risks** (``RenewalFinding``): created when a risk policy starts firing, rewritten when its sentence
  changes, resolved with what fixed it. One ``renewal_risk`` item per account with live risks, in the
  queue of the owner's team for that team's manager (``ItemPlacement``), listing every risk with the
  expected action, due two weeks before the renewal (at least two days, at most two weeks from the
  scan), opened or refreshed in bulk and only when its text changed, resolved with a note when the
  data is fixed. A person's dismissal holds until a risk is found anew.
- **tasks** (``RenewalTask``): the renewal task once per account and renewal (an open task follows a
  corrected date; a date more than ``SAME_RENEWAL_DAYS`` later is the next renewal), the save plan once
  per red spell. Each task is saved through the record service (history, outbox) and reported to the
  CRM as ``task_created`` on the changes feed, recorded last.
- **notices**: one e-mail per account and renewal to the finance notice's recipient, recorded as a
  ``Notification`` row (reason ``renewal_finance_notice``) in the transaction and sent after commit.

Only ``live`` policies raise items, create tasks or send notices; ``shadow`` risk findings are recorded.

Scarcity (docs/monitors.md "Scarcity"), as in the hygiene scan: a risk a person suppressed for an account
(``exceptions.Suppression`` of kind ``renewal_risk``, until a date or until the account changes) is still
recorded as a finding but left off the item (named under "Left out"); an item with nothing else left
closes itself (``suppressed``). A per-owner rate limit on new renewal-risk items (``exceptions.RateLimit``)
opens the biggest accounts first (ARR) and holds the rest back, counted per manager (``RateLimitHold``);
they are offered again on every scan. Suppressions do not apply to tasks and notices (they are not items).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from exceptions.bulk import ItemSpec
from exceptions.gap_items import ItemPlacement
from exceptions.models import ExceptionItem, Notification
from exceptions.notifications import TRIAGE_PATH, base_url, notification_send
from exceptions.rate_limits import rate_limit_for
from exceptions.registry import register_suppression_topics
from exceptions.services import OPEN
from exceptions.suppressions import suppressions_in_force
from revops.audit import system_user
from revops.engine.pause import pause_all_state
from revops.feed import change_entries_record
from revops.models import Account, Automation, ChangeEntry, Task
from revops.services import record_save
from revops.values import loose_date

from . import words
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
from .models import RenewalFinding, RenewalTask
from .renewal_policies import NOTICE, POLICIES, RISK, TASK, Facts, policy_check, renewal_window
from .renewal_selectors import (
    CUSTOMER,
    History,
    Segments,
    account_fields,
    as_number,
    field_value,
    renewal_automations,
)
from .scopes import policy_scopes

logger = logging.getLogger(__name__)

ITEM_KIND = "renewal_risk"
NOTICE_REASON = "renewal_finance_notice"
NOTICE_TEMPLATE = "monitors/email/renewal_finance_notice"
CHUNK = 2000
SAME_RENEWAL_DAYS = 90  # a renewal date moved by less is a correction of the same renewal
DUE_BEFORE_RENEWAL = dt.timedelta(days=14)
DUE_AT_LEAST, DUE_AT_MOST, DUE_WITHOUT_DATE = dt.timedelta(days=2), dt.timedelta(days=14), dt.timedelta(days=7)
LIVE = Automation.Mode.LIVE
EXPECTED = (
    "Before the renewal, with the account owner: work through each risk below, then record the plan in "
    "the CRM. This item closes by itself when the data is fixed (health back above the threshold, usage "
    "recovered, sponsor filled again); otherwise resolve it, or dismiss it with a reason."
)


def item_key(account_id: int) -> str:
    return f"{ITEM_KIND}:account:{account_id}"


def notice_key(account_id: int, renews: dt.date) -> str:
    return f"{NOTICE_REASON}:account:{account_id}:{renews.isoformat()}"


def scan_actor():
    return system_user("monitors:renewal", first_name="Renewal monitor scan")


def notice_recipient(address: str):
    """The login that receives notices for ``address``: an active user with that e-mail, else an inactive
    mailbox login standing for it (a finance alias is nobody's login), created once."""
    user_model = get_user_model()
    user = user_model.objects.filter(email__iexact=address, is_active=True).order_by("pk").first()
    if user is not None:
        return user
    user = system_user(f"mailbox:{address}"[:150], first_name=address[:150])
    if user.email != address:
        user.email = address
        user.save(update_fields=["email"])
    return user


def _identity(automation):
    """The automation's own login (the engine's ``automation:<name>``), the author of the tasks it creates."""
    return system_user(f"automation:{automation.name}"[:150], first_name=automation.name)


def risk_due(renews: dt.date | None, now: dt.datetime) -> dt.datetime:
    """Two weeks before the renewal (09:00 local), but at least two days and at most two weeks from ``now``;
    a week from ``now`` without a renewal date."""
    if renews is None:
        return now + DUE_WITHOUT_DATE
    due = timezone.make_aware(dt.datetime.combine(renews, dt.time(9))) - DUE_BEFORE_RENEWAL
    return min(max(due, now + DUE_AT_LEAST), now + DUE_AT_MOST)


class _Scan:
    def __init__(self, *, now: dt.datetime, actor, reason: str):
        self.now, self.actor, self.reason = now, actor, reason
        self.today = timezone.localdate(now)
        self.policies = renewal_automations()
        self.scopes = policy_scopes(self.policies, now, object_type="account")
        self.fields = account_fields()
        self.segments, self.placement = Segments(), ItemPlacement()
        self.counts: Counter = Counter()
        self.mails: list[tuple] = []
        self.recipients: dict[str, object] = {}
        self.left_out: dict[int, list[str]] = {}  # by account: its suppressed live risks, in words
        self.limit = rate_limit_for(ITEM_KIND)
        self.waiting: list[tuple] = []  # (spec, due, importance) of new items, when a rate limit applies
        # The account's ARR: the field the finance notices read, else the demo's ``arr``.
        self.arr_field = next(
            (a.config["arr_field"] for a in self.of(NOTICE) if a.config.get("arr_field")),
            "arr",
        )

    def of(self, does: str) -> list[Automation]:
        return [a for a in self.policies if POLICIES[a.config["policy"]].does == does]

    # --- one chunk ---------------------------------------------------------------------------------

    def chunk(self, accounts: list) -> None:
        history = History([a.pk for a in accounts], now=self.now)
        covered = {}
        for scope in self.scopes.values():
            if id(scope) not in covered:
                covered[id(scope)] = scope.ids(accounts)
        self.covered = {pk: covered[id(scope)] for pk, scope in self.scopes.items()}
        self.facts = {
            a.pk: Facts(
                today=self.today, now=self.now, history=history, fields=self.fields, segment=self.segments.of(a)
            )
            for a in accounts
        }
        live, fixed = self.findings(accounts)
        feed: list[dict] = []
        self.items(accounts, live, fixed)
        self.tasks(accounts, feed)
        self.notices(accounts, live)
        change_entries_record(feed)

    def run(self, automation, account):
        """The check of ``automation`` on ``account``, or None when its conditions leave the account out."""
        scope = self.covered[automation.pk]
        if scope is not None and account.pk not in scope:
            return None
        return policy_check(automation.config, account, self.facts[account.pk])

    # --- risks ---------------------------------------------------------------------------------------

    def findings(self, accounts: list) -> tuple[dict, dict]:
        """Bring the chunk's risk findings up to date; return (live risks by account, fixed texts by account)."""
        ids = [a.pk for a in accounts]
        risks = self.of(RISK)
        existing = {
            (f.account_id, f.automation_id): f
            for f in RenewalFinding.objects.filter(account_id__in=ids, resolved_at__isnull=True)
        }
        fired, passing = {}, {}
        for account in accounts:
            for automation in risks:
                check = self.run(automation, account)
                if check is not None:
                    (fired if check.fired else passing)[account.pk, automation.pk] = (automation, check)
        written = findings_write(
            model=RenewalFinding,
            subject="account",
            existing=existing,
            fired=fired,
            passing=passing,
            running=set(self.scopes),
            policies=POLICIES,
            now=self.now,
            noun="account",
        )
        fixed = written.fixed
        self.counts.update(written.counts())
        live: dict[int, list] = defaultdict(list)
        self.first_seen: dict[int, dt.datetime] = {}
        in_force = suppressions_in_force(
            object_type="account", records={a.pk: a for a in accounts}, now=self.now, kind=ITEM_KIND
        )
        suppressed = {(pk, row.automation_id): row for pk, rows in in_force.items() for row in rows}
        self.left_out = defaultdict(list)
        for (account_pk, automation_pk), (automation, check) in fired.items():
            if automation.mode != LIVE:
                continue
            if (account_pk, automation_pk) in suppressed:
                self.left_out[account_pk].append(suppressed_text(suppressed[account_pk, automation_pk]))
                self.counts["findings_suppressed"] += 1
                continue
            live[account_pk].append((automation, check))
            old = existing.get((account_pk, automation_pk))
            first = old.first_seen_at if old is not None else self.now
            self.first_seen[account_pk] = max(self.first_seen.get(account_pk, first), first)
        return live, fixed

    def item_text(self, account, risks: list) -> dict:
        owner = account.owner.name if account.owner_id else "no owner"
        renews = arr = None
        for automation, _check in risks:
            renews = renews or loose_date(field_value(account, automation.config.get("renewal_field", "renewal_date")))
        renews = renews or loose_date(field_value(account, "renewal_date"))
        arr = as_number(field_value(account, self.arr_field))
        facts = [f"owner {owner}"]
        if arr is not None:
            facts.append(f"ARR {words.money(arr)}")
        if renews is not None:
            facts.append(f"renews {words.day(renews, self.today)}")
        n = len(risks)
        lines = []
        for automation, check in sorted(risks, key=lambda pair: pair[0].name):
            policy = POLICIES[automation.config["policy"]]
            lines.append(f"• {policy.label}: {check.text}\n  What to do: {policy.expected}")
        reason = (
            f"{account} ({account.external_id}; {'; '.join(facts)}) has "
            f"{'one renewal risk' if n == 1 else f'{n} renewal risks'}:\n" + "\n".join(lines)
        )
        left_out = self.left_out.get(account.pk)
        if left_out:
            reason += "\nLeft out (suppressed for this account):\n" + "\n".join(f"• {t}" for t in sorted(left_out))
        return {
            "title": f"{str(account)[:140]}: renewal risk{'s' if n != 1 else ''} ({n})",
            "reason": reason,
            "expected_action": EXPECTED,
        }, renews

    def items(self, accounts: list, live: dict, fixed: dict) -> None:
        candidates = item_candidates(accounts, live, key_of=item_key, first_seen=self.first_seen, actor=self.actor)
        specs, dues = [], {}
        for account, key, old in candidates.todo:
            text, renews = self.item_text(account, live[account.pk])
            if item_text_unchanged(old, text):
                continue
            team_id = account.owner.team_id if account.owner_id else None
            queue, manager_id = self.placement.place(team_id)
            spec = ItemSpec(
                dedupe_key=key,
                kind=ITEM_KIND,
                queue=queue,
                owner_id=manager_id,
                object_type="account",
                object_id=account.pk,
                external_id=account.external_id or "",
                **text,
            )
            if old is None and self.limit is not None:
                # A new item under a rate limit waits for the end of the scan: the biggest ARR goes first.
                arr = as_number(field_value(account, self.arr_field)) or 0
                self.waiting.append((spec, risk_due(renews, self.now), (-arr, -len(live[account.pk]), account.pk)))
                continue
            specs.append(spec)
            if old is None:
                dues[key] = risk_due(renews, self.now)
        self.counts.update(
            items_open(
                specs, dues, actor=self.actor, reason=self.reason, now=self.now, due_reason="due before the renewal"
            )
        )
        self.counts["items_resolved"] += items_close_gone(
            candidates,
            live,
            fixed=fixed,
            left_out=self.left_out,
            nothing_left="no live renewal policy finds a risk on the account any more",
            actor=self.actor,
        )

    def open_waiting(self, *, record_holds: bool) -> None:
        """Under a rate limit: open the waiting new items that fit each manager's room, biggest ARR first;
        count the rest as held back (``record_holds``: this pass saw every account)."""
        self.counts.update(
            items_open_waiting(
                kind=ITEM_KIND,
                waiting=self.waiting,
                actor=self.actor,
                reason=self.reason,
                now=self.now,
                due_reason="due before the renewal",
                chunk=CHUNK,
                record_holds=record_holds,
            )
        )
        self.waiting = []

    # --- tasks ---------------------------------------------------------------------------------------

    def tasks(self, accounts: list, feed: list) -> None:
        automations = [a for a in self.of(TASK) if a.mode == LIVE]
        if not automations:
            return
        rows: dict[tuple, RenewalTask] = {}
        for row in (
            RenewalTask.objects.filter(account_id__in=[a.pk for a in accounts], automation__in=automations)
            .select_related("task")
            .order_by("created_at", "id")
        ):
            rows[row.account_id, row.automation_id] = row  # the latest wins
        for account in accounts:
            for automation in automations:
                check = self.run(automation, account)
                row = rows.get((account.pk, automation.pk))
                if automation.config["policy"] == "renewal_task":
                    self.renewal_task(account, automation, check, row, feed)
                else:
                    self.save_plan(account, automation, check, row, feed)

    def _task(self, account, automation, *, title: str, description: str, due_at, row: RenewalTask, feed) -> None:
        task = record_save(
            instance=Task(
                title=title[:255],
                description=description,
                owner=account.owner if account.owner_id else None,
                due_at=due_at,
                account=account,
                created_by_automation=automation.name[:120],
            ),
            actor=_identity(automation),
            reason=f"automation {automation.name!r}"[:100],
        )
        row.task = task
        row.save()
        feed.append(self._entry(account, automation, task, row, key=f"renewal_monitor:task:{row.pk}"))
        self.counts["tasks_created"] += 1

    def _entry(self, account, automation, task, row, *, key: str) -> dict:
        return {
            "kind": ChangeEntry.Kind.TASK_CREATED,
            "object_type": "account",
            "external_id": account.external_id or "",
            "payload": {
                "task_id": task.pk,
                "title": task.title,
                "description": task.description,
                "owner": account.owner.external_id if account.owner_id else None,
                "due_at": task.due_at.isoformat() if task.due_at else None,
                "renewal_date": row.renewal_date.isoformat() if row.renewal_date else None,
            },
            "reason": f"renewal monitor {automation.name!r}",
            "dedupe_key": key,
        }

    def _due(self, days: int, until: dt.date | None = None) -> dt.datetime:
        due = self.now + dt.timedelta(days=days)
        if until is not None:
            due = min(due, max(timezone.make_aware(dt.datetime.combine(until, dt.time(9))), self.now))
        return due

    def _renewal_description(self, account, automation, renews: dt.date, check) -> str:
        arr = as_number(field_value(account, "arr"))
        segment = check.values.get("segment") or "no segment"
        return (
            f"{account} renews on {words.day(renews, self.today)}"
            + (f" (ARR {words.money(arr)})" if arr is not None else "")
            + f". {POLICIES['renewal_task'].expected} Created by the renewal monitor “{automation.name}”, "
            f"{words.days(check.values['window_days'])} before the renewal ({segment})."
        )

    def renewal_task(self, account, automation, check, row: RenewalTask | None, feed: list) -> None:
        renews = loose_date(field_value(account, automation.config["renewal_field"]))
        same = row is not None and renews is not None and abs((renews - row.renewal_date).days) < SAME_RENEWAL_DAYS
        if same and renews != row.renewal_date:
            # The CRM corrected the date of a renewal that already has its task: the task follows it.
            row.renewal_date = renews
            row.save(update_fields=["renewal_date"])
            task = row.task
            if (
                task is not None
                and task.status == Task.Status.OPEN
                and check is not None
                and "window_days" in check.values
            ):
                task.due_at = self._due(automation.config["due_in_days"], renews)
                task.description = self._renewal_description(account, automation, renews, check)
                record_save(
                    instance=task,
                    actor=_identity(automation),
                    reason=f"automation {automation.name!r}: date corrected"[:100],
                )
                feed.append(self._entry(account, automation, task, row, key=f"renewal_monitor:task:{row.pk}:{renews}"))
                self.counts["tasks_moved"] += 1
            return
        if same or check is None or not check.fired:
            return  # this renewal has its task (open, done or cancelled), or is not in the window
        row = RenewalTask(
            account=account, automation=automation, policy="renewal_task", renewal_date=renews, created_at=self.now
        )
        self._task(
            account,
            automation,
            title=f"Prepare the renewal of {account} ({words.day(renews, self.today)})",
            description=self._renewal_description(account, automation, renews, check),
            due_at=self._due(automation.config["due_in_days"], renews),
            row=row,
            feed=feed,
        )

    def save_plan(self, account, automation, check, row: RenewalTask | None, feed: list) -> None:
        spell = row if row is not None and row.ended_at is None else None
        red = check is not None and check.fired
        if spell is not None and not red:
            spell.ended_at = self.now
            spell.end_reason = (check.text if check is not None else "no longer covered by the policy's conditions")[
                :200
            ]
            spell.save(update_fields=["ended_at", "end_reason"])
            self.counts["save_plans_ended"] += 1
            return
        if spell is not None or not red:
            return  # one save plan per red spell
        row = RenewalTask(account=account, automation=automation, policy="save_plan", created_at=self.now)
        self._task(
            account,
            automation,
            title=f"Save plan for {account}",
            description=(
                f"{check.text} {POLICIES['save_plan'].expected} Created by the renewal monitor “{automation.name}”; "
                "asked once while the account stays red."
            ),
            due_at=self._due(automation.config["due_in_days"]),
            row=row,
            feed=feed,
        )

    # --- notices ---------------------------------------------------------------------------------------

    def notices(self, accounts: list, live: dict) -> None:
        automations = [a for a in self.of(NOTICE) if a.mode == LIVE]
        for automation in automations:
            due = []
            for account in accounts:
                self.facts[account.pk].risks = [POLICIES[a.config["policy"]].label for a, _ in live.get(account.pk, [])]
                check = self.run(automation, account)
                if check is not None and check.fired:
                    due.append((account, check))
            if not due:
                continue
            address = automation.config["recipient"]
            if address not in self.recipients:
                self.recipients[address] = notice_recipient(address)
            recipient = self.recipients[address]
            keys = {notice_key(a.pk, loose_date(c.values["renewal_date"]))[:120] for a, c in due}
            sent = set(Notification.objects.filter(recipient=recipient, key__in=keys).values_list("key", flat=True))
            for account, check in due:
                if notice_key(account.pk, loose_date(check.values["renewal_date"]))[:120] not in sent:
                    self.notice(account, automation, check, recipient, live.get(account.pk, []))

    def notice(self, account, automation, check, recipient, risks: list) -> None:
        renews = loose_date(check.values["renewal_date"])
        subject = f"Renewal ARR at risk: {account} renews {words.day(renews, self.today)}"[:200]
        try:
            with transaction.atomic():
                note = Notification.objects.create(
                    recipient=recipient,
                    key=notice_key(account.pk, renews)[:120],
                    reason=NOTICE_REASON,
                    subject=subject,
                    status=Notification.Status.SENT,
                )
        except IntegrityError:
            return  # this account's renewal was notified already
        item = ExceptionItem.objects.filter(dedupe_key=item_key(account.pk), status__in=OPEN).only("pk").first()
        context = {
            "account": account,
            "owner": account.owner.name if account.owner_id else "no owner",
            "manager": account.owner.manager.name if account.owner_id and account.owner.manager_id else "",
            "arr": words.money(as_number(check.values["arr"])),
            "renews": words.day(renews, self.today),
            "risks": [f"{POLICIES[a.config['policy']].label}: {c.text}" for a, c in risks],
            "sentence": check.text,
            "automation": automation.name,
            "threshold": words.money(automation.config["threshold"]),
            "item_url": f"{base_url()}{TRIAGE_PATH}{item.pk}/change/" if item is not None else "",
        }
        self.mails.append((note, subject, context, automation.config["recipient"]))
        self.counts["notices"] += 1

    def send_after_commit(self) -> None:
        mails, self.mails = self.mails, []

        def send():
            for note, subject, context, to in mails:
                notification_send(note, subject, NOTICE_TEMPLATE, context, to)

        if mails:
            transaction.on_commit(send)

    # --- accounts no longer scanned ------------------------------------------------------------------------


def _accounts(account_ids):
    queryset = Account.objects.select_related("owner", "owner__manager").order_by("pk")
    if account_ids is not None:
        return queryset.filter(pk__in=list(account_ids))
    return queryset.filter(
        Q(customer_status=CUSTOMER)
        | Q(pk__in=RenewalFinding.objects.filter(resolved_at__isnull=True).values("account_id"))
        | Q(pk__in=RenewalTask.objects.filter(policy="save_plan", ended_at__isnull=True).values("account_id"))
    )


def renewal_scan(
    *, now: dt.datetime | None = None, account_ids=None, actor=None, reason: str = "renewal scan"
) -> dict[str, int]:
    """Run every live and shadow renewal policy over the customer accounts (or ``account_ids``) — see the
    module docstring. Each chunk of ``CHUNK`` accounts is its own transaction; notices are e-mailed after
    it commits. Returns counts: accounts, findings, items, tasks and notices."""
    if pause_all_state() is not None:
        return {"skipped_all_paused": 1}  # every automation is paused: findings, items and notices wait
    now = now or timezone.now()
    scan = _Scan(now=now, actor=actor or scan_actor(), reason=reason[:100])
    if not scan.policies:
        return {"accounts": 0}
    queryset = _accounts(account_ids)
    last = 0
    while True:
        accounts = list(queryset.filter(pk__gt=last)[:CHUNK])
        if not accounts:
            break
        last = accounts[-1].pk
        scan.counts["accounts"] += len(accounts)
        with transaction.atomic():
            scan.chunk(accounts)
            scan.send_after_commit()
    # Held-back counts are replaced by a full scan only (a scan of a few accounts saw only those).
    scan.open_waiting(record_holds=account_ids is None)
    return dict(scan.counts)


def renewal_facts(account, *, now: dt.datetime | None = None) -> Facts:
    """The facts of one account for a preview (the Why page, the engine's runs): its history, segment and
    the live risks it has as of the last scan."""
    now = now or timezone.now()
    risks = [
        POLICIES[policy].label
        for policy in RenewalFinding.objects.filter(account=account, resolved_at__isnull=True, mode=LIVE).values_list(
            "policy", flat=True
        )
        if policy in POLICIES
    ]
    return Facts(
        today=timezone.localdate(now),
        now=now,
        history=History([account.pk], now=now),
        fields=account_fields(),
        segment=Segments().of(account),
        risks=risks,
    )


# --- suppression from the account's item (exceptions.registry.register_suppression_topics) ------------


def renewal_item_policies(item: ExceptionItem) -> list[tuple[int, str]]:
    """The live risk policies the account's item lists now (its live findings not suppressed), by name."""
    return item_policies(item, model=RenewalFinding, subject="account")


def renewal_after_suppress(item: ExceptionItem, actor) -> None:
    """Right after a person suppressed risks on an account's item: rescan the account, so the item drops
    them (or closes, "suppressed", when nothing is left)."""
    who = actor.get_username() if actor is not None else "someone"
    renewal_scan(account_ids=[item.object_id], reason=f"risks suppressed by {who}")


# Registered on import: MonitorsConfig.ready() imports this module.
register_suppression_topics(ITEM_KIND, renewal_item_policies, after=renewal_after_suppress)


__all__ = ["ITEM_KIND", "EXPECTED", "renewal_scan", "renewal_facts", "renewal_window", "item_key"]
