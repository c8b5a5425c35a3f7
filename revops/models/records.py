"""The CRM record mirror: the portal's copy of the CRM objects that automations work on.

Core fields are columns; custom fields live in ``attributes`` (keys and types defined by the
revenue data dictionary). ``source_updated_at`` is the CRM's own modification time, used to
refuse out-of-order updates.
"""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

# History tables are written on every real change and read per record (by ``id``) or by time, so
# they keep only those indexes; copying every lookup index of the live table would slow ingest.
_HISTORY_COMMON = ["external_id", "updated_at", "owner"]
HISTORY_UNINDEXED_ACCOUNT = [*_HISTORY_COMMON, "name", "domain", "country", "customer_status", "parent"]
HISTORY_UNINDEXED_LEAD = [*_HISTORY_COMMON, "email", "domain", "country", "status", "matched_account"]
HISTORY_UNINDEXED_OPPORTUNITY = [*_HISTORY_COMMON, "stage", "close_date", "account"]
HISTORY_UNINDEXED_ACTIVITY = ["external_id", "updated_at", "occurred_at", "rep", "lead", "opportunity", "account"]
HISTORY_UNINDEXED_CONTACT = [*_HISTORY_COMMON, "email", "account", "converted_from_lead"]


class CrmRecord(models.Model):
    """Fields every record mirrored from the CRM carries."""

    external_id = models.CharField(max_length=64, unique=True, help_text="The record's id in the CRM.")
    source_updated_at = models.DateTimeField(
        null=True, blank=True, help_text="When the CRM last changed this record; older updates are refused."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    raw_values = models.JSONField(
        "values as sent",
        default=dict,
        blank=True,
        help_text=(
            "What the CRM sent for fields whose dictionary normaliser changed the value (e.g. country "
            '"United States" stored as US), by field key.'
        ),
    )

    class Meta:
        abstract = True


class Team(CrmRecord):
    """A sales, success or operations team; teams nest through ``parent``."""

    name = models.CharField(max_length=120)
    manager = models.ForeignKey("Rep", null=True, blank=True, on_delete=models.SET_NULL, related_name="managed_teams")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    region = models.CharField(max_length=40, blank=True)
    segment = models.CharField(max_length=40, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Rep(CrmRecord):
    """A CRM user who can own records: rep, manager or specialist."""

    name = models.CharField(max_length=150)
    email = models.EmailField(db_index=True)
    title = models.CharField(max_length=120, blank=True)
    manager = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="direct_reports")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members")
    region = models.CharField(max_length=40, blank=True)
    segments = models.JSONField(default=list, blank=True, help_text="Segments this rep covers, e.g. SMB, MM.")
    is_active = models.BooleanField(default=True)
    out_of_office_until = models.DateTimeField(null=True, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="rep"
    )
    attributes = models.JSONField(default=dict, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Account(CrmRecord):
    """A company the business sells to, with its owner and place in a parent/child hierarchy."""

    class CustomerStatus(models.TextChoices):
        PROSPECT = "prospect", "Prospect"
        CUSTOMER = "customer", "Customer"
        FORMER_CUSTOMER = "former_customer", "Former customer"
        PARTNER = "partner", "Partner"

    name = models.CharField(max_length=200, db_index=True)
    domain = models.CharField(max_length=200, blank=True, db_index=True)
    website = models.CharField(max_length=200, blank=True)
    industry = models.CharField(max_length=80, blank=True)
    employees = models.PositiveIntegerField(null=True, blank=True)
    annual_revenue = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    country = models.CharField(max_length=2, blank=True, db_index=True, help_text="ISO 3166-1 alpha-2")
    state = models.CharField(max_length=64, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    owner = models.ForeignKey(Rep, null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts")
    is_named = models.BooleanField(
        default=False, verbose_name="named/strategic", help_text="Named or strategic account with a fixed owner."
    )
    customer_status = models.CharField(
        max_length=20, choices=CustomerStatus.choices, default=CustomerStatus.PROSPECT, db_index=True
    )
    attributes = models.JSONField(default=dict, blank=True)
    history = HistoricalRecords(no_db_index=HISTORY_UNINDEXED_ACCOUNT)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Lead(CrmRecord):
    """A person who showed interest and is not yet attached to an opportunity."""

    class Status(models.TextChoices):
        NEW = "new", "New"
        WORKING = "working", "Working"
        NURTURE = "nurture", "Nurture"
        QUALIFIED = "qualified", "Qualified"
        UNQUALIFIED = "unqualified", "Unqualified"
        CONVERTED = "converted", "Converted"

    email = models.EmailField(blank=True)
    first_name = models.CharField(max_length=80, blank=True)
    last_name = models.CharField(max_length=80, blank=True)
    company = models.CharField(max_length=200, blank=True)
    domain = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=120, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    state = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=60, blank=True)
    score = models.IntegerField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    owner = models.ForeignKey(
        Rep, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads", db_index=False
    )  # lead_owner_status serves it
    matched_account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="matched_leads"
    )
    converted_opportunity = models.ForeignKey(
        "Opportunity",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="converted_leads",
        help_text="The opportunity the CRM converted the lead into (closed-loop reporting).",
    )
    attributes = models.JSONField(default=dict, blank=True)
    history = HistoricalRecords(no_db_index=HISTORY_UNINDEXED_LEAD)

    class Meta:
        ordering = ["-created_at"]
        # Plain b-trees: db_index=True would add a second, pattern-matching index to each text column on
        # PostgreSQL that no query uses, and every index is written on each sync and each routed lead.
        indexes = [
            models.Index(fields=["owner", "status"], name="lead_owner_status"),
            models.Index(fields=["email"], name="lead_email"),
            models.Index(fields=["domain"], name="lead_domain"),
            models.Index(fields=["country"], name="lead_country"),
            models.Index(fields=["status"], name="lead_status"),
        ]

    def __str__(self):
        name = f"{self.first_name} {self.last_name}".strip()
        return (
            f"{name or self.email or self.external_id} ({self.company})"
            if self.company
            else (name or self.email or self.external_id)
        )


class Contact(CrmRecord):
    """A person at an account, with the roles they play there (champion, executive sponsor…).

    ``converted_from_lead`` keeps the lead the CRM converted into this contact, so a lead's history
    (its routing, its score) stays reachable from the person it became.
    """

    class Role(models.TextChoices):
        CHAMPION = "champion", "Champion"
        EXECUTIVE_SPONSOR = "executive_sponsor", "Executive sponsor"
        BILLING_CONTACT = "billing_contact", "Billing contact"
        DECISION_MAKER = "decision_maker", "Decision maker"

    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts")
    first_name = models.CharField(max_length=80, blank=True)
    last_name = models.CharField(max_length=80, blank=True)
    email = models.EmailField(blank=True, db_index=True)
    phone = models.CharField(max_length=32, blank=True, help_text="E.164, e.g. +14155550100.")
    title = models.CharField(max_length=120, blank=True)
    roles = models.JSONField(
        default=list, blank=True, help_text="Roles on the account: champion, executive sponsor, billing contact…"
    )
    is_active = models.BooleanField(default=True, help_text="False once the person left or no longer works with us.")
    owner = models.ForeignKey(Rep, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts")
    converted_from_lead = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.SET_NULL, related_name="converted_contacts"
    )
    attributes = models.JSONField(default=dict, blank=True)
    history = HistoricalRecords(no_db_index=HISTORY_UNINDEXED_CONTACT)
    # Labels of the values of list columns, for pages that show them (``revops.display.list_labels``).
    LIST_CHOICES = {"roles": Role.choices}

    class Meta:
        ordering = ["last_name", "first_name"]

    def __str__(self):
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email or self.external_id

    def role_labels(self) -> list[str]:
        labels = dict(self.Role.choices)
        return [labels.get(role, str(role).replace("_", " ").capitalize()) for role in self.roles or []]


class Opportunity(CrmRecord):
    """A deal in the pipeline."""

    class Stage(models.TextChoices):
        PROSPECTING = "prospecting", "Prospecting"
        DISCOVERY = "discovery", "Discovery"
        SOLUTION = "solution", "Solution"
        PROPOSAL = "proposal", "Proposal"
        NEGOTIATION = "negotiation", "Negotiation"
        CLOSED_WON = "closed_won", "Closed won"
        CLOSED_LOST = "closed_lost", "Closed lost"

    class ForecastCategory(models.TextChoices):
        PIPELINE = "pipeline", "Pipeline"
        BEST_CASE = "best_case", "Best case"
        COMMIT = "commit", "Commit"
        CLOSED = "closed", "Closed"
        OMITTED = "omitted", "Omitted"

    OPEN_STAGES = (Stage.PROSPECTING, Stage.DISCOVERY, Stage.SOLUTION, Stage.PROPOSAL, Stage.NEGOTIATION)

    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="opportunities")
    name = models.CharField(max_length=200)
    owner = models.ForeignKey(Rep, null=True, blank=True, on_delete=models.SET_NULL, related_name="opportunities")
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.PROSPECTING, db_index=True)
    forecast_category = models.CharField(
        max_length=20, choices=ForecastCategory.choices, default=ForecastCategory.PIPELINE
    )
    amount = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    close_date = models.DateField(null=True, blank=True, db_index=True)
    next_step = models.CharField(max_length=255, blank=True)
    next_step_date = models.DateField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    close_date_pushes = models.PositiveIntegerField(default=0, help_text="How often the close date moved out.")
    attributes = models.JSONField(default=dict, blank=True)
    history = HistoricalRecords(no_db_index=HISTORY_UNINDEXED_OPPORTUNITY)

    class Meta:
        ordering = ["close_date", "name"]
        verbose_name_plural = "opportunities"
        indexes = [models.Index(fields=["owner", "stage"], name="opp_owner_stage")]

    def __str__(self):
        return self.name

    @property
    def is_open(self) -> bool:
        return self.stage in self.OPEN_STAGES


class Activity(CrmRecord):
    """A touch logged in the CRM: call, email, meeting… The first one on a lead stops its SLA clock."""

    class Kind(models.TextChoices):
        CALL = "call", "Call"
        EMAIL = "email", "Email"
        MEETING = "meeting", "Meeting"
        NOTE = "note", "Note"
        TASK = "task", "Task"

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.EMAIL)
    subject = models.CharField(max_length=255, blank=True)
    occurred_at = models.DateTimeField(db_index=True)
    rep = models.ForeignKey(Rep, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities")
    lead = models.ForeignKey(Lead, null=True, blank=True, on_delete=models.CASCADE, related_name="activities")
    opportunity = models.ForeignKey(
        Opportunity, null=True, blank=True, on_delete=models.CASCADE, related_name="activities"
    )
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="activities")
    attributes = models.JSONField(default=dict, blank=True)
    history = HistoricalRecords(no_db_index=HISTORY_UNINDEXED_ACTIVITY)

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name_plural = "activities"

    def __str__(self):
        return f"{self.get_kind_display()}: {self.subject or self.external_id}"


class Task(models.Model):
    """A to-do for a person, created by hand or by an automation, pushed back to the CRM."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    external_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(Rep, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks")
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN, db_index=True)
    lead = models.ForeignKey(Lead, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks")
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks")
    opportunity = models.ForeignKey(Opportunity, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks")
    created_by_automation = models.CharField(
        max_length=120, blank=True, help_text="Name of the automation that created this task, if any."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["due_at"]
        indexes = [models.Index(fields=["owner", "status"], name="task_owner_status")]

    def __str__(self):
        return self.title

    @property
    def related_record(self):
        return self.opportunity or self.lead or self.account
