"""In a real browser: a RevOps admin opens a merge proposal, keeps the survivor's value for one field,
approves the merge, then undoes it."""

import pytest
from django.urls import reverse

from dataquality.merges import merge_propose
from dataquality.models import Merge
from revops.dictionary_defaults import load_default_dictionary
from revops.models import Activity, FieldDefinition
from tests.factories import ActivityFactory, UserFactory

from .test_merges import leads, pair_set

pytest_plugins = ["tests.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_changes_a_winner_approves_then_undoes_the_merge(admin_page, screenshot):
    load_default_dictionary(FieldDefinition)  # emptied by the flush after an earlier transactional test
    ann, dup = leads()
    call = ActivityFactory(lead=dup, kind="call")
    [merge] = merge_propose(dup_set=pair_set(ann, dup), actor=UserFactory())
    page = admin_page
    page.goto(reverse("admin:dataquality_merge_change", args=[merge.pk]))
    row = page.locator("#rv-merge-fields tr[data-field=title]")
    assert "Head of Sales" in row.inner_text() and "changed last" in row.inner_text()
    row.locator("input[value=survivor]").check()  # keep "VP Sales"
    screenshot(page, "merge-proposal")
    page.click("button[value=approve]")
    page.wait_for_selector("text=Merged.")
    assert "Activities: 1" in page.inner_text("#rv-merge-moved")
    ann.refresh_from_db()
    assert ann.title == "VP Sales" and ann.source == "event"
    assert Activity.objects.get(pk=call.pk).lead_id == ann.pk
    screenshot(page, "merge-done")

    page.click("button[value=undo]")
    page.wait_for_selector("text=Undone:")
    ann.refresh_from_db()
    assert ann.source == "webinar" and Activity.objects.get(pk=call.pk).lead_id == dup.pk
    assert Merge.objects.get().status == "undone"
