"""The metrics frame: daily roll-ups, their incremental upkeep, the team scope, the API and the CSV.

The exception queue's metrics (backlog, items opened and closed) serve as the known data: items
opened and closed at chosen times, in UTC.
"""

import datetime as dt
import random

import pytest
from django.contrib.auth.models import Group

from exceptions.models import ExceptionItem
from revops.access import MANAGER
from revops.metrics.registry import Point, register_metric, unregister_metric
from revops.metrics.rollup import metrics_rollup
from revops.metrics.selectors import metrics_read
from revops.models import MetricDaily
from tests.exceptions.support import make_queue, open_item
from tests.factories import RepFactory, TeamFactory, UserFactory
from tests.revops.api_support import api_settings, token_client  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

UTC = dt.UTC
D1, D2, D3 = dt.date(2026, 3, 2), dt.date(2026, 3, 3), dt.date(2026, 3, 4)


def at(day, hour, minute=0):
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=UTC)


@pytest.fixture(autouse=True)
def _utc(settings):
    settings.TIME_ZONE = "UTC"


def item(key, queue, opened, closed=None, *, status="resolved", code="", kind="missing_data"):
    it = open_item(key, queue=queue, kind=kind)
    values = {"first_seen_at": opened}
    if closed is not None:
        values.update(resolved_at=closed, status=status, resolution_code=code)
    ExceptionItem.objects.filter(pk=it.pk).update(**values)
    return it


def series(data, key):
    metric = next(m for m in data if m["key"] == key)
    return {s["name"]: [(p["day"], p["value"]) for p in s["points"]] for s in metric["series"]}


@pytest.fixture
def teams():
    parent = TeamFactory(name="Americas", external_id="T-AM")
    child = TeamFactory(name="Americas SMB", external_id="T-AM-SMB", parent=parent)
    other = TeamFactory(name="EMEA", external_id="T-EMEA")
    return parent, child, other


@pytest.fixture
def known_items(teams):
    parent, child, other = teams
    q_parent = make_queue("Americas queue", team=parent)
    q_child = make_queue("SMB queue", team=child)
    q_other = make_queue("EMEA queue", team=other)
    item("a", q_parent, at(D1, 10), at(D2, 9))
    item("b", q_child, at(D1, 11))
    item("c", q_other, at(D2, 8), at(D2, 20), status="dismissed", code="noise")
    metrics_rollup(now=at(D3, 12), full=True)


def test_items_flow_and_backlog_exact_values(known_items):
    data = metrics_read(start=D1, end=D3, team_ids=None, keys=["items_flow", "backlog_age"])
    flow = series(data, "items_flow")
    assert flow["Opened"] == [(D1, 2), (D2, 1), (D3, 0)]
    assert flow["Closed"] == [(D1, 0), (D2, 2), (D3, 0)]
    backlog = series(data, "backlog_age")
    # End of D1: a (14 h) and b (13 h); end of D2 and D3: b alone, then 1 d 13 h and 2 d 13 h old.
    assert backlog["Under a day"] == [(D1, 2), (D2, 0), (D3, 0)]
    assert backlog["1 to 3 days"] == [(D1, 0), (D2, 1), (D3, 1)]
    totals = {s["name"]: s["total"] for s in data[0]["series"]} | {s["name"]: s["total"] for s in data[1]["series"]}
    assert totals["Opened"] == 3 and totals["Closed"] == 2
    assert totals["1 to 3 days"] == 1  # a backlog over a range is its last day's


def test_team_filter_counts_the_team_and_its_sub_teams(known_items, teams):
    parent, child, other = teams
    flow = series(metrics_read(start=D1, end=D2, team_ids={parent.pk, child.pk}, keys=["items_flow"]), "items_flow")
    assert flow["Opened"] == [(D1, 2), (D2, 0)]
    flow = series(metrics_read(start=D1, end=D2, team_ids={other.pk}, keys=["items_flow"]), "items_flow")
    assert flow["Opened"] == [(D1, 0), (D2, 1)]


def rows_snapshot():
    return sorted(
        (r.metric, r.day, r.team_id or 0, r.all_teams, r.dimension, r.numerator, r.denominator or 0, r.value or 0)
        for r in MetricDaily.objects.all()
    )


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_incremental_rollups_equal_a_full_recomputation(teams, seed):
    """Items opened and closed in a random order over six days, with roll-ups run at random
    moments in between, end with the same rows as one full recomputation of everything."""
    rng = random.Random(seed)
    queues = [make_queue(f"Queue {n}", team=team) for n, team in enumerate((*teams, None))]
    clock = at(D1, 6)
    open_items: list[ExceptionItem] = []
    for n in range(60):
        clock += dt.timedelta(minutes=rng.randint(5, 300))
        if open_items and rng.random() < 0.45:
            it = open_items.pop(rng.randrange(len(open_items)))
            status, code = rng.choice([("resolved", "fixed"), ("dismissed", "noise"), ("dismissed", "")])
            ExceptionItem.objects.filter(pk=it.pk).update(resolved_at=clock, status=status, resolution_code=code)
        else:
            kind = rng.choice(["missing_data", "sla_breach", "no_routing_match"])
            open_items.append(item(f"i{n}", rng.choice(queues), clock, kind=kind))
        if rng.random() < 0.2:
            metrics_rollup(now=clock + dt.timedelta(minutes=1))
    metrics_rollup(now=clock + dt.timedelta(minutes=1))
    incremental = rows_snapshot()
    MetricDaily.objects.all().delete()
    metrics_rollup(now=clock + dt.timedelta(minutes=1), full=True)
    assert incremental == rows_snapshot()
    assert incremental  # the scenario produced numbers


def test_only_dirty_days_are_recomputed(known_items):
    """A later run recomputes today, yesterday and the days of what changed since the last run."""
    done = metrics_rollup(now=at(D3, 13))
    assert done["items_flow"] == 2  # D3 and D2: nothing changed after the full run
    queue = make_queue("Late queue")
    item("late", queue, at(D3, 14))
    done = metrics_rollup(now=at(D3 + dt.timedelta(days=5), 9))
    assert done["items_flow"] == 3  # today, yesterday and D3


def test_a_registered_metric_appears_and_an_unregistered_one_does_not(teams):
    register_metric(
        "test_constant",
        label="Test constant",
        description="Two a day.",
        unit="count",
        group="Tests",
        aggregate="sum",
        compute_day=lambda day, start, end: [Point(None, "", numerator=2)],
    )
    try:
        metrics_rollup(now=at(D2, 12), keys=["test_constant"])
        data = metrics_read(start=D1, end=D2, team_ids=None, keys=None)
        assert series(data, "test_constant") == {"Test constant": [(D1, 2), (D2, 2)]}
    finally:
        unregister_metric("test_constant")
    assert all(m["key"] != "test_constant" for m in metrics_read(start=D1, end=D2, team_ids=None))
    shown = {m["key"] for m in metrics_read(start=D1, end=D2, team_ids=None)}
    assert "duplicate_rate" in shown  # registered by the data-quality app


# --- the API and the scope --------------------------------------------------------------------


def manager_of(team):
    user = UserFactory(username=f"manager.{team.external_id.lower()}", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name=MANAGER)[0])
    rep = RepFactory(user=user, team=team)
    team.manager = rep
    team.save()
    return user


def opened_total(response):
    metric = response.json()["metrics"][0]
    return {s["name"]: s["total"] for s in metric["series"]}["Opened"]


def test_api_reads_the_rollups_with_range_and_team_filters(known_items, client, admin_user):
    client.force_login(admin_user)
    url = "/api/v1/metrics/?metric=items_flow&start=2026-03-02&end=2026-03-04"
    assert opened_total(client.get(url)) == 3
    assert opened_total(client.get(url + "&team=T-AM")) == 2  # with its sub-team
    assert opened_total(client.get(url + "&team=T-AM-SMB")) == 1
    response = client.get("/api/v1/metrics/?metric=items_flow&start=2026-03-03&end=2026-03-03")
    body = response.json()
    assert body["start"] == body["end"] == "2026-03-03"
    assert body["metrics"][0]["series"][0]["points"] == [
        {"day": "2026-03-03", "value": 1.0, "numerator": 1.0, "denominator": None}
    ]


def test_a_manager_reads_their_teams_and_sub_teams_only(known_items, teams, client):
    parent, child, other = teams
    client.force_login(manager_of(parent))
    url = "/api/v1/metrics/?metric=items_flow&start=2026-03-02&end=2026-03-04"
    assert opened_total(client.get(url)) == 2  # Americas and Americas SMB, not EMEA
    refused = client.get(url + "&team=T-EMEA")
    assert refused.status_code == 400
    assert "No team “T-EMEA” that you can see" in refused.json()["team"][0]
    page = client.get("/admin/dashboard/?start=2026-03-02&end=2026-03-04")
    assert page.status_code == 200
    assert [t.name for t in page.context["teams"]] == ["Americas", "Americas SMB"]


def test_someone_without_a_team_sees_no_numbers(known_items, client):
    rep_user = UserFactory(username="rep.user", is_staff=True)
    rep_user.groups.add(Group.objects.get_or_create(name="Rep")[0])
    client.force_login(rep_user)
    body = client.get("/api/v1/metrics/?metric=items_flow&start=2026-03-02&end=2026-03-04").json()
    assert body["metrics"][0]["series"] == []
    page = client.get("/admin/dashboard/")
    assert "You manage no team" in page.content.decode()


@pytest.mark.parametrize(
    "query, field, words",
    [
        ("start=03/02/2026", "start", "YYYY-MM-DD"),
        ("start=2026-03-05&end=2026-03-01", "start", "after the end date"),
        ("start=2020-01-01&end=2026-03-01", "start", "longer than 731 days"),
        ("team=nope", "team", "No team “nope”"),
        ("metric=no_such_metric", "metric", "Unknown metric “no_such_metric”"),
    ],
)
def test_bad_filters_are_refused_with_a_sentence(client, admin_user, query, field, words):
    client.force_login(admin_user)
    response = client.get(f"/api/v1/metrics/?{query}")
    assert response.status_code == 400
    assert words in response.json()[field][0]
    page = client.get(f"/admin/dashboard/?{query}")
    assert page.status_code == 200 and "Showing the last 30 days instead" in page.content.decode()


def test_tokens_need_the_read_scope(api_settings, known_items):  # noqa: F811
    assert token_client("read").get("/api/v1/metrics/").status_code == 200
    assert token_client("sync:write").get("/api/v1/metrics/").status_code == 403


def test_the_csv_holds_the_api_numbers(known_items, client, admin_user):
    client.force_login(admin_user)
    query = "start=2026-03-02&end=2026-03-04&team=T-AM"
    api = client.get(f"/api/v1/metrics/?metric=backlog_age&{query}").json()["metrics"][0]
    expected = [
        [
            p["day"],
            s["name"],
            *("" if p[k] is None else str(float(p[k])) for k in ("value", "numerator", "denominator")),
        ]
        for s in api["series"]
        for p in s["points"]
    ]
    response = client.get(f"/admin/dashboard/backlog_age.csv?{query}")
    assert response["Content-Type"].startswith("text/csv")
    lines = [line.split(",") for line in response.content.decode().strip().splitlines()]
    assert lines[0] == ["day", "series", "value", "numerator", "denominator"]
    assert lines[1:] == expected and expected


def test_the_dashboard_lists_every_metric_with_its_numbers_and_csv(known_items, client, admin_user):
    client.force_login(admin_user)
    html = client.get("/admin/dashboard/?start=2026-03-02&end=2026-03-04").content.decode()
    for key in ("items_flow", "backlog_age", "backlog_kind", "speed_to_lead", "automation_success"):
        assert f'id="metric-{key}"' in html
        assert f"/admin/dashboard/{key}.csv?start=2026-03-02&amp;end=2026-03-04" in html
    assert "revops/vendor/chartjs/chart.umd.min.js" in html
    index = client.get("/admin/").content.decode()
    assert index.index('href="/admin/dashboard/" class="section"') < index.index('class="app-')


def test_durations_read_as_words():
    from revops.metrics.views import _number

    assert [_number(v, "minutes") for v in (12.4, 60, 500, 1440, 3060)] == [
        "12 min",
        "1 h",
        "8 h 20 min",
        "1 d",
        "2 d 3 h",
    ]
    assert _number(66.66, "percent") == "66.7 %" and _number(3.0, "count") == "3" and _number(None, "count") == "—"


def test_the_rollup_is_a_scheduled_low_queue_job_a_real_worker_runs(known_items, run_worker):
    import django_rq

    from revops import jobs
    from revops.models import MetricState
    from revops.plugins import schedules

    schedule = {s.name: s for s in schedules()}["metrics_rollup"]
    assert (schedule.func, schedule.queue, schedule.interval) == (jobs.rollup_metrics, "low", 300)
    MetricDaily.objects.all().delete()
    MetricState.objects.all().delete()
    django_rq.get_queue("low", commit_mode="auto").enqueue("revops.jobs.rollup_metrics")
    assert run_worker("low") == 0
    flow = series(metrics_read(start=D1, end=D2, team_ids=None, keys=["items_flow"]), "items_flow")
    assert flow["Opened"] == [(D1, 2), (D2, 1)]


def test_all_teams_rows_equal_the_sum_of_every_team_and_no_team(teams):
    """An unfiltered read uses the all-teams rows; they equal the teams' rows and the no-team rows added up."""
    parent, child, other = teams
    item("a", make_queue("Americas queue", team=parent), at(D1, 10), at(D2, 9))
    item("b", make_queue("EMEA queue", team=other), at(D1, 11))
    item("c", make_queue("No team queue"), at(D1, 12), at(D1, 13))
    metrics_rollup(now=at(D3, 12), full=True)
    for metric in ("items_flow", "backlog_age", "backlog_kind"):
        team_rows = MetricDaily.objects.filter(metric=metric, all_teams=False)
        summed = {}
        for row in team_rows:
            summed[(row.day, row.dimension)] = summed.get((row.day, row.dimension), 0) + row.numerator
        all_rows = {
            (r.day, r.dimension): r.numerator for r in MetricDaily.objects.filter(metric=metric, all_teams=True)
        }
        assert all_rows == summed, metric
    flow = series(metrics_read(start=D1, end=D2, team_ids=None, keys=["items_flow"]), "items_flow")
    assert flow["Opened"] == [(D1, 3), (D2, 0)]  # the no-team item counts for an unfiltered admin
    assert flow["Closed"] == [(D1, 1), (D2, 1)]
    by_team = series(
        metrics_read(start=D1, end=D2, team_ids={parent.pk, child.pk, other.pk}, keys=["items_flow"]), "items_flow"
    )
    assert by_team["Opened"] == [(D1, 2), (D2, 0)]


def test_dashboard_bar_totals_equal_the_api_days_added_up(teams):
    """The dashboard reads a bar chart's range totals in SQL; they equal the API's days summed."""
    parent, child, other = teams
    item("a", make_queue("Americas queue", team=parent), at(D1, 10), at(D1, 11), status="dismissed", code="noise")
    item("b", make_queue("EMEA queue", team=other), at(D2, 10), at(D2, 11), status="dismissed", code="noise")
    metrics_rollup(now=at(D3, 12), full=True)
    daily = next(m for m in metrics_read(start=D1, end=D3, team_ids=None, keys=["side_effects"]))
    totals = next(m for m in metrics_read(start=D1, end=D3, team_ids=None, keys=["side_effects"], daily_bars=False))
    assert all(s["points"] == [] for s in totals["series"])
    assert {s["name"]: s["total"] for s in totals["series"]} == {s["name"]: s["total"] for s in daily["series"]}
    assert {s["name"]: s["total"] for s in totals["series"]}["Items dismissed as wrong"] == 2
