"""People in the admin: the invitation page (set a first password from the one-time link), and the users
list without system identities (API tokens' service logins, automations' history names)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.views import PasswordResetConfirmView
from django.urls import reverse_lazy

from revops.people import INVITE_TOKENS, system_identity_q


class InviteAcceptView(PasswordResetConfirmView):
    """The invitation link: set a first password, then land signed in on the portal."""

    template_name = "admin/revops/people/invite_accept.html"
    token_generator = INVITE_TOKENS
    post_reset_login = True
    post_reset_login_backend = "revops.people.RepAwareBackend"
    success_url = reverse_lazy("admin:index")
    reset_url_token = "set-password"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(admin.site.each_context(self.request))
        return context


class SystemIdentityFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "identity"

    def lookups(self, request, model_admin):
        return [("people", "People"), ("system", "System identities (integrations, automations)")]

    def choices(self, changelist):
        # "People" is what the list shows when nothing is chosen.
        for choice in super().choices(changelist):
            if choice["display"] == "All":
                continue
            yield choice

    def value(self):
        return super().value() or "people"

    def queryset(self, request, queryset):
        if self.value() == "system":
            return queryset.filter(system_identity_q())
        return queryset.exclude(system_identity_q())


User = get_user_model()
if admin.site.is_registered(User):
    base = type(admin.site.get_model_admin(User))
    admin.site.unregister(User)
else:  # pragma: no cover - django.contrib.auth.admin always registers it
    base = UserAdmin


@admin.register(User)
class PeopleUserAdmin(base):
    """Django's user admin, listing people by default (system identities behind a filter)."""

    list_display = ("username", "email", "first_name", "last_name", "is_active", "is_staff", "last_login")
    list_filter = (SystemIdentityFilter, "is_active", "is_staff", "groups")
