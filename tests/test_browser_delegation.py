"""In a real browser: a pool manager (a Manager, without RevOps rights) marks a rep out of office and
changes a pool weight on *Manage the pool*; a rep signs in and sees only their own items; a person
sets up a channel on *My notifications*."""

import pytest
from django.urls import reverse

from exceptions.models import ExceptionItem, NotificationPreference, Queue
from exceptions.roles import MANAGER, REP, assign_role
from exceptions.services import exception_item_open
from revops.models import Rep
from routing.models import Pool, PoolMember
from tests.factories import RepFactory, TeamFactory, UserFactory

pytest_plugins = ["tests.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "delegation-Browser-Pa55!"


def _sign_in(page, username):
    """Sign in through the login form; managers land on the triage view, reps on the index."""
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.locator("#user-tools").wait_for()


def _login(username, role, email=""):
    user = UserFactory(username=username, email=email or f"{username}@example.com")
    user.set_password(PASSWORD)
    user.save()
    assign_role(user, role)
    return user


def test_a_pool_manager_marks_a_rep_away_and_changes_a_weight(browser_page, screenshot, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    manager = _login("pia.poolmanager", MANAGER)
    team = TeamFactory(name="Inbound East")
    ana, ben = RepFactory(name="Ana Ruiz", team=team), RepFactory(name="Ben Okafor", team=team)
    pool = Pool.objects.create(name="East inbound")
    for position, rep in enumerate((ana, ben)):
        PoolMember.objects.create(pool=pool, rep=rep, position=position)
    Pool.objects.create(name="West inbound")  # not theirs
    pool.managers.add(manager)

    page = browser_page
    _sign_in(page, "pia.poolmanager")
    page.goto(reverse("admin:routing_pool_changelist"))
    assert page.get_by_role("link", name="East inbound").is_visible()
    assert page.get_by_text("West inbound").count() == 0
    page.get_by_role("link", name="East inbound").click()
    page.get_by_role("link", name="Manage the pool").click()
    page.get_by_label("Ben Okafor weight").fill("3")
    page.get_by_label("Ana Ruiz out of office until").fill("2030-01-15T09:00")
    page.get_by_role("button", name="Save").click()
    message = page.locator(".messagelist").inner_text()
    assert "Ben Okafor: weight 1 → 3" in message and "Ana Ruiz: out of office until 15 Jan 2030, 09:00" in message
    assert "away until 15 Jan 2030, 09:00" in page.locator("#pool-manage").inner_text()
    screenshot(page, "pool-manager-manage")
    assert PoolMember.objects.get(pool=pool, rep=ben).weight == 3
    assert Rep.objects.get(pk=ana.pk).out_of_office_until.year == 2030
    # Nothing else of routing is theirs: the pool's own page is read-only for them.
    page.goto(reverse("admin:routing_pool_change", args=[pool.pk]))
    assert page.locator('input[name="name"]').count() == 0


def test_a_rep_sees_only_their_own_items_and_sets_up_a_channel(browser_page, screenshot, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    rep_user = _login("rosa.rep", REP, "rosa@example.com")
    other = _login("otto.rep", REP)
    queue = Queue.objects.create(name="Sales East")
    for key, owner in (("mine", rep_user), ("theirs", other)):
        exception_item_open(
            dedupe_key=key,
            kind="missing_data",
            title=f"Lead {key} is missing its country",
            reason="lead.country is blank.",
            owner=owner,
            queue=queue,
        )
    page = browser_page
    _sign_in(page, "rosa.rep")
    page.goto(reverse("admin:exceptions_exceptionitem_changelist"))
    listing = page.locator("#result_list").inner_text()
    assert "Lead mine is missing its country" in listing and "theirs" not in listing
    theirs = ExceptionItem.objects.get(dedupe_key="theirs")
    page.goto(reverse("admin:exceptions_exceptionitem_change", args=[theirs.pk]))
    assert "Lead theirs" not in page.content()

    page.goto(reverse("admin:index"))
    page.get_by_role("link", name="My notifications").click()
    page.get_by_label("Kind").select_option("webhook")
    page.get_by_label("Name").fill("My pager")
    page.get_by_label("Address or webhook URL").fill("https://pager.example.com/in/SECRET123")
    page.get_by_role("button", name="Add the channel").click()
    assert "Webhook: My pager is added" in page.locator(".messagelist").inner_text()
    assert "SECRET123" not in page.content()
    page.get_by_label("Quiet from").fill("21:00")
    page.get_by_label("until").fill("07:30")
    page.get_by_role("button", name="Save my settings").click()
    assert "Your notification settings are saved." in page.locator(".messagelist").inner_text()
    screenshot(page, "my-notifications")
    assert str(NotificationPreference.objects.get(person=rep_user).quiet_from) == "21:00:00"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1440
