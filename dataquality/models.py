"""Data-quality models: duplicate rules with their match fields, the blocking-key index, duplicate
sets with their members and evidence, and the runs of the full duplicate scan (docs/dataquality.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from .matchers import Method


class DuplicateRule(models.Model):
    """Which records of one object type are duplicates: a pair scores the weights of the fields that
    match (``MatchField``); at or above ``threshold`` points it is a duplicate. ``action`` says what
    ingest does with a new record that duplicates a stored one: ``report`` stores it and opens (or
    extends) a duplicate set, ``block`` refuses it with a sentence naming the stored record."""

    class Action(models.TextChoices):
        REPORT = "report", "Report (store the record, open a duplicate set)"
        BLOCK = "block", "Block (refuse a new record that duplicates a stored one)"

    name = models.CharField(max_length=120, unique=True)
    object_type = models.CharField(
        "object", max_length=20, help_text="The records this rule compares (leads, accounts; contacts once mirrored)."
    )
    description = models.TextField(blank=True)
    is_active = models.BooleanField("active", default=True, help_text="Inactive rules check nothing.")
    action = models.CharField("on ingest", max_length=10, choices=Action.choices, default=Action.REPORT)
    auto_merge = models.BooleanField(
        "merge without approval",
        default=False,
        help_text=(
            "Lead rules only: a set of two leads this rule finds is merged at once (and can be undone). A set "
            "with a converted lead, a lead of a named/strategic account or more than two leads still goes to "
            "a person for approval."
        ),
    )
    threshold = models.PositiveIntegerField(
        "points needed",
        default=100,
        help_text="A pair is a duplicate when the matching fields' weights add up to this.",
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["object_type", "name"]

    def __str__(self):
        return self.name


class MatchField(models.Model):
    """One field a rule compares: how (``method``; ``fuzzy`` with a similarity threshold in %), how many
    points a match adds (``weight``) and whether its values are blocking keys (the scan and ingest
    only compare records that share a blocking key)."""

    rule = models.ForeignKey(DuplicateRule, on_delete=models.CASCADE, related_name="fields")
    position = models.PositiveIntegerField(default=0)
    field = models.CharField(max_length=60, help_text="A dictionary key of the object, or 'name' (a lead's full name).")
    method = models.CharField(max_length=12, choices=Method.choices, default=Method.NORMALISED)
    similarity = models.PositiveIntegerField(
        "similarity (%)", default=90, help_text="Fuzzy only: the lowest similarity that counts as a match."
    )
    weight = models.PositiveIntegerField("points", default=50, help_text="Points a match of this field adds.")
    blocking = models.BooleanField(
        "blocking key", default=True, help_text="Compare records that share this field's value (or name keys)."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["rule", "position", "id"]

    def __str__(self):
        return f"{self.field} ({self.method})"


class DuplicateKey(models.Model):
    """The blocking-key index: one row per (record, key) for the blocking fields of the active rules,
    written by ingest and rewritten by every full scan. Derived data, no history."""

    object_type = models.CharField(max_length=20)
    key = models.CharField(max_length=160)
    object_id = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["object_type", "key"], name="dq_key_lookup"),
            models.Index(fields=["object_type", "object_id"], name="dq_key_record"),
        ]

    def __str__(self):
        return f"{self.object_type} {self.object_id}: {self.key}"


class DuplicatePrepared(models.Model):
    """A record's compared forms as the full scan prepared them in its first phase (so its second phase,
    which meets each record many times as a partner, reads them instead of preparing them again).
    Derived data, no history: rewritten by every scan, dropped by ingest when the record changes."""

    object_type = models.CharField(max_length=20)
    object_id = models.BigIntegerField()
    external_id = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    forms = models.TextField(
        blank=True,
        help_text="key, method, form and value as sent, per field: units and records separated by \\x1f and \\x1e.",
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["object_type", "object_id"], name="dq_prepared_once")]

    def __str__(self):
        return f"{self.object_type} {self.object_id}"


class DuplicateSet(models.Model):
    """Records one rule found to be duplicates of each other, with the best pair's score.

    ``open`` until a person dismisses it (not duplicates, with a reason: the same records are then
    never proposed together again) or its records are merged (a later slice)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DISMISSED = "dismissed", "Dismissed: not duplicates"
        MERGED = "merged", "Merged"

    class FoundBy(models.TextChoices):
        INGEST = "ingest", "Sync (on ingest)"
        SCAN = "scan", "Full scan"

    rule = models.ForeignKey(DuplicateRule, on_delete=models.PROTECT, related_name="sets")
    object_type = models.CharField("object", max_length=20, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    score = models.PositiveIntegerField(help_text="The best pair's points.")
    found_by = models.CharField(max_length=10, choices=FoundBy.choices)
    dismissed_reason = models.TextField(blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dismissed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-updated_at", "-pk"]
        indexes = [models.Index(fields=["rule", "status"], name="dq_set_rule_status")]

    def __str__(self):
        return f"Duplicate set #{self.pk}"


class DuplicateMember(models.Model):
    """A record in a set: which one it matched when it joined, with the score and the evidence per field."""

    set = models.ForeignKey(DuplicateSet, on_delete=models.CASCADE, related_name="members")
    object_type = models.CharField(max_length=20)
    object_id = models.BigIntegerField()
    matched_id = models.BigIntegerField(null=True, blank=True, help_text="The member this record matched.")
    score = models.PositiveIntegerField(null=True, blank=True)
    evidence = models.JSONField(default=list, blank=True)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["set", "pk"]
        constraints = [models.UniqueConstraint(fields=["set", "object_id"], name="dq_member_once")]
        indexes = [models.Index(fields=["object_type", "object_id"], name="dq_member_record")]

    def __str__(self):
        return f"{self.object_type} {self.object_id} in set {self.set_id}"


class DuplicateScan(models.Model):
    """One full duplicate scan, done in short steps on the low lane; ``phase``/``cursor`` say where it is."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    object_type = models.CharField(max_length=20, blank=True)
    phase = models.CharField(max_length=10, default="keys")
    cursor = models.BigIntegerField(default=0)
    big_keys = models.JSONField(default=list, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    steps = models.PositiveIntegerField(default=0)
    reason = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    progress_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        return f"Duplicate scan #{self.pk}"


class Merge(models.Model):
    """Two records of one object merged into one, from proposal to merge (and undo).

    ``proposed``: waiting for a person to approve, with the survivorship preview in ``fields`` — per
    field, both values, the winner and why; the approver may change any winner. ``merged``: the
    survivor took the winning values (``survivor_before`` keeps what they replaced, ``survivor_after``
    what was written), the loser is kept as it was, pointing to the survivor through this row, and
    the loser's related rows were re-pointed (``moved``: ids per relation). ``undone``: all of that
    restored exactly. ``rejected``: not duplicates, or not now.
    """

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Waiting for approval"
        MERGED = "merged", "Merged"
        REJECTED = "rejected", "Rejected"
        UNDONE = "undone", "Undone"

    object_type = models.CharField("object", max_length=20, db_index=True)
    survivor_id = models.BigIntegerField(help_text="The record that stays.")
    loser_id = models.BigIntegerField(help_text="The record merged into the survivor (kept, marked merged).")
    duplicate_set = models.ForeignKey(
        DuplicateSet, null=True, blank=True, on_delete=models.SET_NULL, related_name="merges"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED, db_index=True)
    fields = models.JSONField(default=list, help_text="Per field: both values, the winner and why.")
    moved = models.JSONField(default=dict, blank=True, help_text="Re-pointed row ids per relation.")
    survivor_before = models.JSONField(default=dict, blank=True)
    survivor_after = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    automatic = models.BooleanField(
        "merged automatically", default=False, help_text="Merged by its rule without approval (lead rules only)."
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undone_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-updated_at", "-pk"]
        indexes = [
            models.Index(fields=["object_type", "loser_id"], name="dq_merge_loser"),
            models.Index(fields=["object_type", "survivor_id"], name="dq_merge_survivor"),
        ]
        constraints = [
            # A record is merged away at most once at a time, and proposed at most once per survivor.
            models.UniqueConstraint(
                fields=["object_type", "loser_id"], condition=models.Q(status="merged"), name="dq_merge_once"
            ),
            models.UniqueConstraint(
                fields=["object_type", "survivor_id", "loser_id"],
                condition=models.Q(status="proposed"),
                name="dq_merge_proposed_once",
            ),
        ]

    def __str__(self):
        return f"Merge #{self.pk}"


class PendingDuplicateCheck(models.Model):
    """A large sync batch's stored records whose duplicate check runs on the low lane after the sync
    committed (``dataquality.deferred``): only when no rule could refuse one of them (no ``block``
    rule, or no new record), so the sync answers as fast as without the rules.

    Written in the sync's transaction and deleted in the transaction of the check that consumes it:
    a job that runs twice checks once, and a row still here long after it was enqueued lost its job
    and is enqueued again by the sweeper."""

    object_type = models.CharField(max_length=20)
    object_ids = models.JSONField(default=list, help_text="The stored records to check, by id.")
    created_at = models.DateTimeField(auto_now_add=True)
    enqueued_at = models.DateTimeField(help_text="When its job was last put on the lane.")

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"{len(self.object_ids)} {self.object_type} records waiting for their duplicate check"
