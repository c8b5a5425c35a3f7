"""Admin for the CRM record mirror: teams, reps, accounts, leads, opportunities, activities, tasks (contacts: contacts.py).

List pages stay fast on big tables: related columns are fetched with ``list_select_related``,
big tables skip the full ``COUNT(*)`` and foreign keys use autocomplete widgets.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join

from revops.models import Account, Activity, Contact, FieldDefinition, Lead, Opportunity, Rep, Task, Team
from revops.people import rep_invite
from revops.record_selectors import account_contact_count, account_key_contacts

from .base import (
    BigTableAdmin,
    OwnerFilter,
    RecordAdmin,
    RecordAdminForm,
    TeamScopedFilter,
    admin_link,
    badge,
    values_filter,
)
from .why import WhyMixin

CRM_FIELDSET = (
    "CRM",
    {"fields": ("external_id", "source_updated_at", "created_at", "updated_at"), "classes": ("collapse",)},
)


def attributes_fieldsets(*, check: bool = False):
    shown = ("attributes_display", "dictionary_check") if check else ("attributes_display",)
    return (
        ("Custom attributes", {"fields": shown}),
        (
            "Values as sent by the CRM",
            {
                "fields": ("raw_values_display",),
                "description": 'Where a dictionary normaliser rewrote a value (e.g. country "United States" → US).',
            },
        ),
        (
            "Edit custom attributes (JSON)",
            {
                "fields": ("attributes",),
                "classes": ("collapse",),
                "description": "Keys and types come from the data dictionary; unknown keys or wrong types are refused.",
            },
        ),
    )


def money(value):
    if value is None:
        return "—"
    return f"${number_format(value, decimal_pos=0, force_grouping=True)}"


class SegmentFilter(admin.SimpleListFilter):
    """Accounts by size segment (employees): SMB < 200 ≤ Mid-Market < 2,000 ≤ Enterprise."""

    title = "segment (employees)"
    parameter_name = "segment"

    def lookups(self, request, model_admin):
        return [
            ("SMB", "SMB (< 200)"),
            ("MM", "Mid-Market (200–1,999)"),
            ("ENT", "Enterprise (2,000+)"),
            ("none", "Unknown"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "SMB":
            return queryset.filter(employees__lt=200)
        if value == "MM":
            return queryset.filter(employees__gte=200, employees__lt=2000)
        if value == "ENT":
            return queryset.filter(employees__gte=2000)
        if value == "none":
            return queryset.filter(employees__isnull=True)
        return queryset


class OutOfOfficeFilter(admin.SimpleListFilter):
    title = "availability"
    parameter_name = "availability"

    def lookups(self, request, model_admin):
        return [("available", "Available"), ("ooo", "Out of office now"), ("inactive", "Inactive")]

    def queryset(self, request, queryset):
        now = timezone.now()
        value = self.value()
        if value == "available":
            return queryset.filter(
                Q(out_of_office_until__isnull=True) | Q(out_of_office_until__lte=now), is_active=True
            )
        if value == "ooo":
            return queryset.filter(out_of_office_until__gt=now)
        if value == "inactive":
            return queryset.filter(is_active=False)
        return queryset


class CloseDateFilter(admin.SimpleListFilter):
    """Forecast hygiene at a glance: open deals whose close date passed, this quarter, and so on."""

    title = "close date"
    parameter_name = "close"

    def lookups(self, request, model_admin):
        return [
            ("overdue", "Open, close date passed"),
            ("30", "Next 30 days"),
            ("90", "Next 90 days"),
            ("pushed", "Pushed 2+ times"),
            ("missing", "No close date"),
        ]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        value = self.value()
        open_q = Q(stage__in=Opportunity.OPEN_STAGES)
        if value == "overdue":
            return queryset.filter(open_q, close_date__lt=today)
        if value in ("30", "90"):
            return queryset.filter(close_date__gte=today, close_date__lte=today + dt.timedelta(days=int(value)))
        if value == "pushed":
            return queryset.filter(close_date_pushes__gte=2)
        if value == "missing":
            return queryset.filter(close_date__isnull=True)
        return queryset


class DueFilter(admin.SimpleListFilter):
    title = "due"
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return [
            ("overdue", "Overdue (open)"),
            ("today", "Due in 24 hours"),
            ("week", "Due in 7 days"),
            ("none", "No due date"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        value = self.value()
        if value == "overdue":
            return queryset.filter(status=Task.Status.OPEN, due_at__lt=now)
        if value == "today":
            return queryset.filter(due_at__gte=now, due_at__lt=now + dt.timedelta(days=1))
        if value == "week":
            return queryset.filter(due_at__gte=now, due_at__lt=now + dt.timedelta(days=7))
        if value == "none":
            return queryset.filter(due_at__isnull=True)
        return queryset


# --- Team ------------------------------------------------------------------------------------


@admin.register(Team)
class TeamAdmin(RecordAdmin):
    list_display = ("name", "region", "segment", "parent_link", "manager_link", "member_count", "external_id")
    list_filter = ("region", "segment", ("parent", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "external_id", "region", "segment")
    list_select_related = ("parent", "manager")
    autocomplete_fields = ("manager", "parent")
    fieldsets = (
        (None, {"fields": ("name", "parent", "manager", "region", "segment")}),
        CRM_FIELDSET,
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_total=Count("members", distinct=True))

    @admin.display(description="parent", ordering="parent__name")
    def parent_link(self, obj):
        return admin_link(obj.parent)

    @admin.display(description="manager", ordering="manager__name")
    def manager_link(self, obj):
        return admin_link(obj.manager)

    @admin.display(description="members", ordering="member_total")
    def member_count(self, obj):
        return obj.member_total


# --- Rep -------------------------------------------------------------------------------------


def segment_choices():
    entry = FieldDefinition.objects.filter(object_type="rep", key="segments").first()
    values = entry.allowed_values if entry and entry.allowed_values else ["SMB", "MM", "ENT", "STRATEGIC"]
    return [(value, value) for value in values]


class RepForm(RecordAdminForm):
    segments = forms.MultipleChoiceField(
        choices=segment_choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Segments this rep may work (values from the data dictionary).",
    )

    class Meta:
        model = Rep
        fields = (
            "name",
            "email",
            "title",
            "user",
            "team",
            "manager",
            "region",
            "segments",
            "is_active",
            "out_of_office_until",
            "time_zone",
            "attributes",
            "external_id",
            "source_updated_at",
        )


@admin.register(Rep)
class RepAdmin(WhyMixin, RecordAdmin):
    form = RepForm
    # Region and time zone are on the rep's page (region is a filter).
    list_display = ("name", "title", "team_link", "manager_link", "segment_list", "active", "availability", "login")
    list_filter = ("is_active", OutOfOfficeFilter, "region", ("team", admin.RelatedOnlyFieldListFilter))
    actions = ["invite"]
    search_fields = ("name", "email", "external_id", "title")
    list_select_related = ("team", "manager", "user")
    autocomplete_fields = ("manager", "team", "user")
    readonly_fields = ("attributes_display",)
    fieldsets = (
        (None, {"fields": ("name", "email", "title", "user")}),
        ("Team", {"fields": ("team", "manager", "region", "segments")}),
        ("Availability", {"fields": ("is_active", "out_of_office_until", "time_zone")}),
        *attributes_fieldsets(),
        CRM_FIELDSET,
    )

    @admin.display(description="team", ordering="team__name")
    def team_link(self, obj):
        return admin_link(obj.team)

    @admin.display(description="manager", ordering="manager__name")
    def manager_link(self, obj):
        return admin_link(obj.manager)

    @admin.display(description="active", boolean=True, ordering="is_active")
    def active(self, obj):
        return obj.is_active

    @admin.display(description="segments")
    def segment_list(self, obj):
        return ", ".join(obj.segments or []) or "—"

    @admin.display(description="login")
    def login(self, obj):
        user = obj.user
        if user is None:
            return "—"
        if not user.is_active:
            return badge("off", "neutral", f"{user.username}: turned off")
        if not user.has_usable_password():
            return badge("invited", "info", f"{user.username}: has not set a password yet")
        return badge("yes", "ok", user.username)

    def has_invite_permission(self, request):
        return request.user.has_perm("revops.change_rep")  # RevOps admins

    @admin.action(description="Invite to the portal (e-mail a link to set a password)", permissions=["invite"])
    def invite(self, request, queryset):
        invited, refused = [], []
        for rep in queryset.select_related("user").order_by("name"):
            try:
                invited.append(rep_invite(rep=rep, actor=request.user))
            except ValidationError as exc:
                refused.append(" ".join(exc.messages))
        if invited:
            names = ", ".join(f"{i.rep.name} ({i.role.lower()})" for i in invited)
            self.message_user(request, f"Invited {len(invited)}: {names}. Each gets an e-mail with a one-time link.")
        for message in refused:
            self.message_user(request, message, messages.WARNING)

    @admin.display(description="out of office", ordering="out_of_office_until")
    def availability(self, obj):
        until = obj.out_of_office_until
        if until and until > timezone.now():
            return badge(f"until {timezone.localtime(until):%d %b %H:%M}", "warn", "Routing skips this rep")
        return "—"


# --- Account ---------------------------------------------------------------------------------


STATUS_TONES = {"customer": "ok", "prospect": "neutral", "former_customer": "warn", "partner": "info"}


@admin.register(Account)
class AccountAdmin(WhyMixin, BigTableAdmin):
    # Country and industry are filters and on the account's page.
    list_display = ("name", "domain", "owner_link", "status_badge", "named", "employees", "segment", "parent_link")
    list_filter = (
        "customer_status",
        "is_named",
        SegmentFilter,
        OwnerFilter,
        ("owner__team", TeamScopedFilter),
        values_filter("country"),
        values_filter("industry"),
    )
    search_fields = ("name", "domain", "website", "external_id")
    search_help_text = "Search by name, domain, website or CRM id."
    list_select_related = ("owner", "parent")
    autocomplete_fields = ("owner", "parent")
    readonly_fields = ("attributes_display", "dictionary_check", "key_contacts")
    fieldsets = (
        (None, {"fields": ("name", "domain", "website", "industry", "employees", "annual_revenue")}),
        ("Location", {"fields": ("country", "state")}),
        ("Ownership", {"fields": ("owner", "is_named", "customer_status", "parent")}),
        ("Contacts", {"fields": ("key_contacts",)}),
        *attributes_fieldsets(check=True),
        CRM_FIELDSET,
    )

    @admin.display(description="key contacts")
    def key_contacts(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        return key_contacts_table(obj)

    @admin.display(description="owner", ordering="owner__name")
    def owner_link(self, obj):
        return admin_link(obj.owner)

    @admin.display(description="parent", ordering="parent__name")
    def parent_link(self, obj):
        return admin_link(obj.parent) if obj.parent_id else ""

    @admin.display(description="status", ordering="customer_status")
    def status_badge(self, obj):
        return badge(obj.get_customer_status_display(), STATUS_TONES.get(obj.customer_status, "neutral"))

    @admin.display(description="named", ordering="is_named")
    def named(self, obj):
        return badge("Named", "core", "Named/strategic: fixed owner, never re-routed") if obj.is_named else ""

    @admin.display(description="segment")
    def segment(self, obj):
        if obj.employees is None:
            return "—"
        return "SMB" if obj.employees < 200 else "MM" if obj.employees < 2000 else "ENT"


def key_contacts_table(account: Account):
    """The account's active contacts with a role (name, roles, title, email, phone) and a link to all of them."""
    contacts = account_key_contacts(account_id=account.pk)
    total = account_contact_count(account_id=account.pk)
    listing = reverse("admin:revops_contact_changelist") + f"?account__id__exact={account.pk}"
    labels = dict(Contact.Role.choices)
    rows = format_html_join(
        "",
        "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                admin_link(c),
                ", ".join(labels.get(role, role) for role in c.roles),
                c.title or "—",
                c.email or "—",
                c.phone or "—",
            )
            for c in contacts
        ),
    )
    others = total - len(contacts)
    link = format_html(
        '<a href="{}">All {} active contact{}</a>{}',
        listing,
        total,
        "" if total == 1 else "s",
        format_html(" ({} without a role)", others) if others > 0 else "",
    )
    if not contacts:
        return format_html("No contact holds a role on this account. {}", link) if total else "No contacts."
    return format_html(
        '<table class="rv-attributes" id="rv-key-contacts"><thead><tr><th>Contact</th><th>Roles</th><th>Title</th>'
        "<th>Email</th><th>Phone</th></tr></thead><tbody>{}</tbody></table><p>{}</p>",
        rows,
        link,
    )


# --- Lead ------------------------------------------------------------------------------------

LEAD_TONES = {"new": "info", "working": "neutral", "qualified": "ok", "converted": "ok", "unqualified": "warn"}


@admin.register(Lead)
class LeadAdmin(WhyMixin, BigTableAdmin):
    # Country and source are filters and on the lead's page.
    list_display = (
        "display_name",
        "email",
        "company",
        "status_badge",
        "owner_link",
        "account_link",
        "score",
        "created_at",
    )
    list_filter = (
        "status",
        OwnerFilter,
        ("owner__team", TeamScopedFilter),
        values_filter("source"),
        values_filter("country"),
        ("matched_account", admin.EmptyFieldListFilter),
    )
    search_fields = ("email", "first_name", "last_name", "company", "domain", "external_id")
    search_help_text = "Search by name, email, company, domain or CRM id."
    list_select_related = ("owner", "matched_account")
    autocomplete_fields = ("owner", "matched_account", "converted_opportunity")
    readonly_fields = ("attributes_display", "dictionary_check", "converted_contacts")
    fieldsets = (
        (None, {"fields": ("first_name", "last_name", "email", "title")}),
        ("Company", {"fields": ("company", "domain", "country", "state", "matched_account")}),
        (
            "Qualification",
            {"fields": ("status", "source", "score", "owner", "converted_opportunity", "converted_contacts")},
        ),
        *attributes_fieldsets(check=True),
        CRM_FIELDSET,
    )

    @admin.display(description="lead", ordering="last_name")
    def display_name(self, obj):
        return f"{obj.first_name} {obj.last_name}".strip() or obj.email or obj.external_id

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.get_status_display(), LEAD_TONES.get(obj.status, "neutral"))

    @admin.display(description="owner", ordering="owner__name")
    def owner_link(self, obj):
        return admin_link(obj.owner) if obj.owner_id else badge("unassigned", "warn")

    @admin.display(description="matched account", ordering="matched_account__name")
    def account_link(self, obj):
        return admin_link(obj.matched_account)

    @admin.display(description="converted to contact")
    def converted_contacts(self, obj):
        contacts = list(obj.converted_contacts.select_related("account").order_by("pk")) if obj and obj.pk else []
        if not contacts:
            return "—"
        return format_html_join(
            ", ",
            "{} ({})",
            ((admin_link(c), c.account.name if c.account_id else "no account") for c in contacts),
        )


# --- Opportunity -----------------------------------------------------------------------------

STAGE_TONES = {"closed_won": "ok", "closed_lost": "neutral", "negotiation": "info", "proposal": "info"}


@admin.register(Opportunity)
class OpportunityAdmin(WhyMixin, BigTableAdmin):
    list_display = (
        "name",
        "account_link",
        "owner_link",
        "stage_badge",
        "forecast_category",
        "amount_display",
        "close_date_display",
        "close_date_pushes",
    )
    list_filter = (
        "stage",
        "forecast_category",
        CloseDateFilter,
        OwnerFilter,
        ("owner__team", TeamScopedFilter),
    )
    search_fields = ("name", "external_id", "account__name", "account__domain")
    search_help_text = "Search by name, CRM id, account name or domain."
    list_select_related = ("account", "owner")
    autocomplete_fields = ("account", "owner")
    readonly_fields = ("attributes_display", "dictionary_check")
    fieldsets = (
        (None, {"fields": ("name", "account", "owner")}),
        (
            "Pipeline",
            {
                "fields": (
                    ("stage", "forecast_category"),
                    "amount",
                    ("close_date", "close_date_pushes"),
                    ("next_step", "next_step_date"),
                    "last_activity_at",
                )
            },
        ),
        *attributes_fieldsets(check=True),
        CRM_FIELDSET,
    )

    @admin.display(description="account", ordering="account__name")
    def account_link(self, obj):
        return admin_link(obj.account)

    @admin.display(description="owner", ordering="owner__name")
    def owner_link(self, obj):
        return admin_link(obj.owner) if obj.owner_id else badge("unassigned", "warn")

    @admin.display(description="stage", ordering="stage")
    def stage_badge(self, obj):
        return badge(obj.get_stage_display(), STAGE_TONES.get(obj.stage, "neutral"))

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj):
        return money(obj.amount) if obj.amount is not None else badge("missing", "warn")

    @admin.display(description="close date", ordering="close_date")
    def close_date_display(self, obj):
        if obj.close_date is None:
            return badge("missing", "warn")
        if obj.is_open and obj.close_date < timezone.localdate():
            return badge(f"{obj.close_date:%Y-%m-%d} passed", "danger", "Open deal whose close date has passed")
        return f"{obj.close_date:%Y-%m-%d}"


# --- Activity --------------------------------------------------------------------------------


@admin.register(Activity)
class ActivityAdmin(WhyMixin, BigTableAdmin):
    list_display = (
        "subject_display",
        "kind",
        "occurred_at",
        "rep_link",
        "lead_link",
        "opportunity_link",
        "account_link",
    )
    list_filter = ("kind", "occurred_at", ("rep__team", TeamScopedFilter))
    search_fields = ("subject", "external_id")
    list_select_related = ("rep", "lead", "opportunity", "account")
    autocomplete_fields = ("rep", "lead", "opportunity", "account")
    readonly_fields = ("attributes_display",)
    fieldsets = (
        (None, {"fields": ("kind", "subject", "occurred_at", "rep")}),
        ("Related to", {"fields": ("lead", "opportunity", "account")}),
        *attributes_fieldsets(),
        CRM_FIELDSET,
    )

    @admin.display(description="subject", ordering="subject")
    def subject_display(self, obj):
        return obj.subject or obj.external_id

    @admin.display(description="rep", ordering="rep__name")
    def rep_link(self, obj):
        return admin_link(obj.rep)

    @admin.display(description="lead")
    def lead_link(self, obj):
        return admin_link(obj.lead)

    @admin.display(description="opportunity")
    def opportunity_link(self, obj):
        return admin_link(obj.opportunity)

    @admin.display(description="account")
    def account_link(self, obj):
        return admin_link(obj.account)


# --- Task ------------------------------------------------------------------------------------


@admin.register(Task)
class TaskAdmin(WhyMixin, RecordAdmin):
    list_display = ("title", "owner_link", "status", "due_display", "related", "created_by_automation")
    list_filter = (
        "status",
        DueFilter,
        OwnerFilter,
        ("owner__team", TeamScopedFilter),
        "created_by_automation",
    )
    search_fields = ("title", "description", "external_id")
    list_select_related = ("owner", "lead", "account", "opportunity")
    autocomplete_fields = ("owner", "lead", "account", "opportunity")
    fieldsets = (
        (None, {"fields": ("title", "description", "owner", "status", "due_at")}),
        ("Related to", {"fields": ("lead", "opportunity", "account")}),
        ("Origin", {"fields": ("created_by_automation", "external_id", "created_at", "updated_at")}),
    )

    @admin.display(description="owner", ordering="owner__name")
    def owner_link(self, obj):
        return admin_link(obj.owner) if obj.owner_id else badge("unassigned", "warn")

    @admin.display(description="due", ordering="due_at")
    def due_display(self, obj):
        if obj.due_at is None:
            return "—"
        shown = f"{timezone.localtime(obj.due_at):%Y-%m-%d %H:%M}"
        if obj.status == Task.Status.OPEN and obj.due_at < timezone.now():
            return badge(f"{shown} overdue", "danger")
        return shown

    @admin.display(description="related to")
    def related(self, obj):
        record = obj.related_record
        if record is None:
            return "—"
        return format_html("{}: {}", record._meta.verbose_name, admin_link(record))
