"""Pool member selection: which member of a pool gets the next lead, within caps and availability.

Two layers:
- A pure core, :class:`MemberState` and :func:`choose`. It never touches the database, so the backtest can simulate
  thousands of picks in memory (:meth:`MemberState.record_assignment` moves a snapshot forward after a pick). Every
  member becomes a :class:`Candidate` with a plain-language reason, and the :class:`PoolPick` says in one sentence
  who was chosen and why, or why nobody was.
- A database layer. :func:`resolve_members` expands rep and team/role entries. :func:`load_states` builds the
  snapshot in five queries, however large the pool and however many time zones its members are in. :func:`pool_pick`
  locks the pool row and chooses, and :func:`pool_record_assignment` moves the pool's counter forward.

Strategies (all use the rotation order: ``position``, then member entry, then rep):
- ``round_robin``: the next available member after the pool's last rep, wrapping around.
- ``weighted``: the available member with the fewest leads per unit of weight (``PoolCounter.assigned / weight``);
  ties go to the earlier position.
- ``least_loaded``: the available member with the fewest open leads (new or working). Ties go to whoever has waited
  longest since their last lead from this pool, then to the earlier position.

A member is skipped if they are excluded by the caller, inactive in the CRM, out of office, outside the pool's
working hours in their own time zone (only when the pool respects working hours), at the open-lead cap, or at the
daily cap. A member's caps override the pool's. The daily count covers live decisions that assigned the rep a lead
(by any rule, pool or fallback) since midnight in the rep's time zone. An unknown time zone is treated as UTC, and
the candidate's reason says so.

Newcomers: a rep with no counter yet starts at the least-served member's share, ``floor(min(assigned / weight) ×
weight)``, rather than 0. Otherwise the weighted strategy would hand every lead to the newcomer until they caught up
with colleagues who have been in the pool for months. The pool's next assignment stores that baseline in a counter
(see :func:`pool_record_assignment`). In a new pool, every member starts at 0.

Concurrency: a live assignment runs in one transaction: ``pool_pick(lock=True)`` (``SELECT … FOR UPDATE`` on the
pool row), the owner change, :func:`pool_record_assignment`, and the caller's ``RoutingDecision``. The lock makes
pickers on the same pool wait for each other until commit. Every count is read after the lock is taken, and
PostgreSQL's READ COMMITTED gives each statement a fresh snapshot, so two pickers never decide on the same stale
counts. Known limit: pickers on *different* pools that share a rep do not wait for each other, so if they race for
that rep, the rep's daily or open-lead cap can be exceeded by one lead.
"""

import dataclasses
import datetime as dt
import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Count, F, Q
from django.db.transaction import TransactionManagementError

from revops.models import Lead, Rep
from routing.models import Pool, PoolCounter, PoolMember, RoutingDecision

STRATEGIES = ("round_robin", "weighted", "least_loaded")
OPEN_LEAD_STATUSES = (Lead.Status.NEW, Lead.Status.WORKING)
COUNTED_OUTCOMES = (RoutingDecision.Outcome.ASSIGNED, RoutingDecision.Outcome.FALLBACK)
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DEFAULT_EXCLUSION = "the lead is being routed away from this rep"
_NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)


# --- Pure core ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolConfig:
    """The settings of a pool that :func:`choose` needs; build one with :meth:`from_pool` or by hand."""

    pool_id: int | None = None
    name: str = ""
    strategy: str = "weighted"
    respect_working_hours: bool = False
    working_hours_start: dt.time = dt.time(9, 0)
    working_hours_end: dt.time = dt.time(17, 0)
    working_days: tuple[int, ...] = (0, 1, 2, 3, 4)

    @classmethod
    def from_pool(cls, pool: Any) -> "PoolConfig":
        """The config of a ``Pool`` (or of anything with the same attributes)."""
        days = tuple(sorted({int(d) for d in (pool.working_days or []) if str(d).lstrip("-").isdigit()}))
        return cls(
            pool_id=pool.pk,
            name=pool.name,
            strategy=str(pool.strategy),
            respect_working_hours=bool(pool.respect_working_hours),
            working_hours_start=pool.working_hours_start,
            working_hours_end=pool.working_hours_end,
            working_days=days,
        )


@dataclass
class MemberState:
    """A snapshot of one pool member: who they are, the effective caps and the current counts.

    ``max_open_leads``/``max_per_day`` are effective caps: the member's override, else the pool's, and
    ``None`` means no cap. ``open_leads`` counts the rep's new or working leads. ``today`` counts leads
    routed to the rep since midnight in their time zone. ``assigned`` is the pool counter, or the newcomer
    baseline if the rep has no counter yet.
    """

    rep_id: int
    external_id: str = ""
    name: str = ""
    weight: int = 1
    position: int = 0
    is_active: bool = True
    out_of_office_until: dt.datetime | None = None
    time_zone: str = "UTC"
    max_open_leads: int | None = None
    max_per_day: int | None = None
    open_leads: int = 0
    today: int = 0
    assigned: int = 0
    last_assigned_at: dt.datetime | None = None

    @property
    def label(self) -> str:
        return self.name or self.external_id or f"rep {self.rep_id}"

    def record_assignment(self, *, now: dt.datetime) -> None:
        """Move the snapshot forward after this member got a lead (for in-memory simulations)."""
        self.assigned += 1
        self.today += 1
        self.open_leads += 1
        self.last_assigned_at = now


@dataclass
class Candidate:
    """One member as the pick saw it: ``status`` is "chosen", "eligible" or "skipped", and ``reason`` says why."""

    rep_id: int
    external_id: str
    name: str
    weight: int
    status: str
    reason: str
    open_leads: int
    today: int
    assigned: int

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in _CANDIDATE_FIELDS}


@dataclass
class PoolPick:
    """The result of one pick. ``rep_id`` is ``None`` when nobody could take the lead.

    ``all_unavailable`` is true when the pool has members but every one of them was skipped. An empty or
    inactive pool gives ``rep_id=None`` with ``all_unavailable=False``.
    """

    pool_id: int | None
    pool_name: str
    strategy: str
    rep_id: int | None
    candidates: list[Candidate] = field(default_factory=list)
    all_unavailable: bool = False
    reason: str = ""
    weights: dict[int, int] = field(default_factory=dict, repr=False)  # every member's weight, for recording
    unavailable: str = ""  # when nobody could take it, why in short: "Ana is capped, Bo is out of office"
    all_capped: bool = False  # every member was skipped for a cap (not for leave, hours or an exclusion)

    @property
    def chosen(self) -> Candidate | None:
        return next((c for c in self.candidates if c.status == "chosen"), None)

    def as_dict(self) -> dict:
        """A JSON-ready dict (for ``RoutingDecision.explanation``)."""
        data = {name: getattr(self, name) for name in _PICK_FIELDS}
        data["candidates"] = [c.as_dict() for c in self.candidates]
        return data


# Plain field-by-field copies: dataclasses.asdict deep-copies every value, a noticeable share of a bulk chunk.
_CANDIDATE_FIELDS = tuple(f.name for f in dataclasses.fields(Candidate))
_PICK_FIELDS = tuple(f.name for f in dataclasses.fields(PoolPick) if f.name not in ("weights", "candidates"))


@functools.lru_cache(maxsize=512)
def _zone(name: str) -> tuple[dt.tzinfo, str | None]:
    """The zone called ``name``, or UTC plus a note saying that the name is unknown."""
    try:
        return ZoneInfo(name), None
    except (KeyError, ValueError, TypeError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return dt.UTC, f"time zone {name!r} is unknown, so UTC was used"


def local_midnight(now: dt.datetime, time_zone: str) -> dt.datetime:
    """Midnight at the start of ``now``'s day in ``time_zone`` (UTC if the zone is unknown)."""
    zone, _ = _zone(time_zone)
    return dt.datetime.combine(now.astimezone(zone).date(), dt.time(0), tzinfo=zone)


def newcomer_baseline(weight: int, existing: Iterable[tuple[int, int]]) -> int:
    """The starting counter of a rep new to a pool: the least-served member's share, scaled to ``weight``.

    ``existing`` holds ``(assigned, weight)`` for members that already have a counter. The result is
    ``floor(min(assigned / weight) × weight)``. The newcomer's per-weight count is then at most the lowest
    one, so the newcomer gets no burst of leads.
    """
    shares = [Fraction(assigned, w) for assigned, w in existing if w > 0]
    return math.floor(min(shares) * weight) if shares else 0


def _days_label(days: Iterable[int]) -> str:
    """[0, 1, 2, 3, 4] → "Mon–Fri"; [0, 2, 4] → "Mon, Wed, Fri"."""
    ds = sorted({d for d in days if 0 <= d <= 6})
    if not ds:
        return "on no day"
    if len(ds) == 7:
        return "every day"
    runs: list[list[int]] = []
    for d in ds:
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{DAY_NAMES[run[0]]}–{DAY_NAMES[run[-1]]}")
        else:
            parts.extend(DAY_NAMES[d] for d in run)
    return ", ".join(parts)


def _in_working_hours(local: dt.datetime, config: PoolConfig) -> bool:
    """Whether ``local`` falls in the working hours. The day is the local calendar day.

    If the end is before the start, the shift runs over midnight (22:00–06:00). If they are equal, the whole
    day counts.
    """
    if local.weekday() not in config.working_days:
        return False
    t, start, end = local.time(), config.working_hours_start, config.working_hours_end
    if start < end:
        return start <= t < end
    if start > end:
        return t >= start or t < end
    return True


def _skip_reason(m: MemberState, config: PoolConfig, now: dt.datetime, excluded: Mapping[int, str]) -> str | None:
    """Why ``m`` cannot take a lead now, or ``None`` if they can."""
    if m.rep_id in excluded:
        return f"excluded: {excluded[m.rep_id]}"
    if not m.is_active:
        return "inactive in the CRM"
    if m.out_of_office_until is not None and m.out_of_office_until > now:
        return f"out of office until {m.out_of_office_until.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"
    if config.respect_working_hours:
        zone, note = _zone(m.time_zone)
        local = now.astimezone(zone)
        if not _in_working_hours(local, config):
            day = "" if local.weekday() in config.working_days else f"{DAY_NAMES[local.weekday()]} "
            where = f"UTC, as time zone {m.time_zone!r} is unknown" if note else m.time_zone
            hours = f"{config.working_hours_start:%H:%M}–{config.working_hours_end:%H:%M}"
            return f"outside working hours ({day}{local:%H:%M} in {where}; works {hours} {_days_label(config.working_days)})"
    if m.weight < 1:
        return f"weight {m.weight}: takes no leads"
    if m.max_open_leads is not None and m.open_leads >= m.max_open_leads:
        return f"at the open-lead cap ({m.open_leads} of {m.max_open_leads})"
    if m.max_per_day is not None and m.today >= m.max_per_day:
        return f"at the daily cap ({m.today} of {m.max_per_day} today)"
    return None


_SKIP_WORDS = (
    ("excluded", "excluded from this re-route"),
    ("inactive", "inactive"),
    ("out of office", "out of office"),
    ("outside working hours", "outside working hours"),
    ("weight", "takes no leads"),
    ("at the", "capped"),
)


def _skip_word(reason: str | None) -> str:
    """A skip reason in one or two words: "capped", "out of office", "excluded from this re-route"…"""
    for prefix, word in _SKIP_WORDS:
        if (reason or "").startswith(prefix):
            return word
    return "unavailable"


def _unavailable_text(ordered: list[MemberState], skips: Mapping[int, str | None]) -> str:
    """Why nobody in the pool could take the lead, short enough for a headline: each member by name in a
    small pool ("Patrick Page is excluded from this re-route, Iris Henk is out of office"), counts in a big
    one ("4 capped, 2 out of office")."""
    words = [_skip_word(skips[i]) for i in range(len(ordered))]
    if len(ordered) <= 4:
        return ", ".join(f"{m.label} is {word}" for m, word in zip(ordered, words, strict=True))
    counts: dict[str, int] = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    return ", ".join(f"{count} {word}" for word, count in counts.items())


def _number(assigned: int, weight: int) -> str:
    """``assigned / weight`` in figures: whole, or to two decimals."""
    if assigned % weight == 0:
        return str(assigned // weight)
    return f"{assigned / weight:.2f}".rstrip("0").rstrip(".")


def _per_weight(assigned: int, weight: int) -> str:
    return f"{_number(assigned, weight)} {'lead' if assigned == weight else 'leads'} per unit of weight"


def _shares(ordered: list[MemberState], eligible: list[int]) -> dict[int, int]:
    """Each eligible member's ``assigned / weight`` times the weights' least common multiple: whole
    numbers that compare exactly as the fractions do, without building a ``Fraction`` per member."""
    scale = math.lcm(*(ordered[i].weight for i in eligible))
    return {i: ordered[i].assigned * (scale // ordered[i].weight) for i in eligible}


def _open(n: int) -> str:
    return f"{n} open {'lead' if n == 1 else 'leads'}"


def _members(n: int) -> str:
    return f"{n} available {'member' if n == 1 else 'members'}"


def _exclusions(exclude_rep_ids: Iterable[int] | Mapping[int, str]) -> dict[int, str]:
    if isinstance(exclude_rep_ids, Mapping):
        return {int(k): str(v) for k, v in exclude_rep_ids.items()}
    return {int(rep_id): DEFAULT_EXCLUSION for rep_id in exclude_rep_ids or ()}


def choose(
    pool_config: PoolConfig | Any,
    members: list[MemberState],
    *,
    now: dt.datetime,
    exclude_rep_ids: Iterable[int] | Mapping[int, str] = (),
    last_rep_id: int | None = None,
    explain: bool = True,
) -> PoolPick:
    """Pick the member who gets the next lead. Reads only its arguments and changes nothing.

    ``explain=False`` (backtests) returns the same choice without candidates or reasons.

    ``pool_config`` is a :class:`PoolConfig` or a ``Pool``. ``members`` may come in any order: they are
    sorted by ``position``, and members with the same position keep their given order. ``exclude_rep_ids``
    is a collection of rep ids, or a mapping from rep id to the reason, e.g. ``{7: "the current owner
    missed the SLA"}``. ``last_rep_id`` is where the round robin carries on from.
    """
    config = pool_config if isinstance(pool_config, PoolConfig) else PoolConfig.from_pool(pool_config)
    if config.strategy not in STRATEGIES:
        raise ValueError(f"unknown pool strategy {config.strategy!r}; expected one of {', '.join(STRATEGIES)}")
    excluded = _exclusions(exclude_rep_ids)
    ordered = sorted(members, key=lambda m: m.position)
    if not explain:
        return _choose_quietly(config, ordered, now=now, excluded=excluded, last_rep_id=last_rep_id)
    skips = {i: _skip_reason(m, config, now, excluded) for i, m in enumerate(ordered)}
    eligible = [i for i in range(len(ordered)) if skips[i] is None]
    pick = PoolPick(pool_id=config.pool_id, pool_name=config.name, strategy=config.strategy, rep_id=None)

    reasons = {i: reason for i, reason in skips.items() if reason is not None}  # strategies add the eligible
    winner: int | None = None
    if not ordered:
        pick.reason = "the pool has no active members"
    elif not eligible:
        pick.all_unavailable = True
        pick.all_capped = all(_skip_word(skips[i]) == "capped" for i in range(len(ordered)))
        pick.unavailable = _unavailable_text(ordered, skips)
        pick.reason = ("every member is capped: " if pick.all_capped else "no member can take the lead: ") + "; ".join(
            f"{m.label}, {skips[i]}" for i, m in enumerate(ordered)
        )
    else:
        if config.strategy == "round_robin":
            winner = _round_robin(ordered, eligible, last_rep_id, reasons)
        elif config.strategy == "weighted":
            winner = _weighted(ordered, eligible, reasons)
        else:
            winner = _least_loaded(ordered, eligible, reasons)
        pick.rep_id = ordered[winner].rep_id
        pick.reason = (
            f"{ordered[winner].label}: {reasons[winner].removeprefix('chosen: ')} among {_members(len(eligible))}"
        )

    for i, m in enumerate(ordered):
        status = "skipped" if skips[i] is not None else ("chosen" if i == winner else "eligible")
        reason = reasons[i]
        note = _zone(m.time_zone)[1]
        if note and not reason.startswith("outside working hours"):  # that reason already names the zone
            reason = f"{reason} ({note})"
        pick.candidates.append(
            Candidate(
                rep_id=m.rep_id,
                external_id=m.external_id,
                name=m.name,
                weight=m.weight,
                status=status,
                reason=reason,
                open_leads=m.open_leads,
                today=m.today,
                assigned=m.assigned,
            )
        )
    return pick


def _choose_quietly(config: PoolConfig, ordered: list[MemberState], *, now, excluded, last_rep_id) -> PoolPick:
    """``choose`` without the explanation: the same winner by the same rules, for simulations."""
    eligible = [i for i, m in enumerate(ordered) if _skip_reason(m, config, now, excluded) is None]
    pick = PoolPick(pool_id=config.pool_id, pool_name=config.name, strategy=config.strategy, rep_id=None)
    if not eligible:
        pick.all_unavailable = bool(ordered)
        pick.reason = "every member is capped or unavailable" if ordered else "the pool has no active members"
        return pick
    if config.strategy == "round_robin":
        last = next((i for i, m in enumerate(ordered) if m.rep_id == last_rep_id), None)
        start = 0 if last is None else last + 1
        available = set(eligible)
        winner = next(j for j in ((start + k) % len(ordered) for k in range(len(ordered))) if j in available)
    elif config.strategy == "weighted":
        share = _shares(ordered, eligible)
        winner = min(eligible, key=lambda i: (share[i], i))
    else:
        winner = min(eligible, key=lambda i: (ordered[i].open_leads, ordered[i].last_assigned_at or _NEVER, i))
    pick.rep_id = ordered[winner].rep_id
    pick.reason = f"{ordered[winner].label} ({config.strategy})"
    return pick


def _round_robin(ordered: list[MemberState], eligible: list[int], last_rep_id: int | None, reasons: dict) -> int:
    """The first eligible member after the last rep in rotation order, wrapping around."""
    last = next((i for i, m in enumerate(ordered) if m.rep_id == last_rep_id), None)
    start = 0 if last is None else last + 1
    rotation = [(start + k) % len(ordered) for k in range(len(ordered))]
    available = set(eligible)
    winner = next(i for i in rotation if i in available)
    where = "first in the rotation" if last is None else f"next in the rotation after {ordered[last].label}"
    reasons[winner] = f"chosen: {where}"
    for i in eligible:
        if i != winner:
            reasons[i] = f"not chosen: {ordered[winner].label} comes before them in the rotation"
    return winner


def _weighted(ordered: list[MemberState], eligible: list[int], reasons: dict) -> int:
    """The eligible member with the smallest ``assigned / weight``; ties go to the earlier position.

    Why this keeps per-weight counts r = assigned / weight within 1 of each other (while everyone stays
    available): suppose max(r) − min(r) ≤ 1 before a pick. The chosen member had r_c = min(r), and it
    becomes r_c + 1/w_c ≤ min(r) + 1 ≤ r_j + 1 for every j. No other r changes, and r_c only goes up, so
    r_j − r_c still stays ≤ 1. The gap starts at 0 (or within 1, with the newcomer baseline), so by
    induction it never goes above 1. A member who is skipped for a while falls behind and then catches up,
    still subject to the caps.
    """
    share = _shares(ordered, eligible)
    winner = min(eligible, key=lambda i: (share[i], i))
    best = ordered[winner]
    reasons[winner] = f"chosen: fewest leads per unit of weight ({best.assigned}/{best.weight})"
    for i in eligible:
        if i == winner:
            continue
        m = ordered[i]
        if share[i] > share[winner]:
            reasons[i] = (
                f"not chosen: {_per_weight(m.assigned, m.weight)} vs {_number(best.assigned, best.weight)} "
                f"for {best.label}"
            )
        else:
            reasons[i] = (
                f"not chosen: same {_per_weight(m.assigned, m.weight)} as {best.label}, "
                "who comes first in the pool order"
            )
    return winner


def _least_loaded(ordered: list[MemberState], eligible: list[int], reasons: dict) -> int:
    """The eligible member with the fewest open leads; ties by the oldest last assignment, then position."""

    def key(i: int):
        return (ordered[i].open_leads, ordered[i].last_assigned_at or _NEVER, i)

    winner = min(eligible, key=key)
    best = ordered[winner]
    reasons[winner] = f"chosen: fewest open leads ({best.open_leads})"
    for i in eligible:
        if i == winner:
            continue
        m = ordered[i]
        if m.open_leads > best.open_leads:
            reasons[i] = f"not chosen: {_open(m.open_leads)} vs {best.open_leads} for {best.label}"
        elif (m.last_assigned_at or _NEVER) > (best.last_assigned_at or _NEVER):
            reasons[i] = f"not chosen: same {_open(m.open_leads)} as {best.label}, who has waited longer for a lead"
        else:
            reasons[i] = f"not chosen: same {_open(m.open_leads)} as {best.label}, who comes first in the pool order"
    return winner


# --- Database layer ----------------------------------------------------------------------------------------------


def resolve_members(pool: Pool) -> list[tuple[Rep, PoolMember]]:
    """The pool's reps with the entry that brought each one in, in rotation order (two queries).

    Explicit rep entries are included even if the rep is inactive, so that the pick can say why they were
    skipped. Team entries bring in the team's reps whose title contains ``role`` (ignoring case); inactive
    ones stay in too, so the decision shows them skipped as "inactive in the CRM".
    Inactive entries are ignored. A rep listed more than once counts once: their explicit rep entry wins,
    otherwise the first team entry that lists them.
    """
    return _resolve_members(pool, Rep.objects.all())


def _resolve_members(pool: Pool, reps) -> list[tuple[Rep, PoolMember]]:
    entries = list(PoolMember.objects.filter(pool=pool, is_active=True).order_by("position", "pk"))
    if not entries:
        return []
    rep_ids = {e.rep_id for e in entries if e.rep_id is not None}
    team_ids = {e.team_id for e in entries if e.team_id is not None}
    found = list(reps.filter(Q(pk__in=rep_ids) | Q(team_id__in=team_ids)).order_by("pk"))
    return _members_chosen(entries, found)


def _members_chosen(entries: list[PoolMember], found: list[Rep]) -> list[tuple[Rep, PoolMember]]:
    """The pool's (rep, entry) pairs from its active ``entries`` (in position order) and the reps they may
    bring in (``found``, in id order), as ``resolve_members`` documents."""
    by_id = {r.pk: r for r in found}
    chosen: dict[int, tuple[Rep, PoolMember]] = {}
    for e in entries:
        if e.rep_id is not None and e.rep_id in by_id and e.rep_id not in chosen:
            chosen[e.rep_id] = (by_id[e.rep_id], e)
    for e in entries:
        if e.team_id is None:
            continue
        role = e.role.strip().casefold()
        for r in found:
            if r.team_id == e.team_id and r.pk not in chosen and role in (r.title or "").casefold():
                chosen[r.pk] = (r, e)
    return sorted(chosen.values(), key=lambda pair: (pair[1].position, pair[1].pk, pair[0].pk))


def load_states(pool: Pool, *, now: dt.datetime) -> list[MemberState]:
    """Snapshots of the pool's members at ``now``, in rotation order, in five queries (``load_states_many``)."""
    return load_states_many([pool], now=now)[0][pool.pk]


def load_states_many(pools: list[Pool], *, now: dt.datetime) -> tuple[dict[int, list[MemberState]], dict]:
    """Snapshots of each pool's members at ``now`` in rotation order, by pool id, and every stored counter
    of these pools by ``(pool id, rep id)``, in five queries whatever the number of pools.

    The queries are: entries; reps; their open-lead counts; today's counts (one grouped query with one
    condition per distinct time zone, served by the ``decision_counted_owner`` index); and the pools'
    counters.
    """
    by_pool: dict[int, list[PoolMember]] = {pool.pk: [] for pool in pools}
    for entry in PoolMember.objects.filter(pool_id__in=list(by_pool), is_active=True).order_by(
        "pool_id", "position", "pk"
    ):
        by_pool[entry.pool_id].append(entry)
    rep_ids = {e.rep_id for entries in by_pool.values() for e in entries if e.rep_id is not None}
    team_ids = {e.team_id for entries in by_pool.values() for e in entries if e.team_id is not None}
    found = []
    open_leads: dict[int, int] = {}
    if rep_ids or team_ids:
        found = list(Rep.objects.filter(Q(pk__in=rep_ids) | Q(team_id__in=team_ids)).order_by("pk"))
        # Counted apart, not joined to the reps: PostgreSQL reads lead_owner_status alone (index-only
        # once the rows are all-visible).
        open_leads = dict(
            Lead.objects.filter(owner_id__in=[rep.pk for rep in found], status__in=OPEN_LEAD_STATUSES)
            .order_by()
            .values("owner_id")
            .annotate(n=Count("*"))  # no column: the index can answer alone
            .values_list("owner_id", "n")
        )
    members = {pool_id: _members_chosen(entries, found) if entries else [] for pool_id, entries in by_pool.items()}

    by_zone: dict[str, set[int]] = {}
    for pairs in members.values():
        for rep, _ in pairs:
            by_zone.setdefault(rep.time_zone, set()).add(rep.pk)
    today: dict[int, int] = {}
    if by_zone:
        since = Q()
        for zone_name, zone_ids in by_zone.items():
            since |= Q(owner_id__in=sorted(zone_ids), decided_at__gte=local_midnight(now, zone_name))
        # No upper bound on decided_at: another worker's decision can carry a clock reading slightly after ours.
        today = dict(
            RoutingDecision.objects.filter(since, mode="live", outcome__in=COUNTED_OUTCOMES)
            .order_by()
            .values("owner_id")
            .annotate(n=Count("*"))  # no column: the index can answer alone
            .values_list("owner_id", "n")
        )
    stored = {(c.pool_id, c.rep_id): c for c in PoolCounter.objects.filter(pool_id__in=list(by_pool))}

    result: dict[int, list[MemberState]] = {}
    for pool in pools:
        pairs = members[pool.pk]
        counters = {rep.pk: stored[(pool.pk, rep.pk)] for rep, _ in pairs if (pool.pk, rep.pk) in stored}
        weights = {rep.pk: entry.weight for rep, entry in pairs}
        existing = [(c.assigned, weights[rep_id]) for rep_id, c in counters.items()]
        states = []
        for rep, entry in pairs:
            counter = counters.get(rep.pk)
            states.append(
                MemberState(
                    rep_id=rep.pk,
                    external_id=rep.external_id,
                    name=rep.name,
                    weight=entry.weight,
                    position=entry.position,
                    is_active=rep.is_active,
                    out_of_office_until=rep.out_of_office_until,
                    time_zone=rep.time_zone,
                    max_open_leads=entry.max_open_leads if entry.max_open_leads is not None else pool.max_open_leads,
                    max_per_day=entry.max_per_day if entry.max_per_day is not None else pool.max_per_day,
                    open_leads=open_leads.get(rep.pk, 0),
                    today=today.get(rep.pk, 0),
                    assigned=counter.assigned if counter else newcomer_baseline(entry.weight, existing),
                    last_assigned_at=counter.last_assigned_at if counter else None,
                )
            )
        result[pool.pk] = states
    return result, stored


def _require_transaction(what: str) -> None:
    if not transaction.get_connection().in_atomic_block:
        raise TransactionManagementError(f"{what} must run inside transaction.atomic(), with the decision it serves")


def pool_pick(
    pool_or_id: Pool | int,
    *,
    now: dt.datetime,
    lock: bool,
    exclude_rep_ids: Iterable[int] | Mapping[int, str] = (),
) -> PoolPick:
    """Choose the pool member who gets the next lead. This function never writes.

    With ``lock=True`` it must run inside ``transaction.atomic()``. It starts with ``SELECT … FOR UPDATE``
    on the pool row, so concurrent pickers on the same pool wait until this transaction commits. Call
    :func:`pool_record_assignment` and write the ``RoutingDecision`` in that same transaction. With
    ``lock=False`` (previews, shadow rules) nothing is locked, and the answer may be stale by the time it is
    used.
    """
    pk = pool_or_id.pk if isinstance(pool_or_id, Pool) else pool_or_id
    if lock:
        _require_transaction("pool_pick(lock=True)")
        pool = Pool.objects.select_for_update().get(pk=pk)
    else:
        pool = pool_or_id if isinstance(pool_or_id, Pool) else Pool.objects.get(pk=pk)
    config = PoolConfig.from_pool(pool)
    if not pool.is_active:
        return PoolPick(
            pool_id=pool.pk, pool_name=pool.name, strategy=config.strategy, rep_id=None, reason="the pool is inactive"
        )
    states = load_states(pool, now=now)
    pick = choose(config, states, now=now, exclude_rep_ids=exclude_rep_ids, last_rep_id=pool.last_rep_id)
    pick.weights = {state.rep_id: state.weight for state in states}
    return pick


def pool_record_assignment(
    *, pool_id: int, rep_id: int, now: dt.datetime, weights: Mapping[int, int] | None = None
) -> None:
    """Count a lead the pool gave ``rep_id``: its counter +1, and ``Pool.last_rep``.

    Call this in the same transaction as ``pool_pick(lock=True)``, while that lock is held. Members who have
    no counter yet get one at the newcomer baseline first, the same value the pick used for them. That fixes
    a newcomer's starting point at about the time they joined. If it floated with the least-served member
    instead, members who had simply not been picked yet would never catch up: in a new pool, the first
    member would take every lead. A rep who is not a member (e.g. assigned anyway) counts with weight 1.
    """
    _require_transaction("pool_record_assignment")
    if weights is None:  # the pick's members (``PoolPick.weights``) spare resolving them again
        weights = {rep.pk: entry.weight for rep, entry in resolve_members(Pool(pk=pool_id))}
    counters = dict(
        PoolCounter.objects.filter(pool_id=pool_id, rep_id__in=[*weights, rep_id]).values_list("rep_id", "assigned")
    )
    existing = [(assigned, weights[r]) for r, assigned in counters.items() if r in weights]
    missing = [r for r in {**weights, rep_id: weights.get(rep_id, 1)} if r not in counters]
    if missing:
        PoolCounter.objects.bulk_create(
            PoolCounter(pool_id=pool_id, rep_id=r, assigned=newcomer_baseline(weights.get(r, 1), existing))
            for r in missing
        )
    PoolCounter.objects.filter(pool_id=pool_id, rep_id=rep_id).update(assigned=F("assigned") + 1, last_assigned_at=now)
    # update() rather than save(): no history row and no updated_at bump for every lead routed.
    Pool.objects.filter(pk=pool_id).update(last_rep_id=rep_id)


def pool_unrecord_assignment(*, pool_id: int, rep_id: int) -> bool:
    """Give back a lead the pool counted for ``rep_id`` (its assignment was reverted): the counter -1, never
    below zero. ``Pool.last_rep`` is left alone (rotation continues from where it is). False when there was
    nothing to give back."""
    Pool.objects.select_for_update().filter(pk=pool_id).first()  # counters change only under the pool's lock
    return bool(
        PoolCounter.objects.filter(pool_id=pool_id, rep_id=rep_id, assigned__gt=0).update(assigned=F("assigned") - 1)
    )


def pools_as_choices() -> list[tuple[int, str]]:
    """The active pools, for other apps to pick receivers from (the ``pool`` assignee source)."""
    return list(Pool.objects.filter(is_active=True).order_by("name").values_list("pk", "name"))


def pool_assign_next(pool_id: int, *, now: dt.datetime, reason: str = "") -> tuple[int | None, str]:
    """Pick the pool's next member and count the assignment (fairness and caps as for leads), in the
    caller's transaction: the ``pool`` assignee source other apps use (e.g. a handoff's receiving CSM).
    Returns ``(rep id or None, why)``."""
    if not Pool.objects.filter(pk=pool_id).exists():
        return None, "the pool no longer exists"
    pick = pool_pick(pool_id, now=now, lock=True)
    if pick.rep_id is None:
        return None, pick.reason or f"nobody in {pick.pool_name} could take it"
    pool_record_assignment(pool_id=pool_id, rep_id=pick.rep_id, now=now, weights=pick.weights)
    return pick.rep_id, f"picked by {pick.pool_name} ({pick.strategy.replace('_', ' ')})"
