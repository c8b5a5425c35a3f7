"""Rules are validated in sentences; duplicate sets open, extend and join; dismissing needs a reason."""

import pytest
from django.core.exceptions import ValidationError

from dataquality.models import DuplicateMember, DuplicateRule, DuplicateSet
from dataquality.services import Pair, duplicate_pairs_record, duplicate_rule_delete, duplicate_set_dismiss
from revops.models import ObjectVersion
from tests.factories import UserFactory

from .support import rule

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([{"field": "shoe_size", "method": "exact", "weight": 100}], "'shoe_size' is not a field of the lead"),
        ([{"field": "email", "method": "sounds_like", "weight": 100}], "Method 'sounds_like' is not one of"),
        ([{"field": "email", "weight": 100, "blocking": False}], "At least one field must be a blocking key"),
        (
            [
                {"field": "email", "weight": 40},
                {"field": "company", "method": "fuzzy", "weight": 100, "blocking": False},
            ],
            "The fields that are not blocking keys (company) add up to 100 points",
        ),
        ([{"field": "email", "weight": 40}], "The fields add up to 40 points, less than the 100 needed"),
        ([{"field": "name", "method": "fuzzy", "similarity": 30, "weight": 100}], "from 50 to 100"),
        ([], "A rule compares at least one field."),
    ],
)
def test_rule_validation_says_what_is_wrong(fields, message):
    with pytest.raises(ValidationError) as exc:
        rule(fields=fields)
    assert any(message in m for m in exc.value.messages), exc.value.messages
    assert not DuplicateRule.objects.exists()


def test_an_unknown_object_is_refused_and_rules_are_versioned():
    with pytest.raises(ValidationError, match="cannot be checked for duplicates"):
        rule(object_type="opportunity", fields=[{"field": "name", "weight": 100}])
    saved = rule()
    assert ObjectVersion.objects.filter(object_id=saved.pk).count() == 1
    saved.threshold = 120
    from dataquality.services import duplicate_rule_save

    duplicate_rule_save(rule=saved, actor=UserFactory(), reason="stricter")
    saved.refresh_from_db()
    assert saved.version == 2 and saved.history.count() >= 2
    first = ObjectVersion.objects.get(object_id=saved.pk, number=1)
    assert first.data["fields"]["threshold"] == 100 and len(first.data["match_fields"]) == 4
    from revops.versions import version_restore

    version_restore(obj=saved, number=1, actor=UserFactory(is_staff=True, is_superuser=True), reason="back")
    saved.refresh_from_db()
    assert saved.threshold == 100 and saved.fields.count() == 4 and saved.version == 3


def test_pairs_open_extend_and_join_sets_once():
    saved = rule()
    counts = duplicate_pairs_record(
        object_type="lead", pairs=[Pair(2, 1, saved.pk, 150, ("email: same (a@x.com)",))], found_by="scan"
    )
    assert counts.opened == 1
    counts = duplicate_pairs_record(
        object_type="lead",
        pairs=[Pair(3, 2, saved.pk, 100, ("x",)), Pair(5, 4, saved.pk, 100, ("y",)), Pair(2, 1, saved.pk, 150, ("z",))],
        found_by="scan",
    )
    assert (counts.opened, counts.extended) == (1, 1)
    assert sorted(DuplicateMember.objects.values_list("object_id", flat=True)) == [1, 2, 3, 4, 5]
    # A pair across the two sets joins them: the older set keeps every member.
    older = DuplicateSet.objects.order_by("pk").first()
    counts = duplicate_pairs_record(object_type="lead", pairs=[Pair(4, 3, saved.pk, 120, ("w",))], found_by="ingest")
    assert counts.joined == 1 and list(DuplicateSet.objects.values_list("pk", flat=True)) == [older.pk]
    assert older.members.count() == 5 and DuplicateSet.objects.get().score == 150


def test_dismiss_needs_a_reason_and_an_open_set():
    saved = rule()
    duplicate_pairs_record(object_type="lead", pairs=[Pair(2, 1, saved.pk, 150, ())], found_by="scan")
    dup_set = DuplicateSet.objects.get()
    user = UserFactory()
    with pytest.raises(ValidationError, match="Say why"):
        duplicate_set_dismiss(dup_set=dup_set, reason=" ", actor=user)
    duplicate_set_dismiss(dup_set=dup_set, reason="Twins", actor=user)
    dup_set.refresh_from_db()
    assert (dup_set.status, dup_set.dismissed_reason, dup_set.dismissed_by) == ("dismissed", "Twins", user)
    with pytest.raises(ValidationError, match="already dismissed"):
        duplicate_set_dismiss(dup_set=dup_set, reason="again", actor=user)
    counts = duplicate_pairs_record(object_type="lead", pairs=[Pair(2, 1, saved.pk, 150, ())], found_by="scan")
    assert counts.dismissed_before == 1 and DuplicateSet.objects.count() == 1
    with pytest.raises(ValidationError, match="make it inactive instead"):
        duplicate_rule_delete(rule=saved, actor=user)
