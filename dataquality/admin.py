"""The data-quality admin: duplicate rules (with their match fields inline, saved through
``duplicate_rule_save``) and duplicate sets — a list named by the records, a detail page with the
evidence per field, and "Dismiss: not duplicates" with a reason (``duplicate_set_dismiss``)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from revops.admin.base import AuditedAdmin, ReadOnlyMixin, admin_change_reason, badge
from revops.audit import audited

from .admin_columns import ObjectStatusColumns
from .merge_admin import propose_button, propose_view
from .models import DuplicateRule, DuplicateScan, DuplicateSet, MatchField
from .objects import object_choices
from .report_view import report_view
from .selectors import members_of, set_title
from .services import (
    duplicate_rule_clean,
    duplicate_rule_delete,
    duplicate_rule_save,
    duplicate_set_dismiss,
    match_field_clean,
    rule_fields_clean,
)

STATUS_TONES = {"open": "warn", "dismissed": "neutral", "merged": "ok"}


class MatchFieldForm(forms.ModelForm):
    class Meta:
        model = MatchField
        fields = ("field", "method", "similarity", "weight", "blocking")

    def _post_clean(self):
        super()._post_clean()
        if not self.errors:
            try:
                match_field_clean(self.instance)
            except ValidationError as exc:
                self.add_error(None, exc.messages)


class MatchFieldFormSet(forms.BaseInlineFormSet):
    def clean(self):
        """The checks across fields (a blocking key, enough points), on the form rather than after saving."""
        super().clean()
        rows = [
            MatchField(**{name: f.cleaned_data.get(name) for name in MatchFieldForm.Meta.fields})
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
        try:
            rule_fields_clean(self.instance, rows)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None


class MatchFieldInline(admin.TabularInline):
    model = MatchField
    form = MatchFieldForm
    formset = MatchFieldFormSet
    extra = 0
    verbose_name = "match field"
    verbose_name_plural = "Fields compared: a match adds its points; blocking keys decide which records are compared"


class DuplicateRuleForm(forms.ModelForm):
    object_type = forms.ChoiceField(label="object", choices=object_choices)

    class Meta:
        model = DuplicateRule
        fields = ("name", "object_type", "description", "is_active", "action", "auto_merge", "threshold")
        widgets = {"description": forms.Textarea(attrs={"rows": 2, "cols": 90})}

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        try:
            duplicate_rule_clean(self.instance)
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                self.add_error(name if name in self.fields else None, errors)


@admin.register(DuplicateRule)
class DuplicateRuleAdmin(ObjectStatusColumns, AuditedAdmin):
    form = DuplicateRuleForm
    inlines = (MatchFieldInline,)
    list_display = (
        "name",
        "object_label",
        "active_badge",
        "action",
        "merges",
        "threshold",
        "field_summary",
        "open_sets",
    )
    list_filter = ("object_type", "is_active", "action", "auto_merge")
    search_fields = ("name",)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related("fields")
            .annotate(open_count=Count("sets", filter=models_open()))
        )

    @admin.display(description="active", ordering="is_active")
    def active_badge(self, obj):
        return badge("Active", "ok") if obj.is_active else badge("Inactive")

    @admin.display(description="merges", ordering="auto_merge")
    def merges(self, obj):
        return (
            badge("Automatic", "warn", "Pairs of leads are merged without approval")
            if obj.auto_merge
            else "Need approval"
        )

    @admin.display(description="fields compared")
    def field_summary(self, obj):
        return ", ".join(
            f"{f.field} ({f.get_method_display().split(' (')[0].lower()}, {f.weight} points)" for f in obj.fields.all()
        )

    @admin.display(description="open sets", ordering="open_count")
    def open_sets(self, obj):
        url = reverse("admin:dataquality_duplicateset_changelist") + f"?rule__id__exact={obj.pk}&status__exact=open"
        return format_html('<a href="{}">{}</a>', url, obj.open_count)

    def perform_save(self, request, obj, form, change, *, reason: str) -> None:
        if not change:  # the fields come with the inlines, in save_related
            obj._defer_validation = True
            return
        duplicate_rule_save(rule=obj, actor=request.user, reason=reason)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        # A new rule is saved with its fields in save_related (a rule without fields is refused).

    def save_related(self, request, form, formsets, change):
        """The fields through the service: the inline rows replace the rule's fields, in order."""
        fields = []
        for formset in formsets:
            for f in formset.forms:
                if f.cleaned_data and not f.cleaned_data.get("DELETE"):
                    fields.append({name: f.cleaned_data.get(name) for name in MatchFieldForm.Meta.fields})
        reason = admin_change_reason(request, form, change, form.instance)
        with audited(actor=request.user, reason=reason):
            duplicate_rule_save(rule=form.instance, fields=fields, actor=request.user, reason=reason)
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            # Checks across the fields (a blocking key, enough points): shown on the form, never a 500.
            messages.error(request, " ".join(exc.messages))
            return HttpResponseRedirect(request.get_full_path())

    def has_delete_permission(self, request, obj=None):
        """A rule that found sets is made inactive, not deleted: its sets name it."""
        if obj is not None and obj.sets.exists():
            return False
        return super().has_delete_permission(request, obj)

    def perform_delete(self, request, obj, *, reason: str) -> None:
        duplicate_rule_delete(rule=obj, actor=request.user, reason=reason)


def models_open():
    from django.db.models import Q

    return Q(sets__status=DuplicateSet.Status.OPEN)


class DismissForm(forms.Form):
    reason = forms.CharField(
        label="Why are these not duplicates?",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Kept with the set; these records are not proposed together again by this rule.",
    )


@admin.register(DuplicateSet)
class DuplicateSetAdmin(ObjectStatusColumns, ReadOnlyMixin, admin.ModelAdmin):
    status_tones = STATUS_TONES
    list_display = ("title", "object_label", "status_badge", "score_text", "rule", "found_by", "updated")
    list_filter = ("status", "object_type", "rule", "found_by")
    list_select_related = ("rule",)
    list_per_page = 50
    fields = ("records", "status_badge", "score_text", "rule", "found_by", "created_at", "updated", "dismissal")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("rule", "dismissed_by")

    def changelist_view(self, request, extra_context=None):
        self._members = None
        extra_context = {**(extra_context or {}), "report_url": reverse("admin:dataquality_duplicateset_report")}
        return super().changelist_view(request, extra_context)

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        self._members = members_of(changelist.result_list)
        return changelist

    def _members_for(self, obj):
        members = getattr(self, "_members", None) or {}
        if obj.pk not in members:
            members = members_of([obj])
        return members[obj.pk]

    @admin.display(description="records")
    def title(self, obj):
        return set_title(obj, self._members_for(obj)) or f"Duplicate set #{obj.pk}"

    @admin.display(description="score", ordering="score")
    def score_text(self, obj):
        return f"{obj.score} points (the rule needs {obj.rule.threshold})"

    @admin.display(description="records and evidence")
    def records(self, obj):
        rows = []
        for member in self._members_for(obj):
            name = format_html('<a href="{}">{}</a>', member.url, member.name) if member.url else member.name
            why = format_html(' <a href="{}">why?</a>', member.why) if member.why else ""
            evidence = (
                format_html(
                    "matched {} ({} points): <ul>{}</ul>",
                    member.matched_name or "another record",
                    member.score,
                    format_html_join("", "<li>{}</li>", ((line,) for line in member.evidence)),
                )
                if member.evidence
                else ""
            )
            rows.append((name, member.external_id, why, evidence))
        return format_html(
            "<table><thead><tr><th>Record</th><th>CRM id</th><th></th><th>Why it is here</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    @admin.display(description="decision")
    def dismissal(self, obj):
        if obj.status != DuplicateSet.Status.DISMISSED:
            if obj.status == DuplicateSet.Status.OPEN:
                url = reverse("admin:dataquality_duplicateset_dismiss", args=[obj.pk])
                return format_html(
                    '{} <a class="button" href="{}">Dismiss: not duplicates…</a>', propose_button(obj), url
                )
            return "—"
        who = obj.dismissed_by.get_full_name() or obj.dismissed_by.get_username() if obj.dismissed_by else "someone"
        when = f"{timezone.localtime(obj.dismissed_at):%Y-%m-%d %H:%M %Z}" if obj.dismissed_at else ""
        return f"By {who} {when}: {obj.dismissed_reason}"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        dup_set = self.get_object(request, unquote(object_id))
        if dup_set is not None:
            extra_context = {**(extra_context or {}), "subtitle": set_title(dup_set, self._members_for(dup_set))}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("report/", view(lambda request: report_view(self, request)), name="dataquality_duplicateset_report"),
            path("<path:object_id>/dismiss/", view(self.dismiss_view), name="dataquality_duplicateset_dismiss"),
            path(
                "<path:object_id>/propose-merge/",
                view(lambda request, object_id: propose_view(self, request, object_id)),
                name="dataquality_duplicateset_propose",
            ),
            *super().get_urls(),
        ]

    def dismiss_view(self, request, object_id):
        dup_set = self.get_object(request, unquote(object_id))
        if dup_set is None:
            raise Http404(f"No duplicate set with id {object_id}.")
        if not request.user.has_perm("dataquality.change_duplicateset"):
            raise PermissionDenied
        members = self._members_for(dup_set)
        form = DismissForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                duplicate_set_dismiss(dup_set=dup_set, reason=form.cleaned_data["reason"], actor=request.user)
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                messages.success(request, f"Dismissed: {set_title(dup_set, members)} are not duplicates.")
                return HttpResponseRedirect(reverse("admin:dataquality_duplicateset_change", args=[dup_set.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Dismiss: {set_title(dup_set, members)}",
            "subtitle": None,
            "opts": self.model._meta,
            "original": dup_set,
            "members": members,
            "form": form,
            "has_view_permission": True,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/dataquality/duplicateset/dismiss.html", context)


@admin.register(DuplicateScan)
class DuplicateScanAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("started", "status", "summary", "steps", "finished")
    fields = ("status", "reason", "summary", "steps", "started", "finished")
    readonly_fields = fields

    @admin.display(description="started", ordering="started_at")
    def started(self, obj):
        return f"{timezone.localtime(obj.started_at):%Y-%m-%d %H:%M %Z}"

    @admin.display(description="finished", ordering="finished_at")
    def finished(self, obj):
        return f"{timezone.localtime(obj.finished_at):%Y-%m-%d %H:%M %Z}" if obj.finished_at else "—"

    @admin.display(description="what it found")
    def summary(self, obj):
        parts = []
        for object_type in (obj.counts or {}).get("objects", []):
            c = obj.counts.get(object_type, {})
            parts.append(
                f"{object_type}s: {c.get('records', 0)} records, {c.get('pairs_compared', 0)} pairs compared, "
                f"{c.get('duplicate_pairs', 0)} duplicate pairs, {c.get('sets_opened', 0)} sets opened, "
                f"{c.get('sets_extended', 0)} extended"
            )
        return "; ".join(parts) or "nothing to scan (no active rule)"
