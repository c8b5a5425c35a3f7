"""Admin for contacts: the people at an account and their roles on it (champion, executive sponsor…)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.html import format_html_join

from revops.conditions.orm import json_array_has_q
from revops.models import Contact

from .base import BigTableAdmin, RecordAdminForm, TeamScopedFilter, admin_link, badge
from .records import CRM_FIELDSET, attributes_fieldsets
from .why import WhyMixin

ROLE_TONES = {"executive_sponsor": "core", "decision_maker": "info", "champion": "ok", "billing_contact": "neutral"}


def role_badges(contact: Contact):
    """The contact's roles as badges, or "—"."""
    if not contact.roles:
        return "—"
    labels = dict(Contact.Role.choices)
    return format_html_join(
        " ",
        "{}",
        ((badge(labels.get(role, role), ROLE_TONES.get(role, "neutral")),) for role in contact.roles),
    )


class RoleFilter(admin.SimpleListFilter):
    """Contacts holding a role on their account, or none."""

    title = "role on the account"
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return [*Contact.Role.choices, ("none", "No role")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(roles=[])
        if value in Contact.Role.values:
            return queryset.filter(json_array_has_q("roles", value))
        return queryset


class ContactForm(RecordAdminForm):
    roles = forms.MultipleChoiceField(
        choices=Contact.Role.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="What the person is to the account (several allowed).",
    )

    class Meta:
        model = Contact
        fields = (
            "first_name",
            "last_name",
            "email",
            "phone",
            "title",
            "account",
            "roles",
            "is_active",
            "owner",
            "converted_from_lead",
            "attributes",
            "external_id",
            "source_updated_at",
        )

    def clean(self):
        """E-mail and phone typed by hand are stored as the sync stores them (lower-case, E.164), a national
        number read in the account's country; one that cannot be read is an error saying what is accepted."""
        from revops.validation import validator_for

        data = super().clean()
        sent = {key: data[key] for key in ("email", "phone") if data.get(key)}
        if sent:
            account = data.get("account")
            result = validator_for("contact").validate(sent, existing={"country": getattr(account, "country", None)})
            for key, messages in result.errors.items():
                if key not in sent:
                    continue  # required fields are the model form's business
                for message in messages:
                    self.add_error(key, f"{message}.")
            for key in sent:
                if key in result.core:
                    data[key] = result.core[key]
        return data


@admin.register(Contact)
class ContactAdmin(WhyMixin, BigTableAdmin):
    form = ContactForm
    # Title and phone are on the contact's page; the list keeps what tells people apart.
    list_display = ("display_name", "account_link", "role_list", "email", "owner_link", "active")
    list_filter = (RoleFilter, "is_active", ("account__owner__team", TeamScopedFilter))
    search_fields = ("first_name", "last_name", "email", "phone", "external_id", "account__name")
    search_help_text = "Search by name, email, phone, CRM id or account name."
    list_select_related = ("account", "owner")
    autocomplete_fields = ("account", "owner", "converted_from_lead")
    readonly_fields = ("attributes_display",)
    fieldsets = (
        (None, {"fields": ("first_name", "last_name", "title", "email", "phone")}),
        ("Account", {"fields": ("account", "roles", "is_active", "owner")}),
        ("Origin", {"fields": ("converted_from_lead",)}),
        *attributes_fieldsets(),
        CRM_FIELDSET,
    )

    @admin.display(description="contact", ordering="last_name")
    def display_name(self, obj):
        return str(obj)

    @admin.display(description="account", ordering="account__name")
    def account_link(self, obj):
        return admin_link(obj.account) if obj.account_id else badge("no account", "warn")

    @admin.display(description="roles")
    def role_list(self, obj):
        return role_badges(obj)

    @admin.display(description="owner", ordering="owner__name")
    def owner_link(self, obj):
        return admin_link(obj.owner)

    @admin.display(description="active", boolean=True, ordering="is_active")
    def active(self, obj):
        return obj.is_active
