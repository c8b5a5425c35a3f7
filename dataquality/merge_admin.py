"""The merges admin: proposals with their field-by-field preview (the approver picks any winner, then
approves or rejects), merges with what moved and an undo that says what it would overwrite, and the
"Propose a merge" page of an open duplicate set."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from exceptions.approvals import exception_approval_approve, exception_approval_reject
from exceptions.models import ExceptionItem
from revops.admin.base import ReadOnlyMixin
from revops.admin.links import why_url
from revops.plugins import merge_relations

from .admin_columns import ObjectStatusColumns
from .merges import merge_apply, merge_propose, merge_reject, merge_undo, merge_winners_set, undo_conflicts
from .models import DuplicateSet, Merge
from .objects import duplicate_object
from .selectors import members_of, set_title

STATUS_TONES = {"proposed": "warn", "merged": "ok", "rejected": "neutral", "undone": "neutral"}


def _names(merge: Merge) -> tuple[str, str]:
    model = duplicate_object(merge.object_type).model
    found = {r.pk: f"{r} · {r.external_id}" for r in model.objects.filter(pk__in=[merge.survivor_id, merge.loser_id])}
    return found.get(merge.survivor_id, f"#{merge.survivor_id}"), found.get(merge.loser_id, f"#{merge.loser_id}")


def _open_item(merge: Merge) -> ExceptionItem | None:
    return ExceptionItem.objects.filter(dedupe_key=f"merge:{merge.pk}", status__in=ExceptionItem.OPEN_STATUSES).first()


@admin.register(Merge)
class MergeAdmin(ObjectStatusColumns, ReadOnlyMixin, admin.ModelAdmin):
    status_tones = STATUS_TONES
    list_display = ("title", "object_label", "status_badge", "values_taken", "decided", "updated")
    list_filter = ("status", "automatic", "object_type")
    list_per_page = 50

    @admin.display(description="merge")
    def title(self, obj):
        survivor, loser = _names(obj)
        return f"{loser} → {survivor}"

    @admin.display(description="values from the merged record")
    def values_taken(self, obj):
        taken = [row["label"] for row in obj.fields if row["winner"] == "loser"]
        return ", ".join(taken) or "none"

    @admin.display(description="decided")
    def decided(self, obj):
        who = obj.undone_by if obj.status == Merge.Status.UNDONE else obj.decided_by
        at = obj.undone_at if obj.status == Merge.Status.UNDONE else obj.decided_at
        if who is None or at is None:
            return "—"
        return f"{who.get_full_name() or who.get_username()}, {timezone.localtime(at):%Y-%m-%d %H:%M %Z}"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/decide/", view(self.decide_view), name="dataquality_merge_decide"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        merge = self.get_object(request, unquote(object_id))
        if merge is None:
            raise Http404(f"No merge with id {object_id}.")
        if not self.has_view_or_change_permission(request, merge):
            raise PermissionDenied
        survivor, loser = _names(merge)
        moved = []
        if merge.moved:
            labels = {f"{r.model._meta.label}.{r.field}": r.label for r in merge_relations(merge.object_type)}
            moved = [(labels.get(key, key), len(ids)) for key, ids in merge.moved.items()]
        context = {
            **self.admin_site.each_context(request),
            "title": f"Merge #{merge.pk}: {loser} → {survivor}",
            "opts": self.model._meta,
            "original": merge,
            "merge": merge,
            "label": duplicate_object(merge.object_type).label,
            "survivor_name": survivor,
            "loser_name": loser,
            "survivor_why": why_url(merge.object_type, merge.survivor_id),
            "loser_why": why_url(merge.object_type, merge.loser_id),
            "rows": merge.fields,
            "differing": [row for row in merge.fields if row.get("differs")],
            "same": [row for row in merge.fields if not row.get("differs")],
            "moved": moved,
            "conflicts": undo_conflicts(merge) if merge.status == Merge.Status.MERGED else [],
            "can_decide": request.user.has_perm("dataquality.change_merge"),
            "status_badge": self.status_badge(merge),
            "has_view_permission": True,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/dataquality/merge/change_form.html", context)

    def decide_view(self, request, object_id):
        merge = self.get_object(request, unquote(object_id))
        if merge is None:
            raise Http404(f"No merge with id {object_id}.")
        if not request.user.has_perm("dataquality.change_merge"):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:dataquality_merge_change", args=[merge.pk]))
        action = request.POST.get("action")
        note = request.POST.get("note", "").strip()
        back = HttpResponseRedirect(reverse("admin:dataquality_merge_change", args=[merge.pk]))
        try:
            if action in ("save", "approve") and merge.status == Merge.Status.PROPOSED:
                winners = {
                    row["key"]: request.POST[f"winner-{row['key']}"]
                    for row in merge.fields
                    if f"winner-{row['key']}" in request.POST
                }
                merge = merge_winners_set(merge=merge, winners=winners, actor=request.user)
            if action == "approve":
                item = _open_item(merge)
                if item is not None:
                    exception_approval_approve(item=item, actor=request.user, note=note)
                else:
                    merge_apply(merge=merge, actor=request.user, note=note)
                messages.success(request, "Merged. The CRM is told through the changes feed; Undo is below.")
            elif action == "reject":
                if not note:
                    raise ValidationError("Say why the merge is rejected.")
                item = _open_item(merge)
                if item is not None:
                    exception_approval_reject(item=item, reason=note, actor=request.user)
                else:
                    merge_reject(merge=merge, actor=request.user, reason=note)
                messages.success(request, "Rejected: nothing was merged.")
            elif action == "undo":
                merge_undo(merge=merge, actor=request.user, reason=note)
                messages.success(request, "Undone: both records and every moved row are as they were.")
            elif action == "save":
                messages.success(request, "Your choices are saved.")
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        return back


def propose_view(model_admin, request, object_id):
    """ "Propose a merge" of an open duplicate set: pick the record that stays, then see the preview."""
    dup_set = model_admin.get_object(request, unquote(object_id))
    if dup_set is None:
        raise Http404(f"No duplicate set with id {object_id}.")
    if not request.user.has_perm("dataquality.add_merge"):
        raise PermissionDenied
    members = members_of([dup_set])[dup_set.pk]
    if request.method == "POST":
        try:
            survivor = request.POST.get("survivor")
            merges = merge_propose(
                dup_set=dup_set,
                actor=request.user,
                survivor_id=int(survivor) if survivor and survivor.isdigit() else None,
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return HttpResponseRedirect(reverse("admin:dataquality_duplicateset_change", args=[dup_set.pk]))
        messages.success(
            request,
            f"Proposed: {len(merges)} merge{'s' if len(merges) != 1 else ''} waiting for approval in the queue.",
        )
        return HttpResponseRedirect(reverse("admin:dataquality_merge_change", args=[merges[0].pk]))
    from .merges import merge_fields, survivor_first

    model = duplicate_object(dup_set.object_type).model
    records = list(model.objects.filter(pk__in=[m.object_id for m in members]))
    best = survivor_first(records, merge_fields(dup_set.object_type))[0].pk if records else None
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Propose a merge: {set_title(dup_set, members)}",
        "opts": model_admin.model._meta,
        "original": dup_set,
        "members": members,
        "best": best,
        "has_view_permission": True,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/dataquality/duplicateset/propose.html", context)


def propose_button(dup_set: DuplicateSet) -> str:
    if dup_set.status != DuplicateSet.Status.OPEN:
        return ""
    url = reverse("admin:dataquality_duplicateset_propose", args=[dup_set.pk])
    return format_html('<a class="button" href="{}">Propose a merge…</a>', url)
