"""The Versions page of every versioned object: its versions, the diff between any two, "restore this version".

``VersionsMixin`` (part of ``AuditedAdmin``) adds ``<id>/versions/`` to the admin of each model
registered with ``revops.versions.register_versioned`` and a "Versions" button to its change page
(``templates/admin/change_form_object_tools.html``).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from revops.version_words import diff_sentence, version_diff, version_rows
from revops.versions import can_restore, version_restore, versioned, versions_of


def _number(value, default: int | None) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _error_text(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        parts = []
        for name, texts in exc.message_dict.items():
            where = "" if name in ("__all__", "version", "reason") else f"{name.replace('_', ' ')}: "
            parts.extend(f"{where}{text}" for text in texts)
        return " ".join(parts)
    return " ".join(exc.messages)


def versions_view(model_admin, request, object_id):
    obj = model_admin.get_object(request, unquote(object_id))
    if obj is None:
        raise Http404("No such object.")
    if not model_admin.has_view_or_change_permission(request, obj):
        raise PermissionDenied
    spec = versioned(obj)
    url = reverse(f"{model_admin.admin_site.name}:{obj._meta.app_label}_{obj._meta.model_name}_versions", args=[obj.pk])
    if request.method == "POST":
        number = _number(request.POST.get("number"), None)
        try:
            made = version_restore(
                obj=obj, number=number or 0, actor=request.user, reason=request.POST.get("reason", "")
            )
        except PermissionDenied:
            raise
        except ValidationError as exc:
            messages.error(request, f"Version {number} was not restored: {_error_text(exc)}")
        else:
            messages.success(request, f"Version {number} restored as version {made.number}.")
        return HttpResponseRedirect(url)
    versions = list(versions_of(obj))
    by_number = {v.number: v for v in versions}
    current = versions[0] if versions else None
    newer = by_number.get(_number(request.GET.get("b"), None)) or current
    older_default = next((v for v in versions if newer and v.number < newer.number), None)
    older = by_number.get(_number(request.GET.get("a"), None)) or older_default
    diff = version_diff(spec, older.data, newer.data) if older and newer else []
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": obj._meta,
        "original": obj,
        "title": f"Versions of {spec.label} “{obj}”",
        "label": spec.label,
        "versions": versions,
        "current": current,
        "older": older,
        "newer": newer,
        "diff": diff,
        "diff_sentence": diff_sentence(spec, diff) if older and newer else "",
        "shown_rows": version_rows(spec, newer.data) if newer else [],
        "can_restore": can_restore(request.user, spec.model),
        "change_url": reverse(
            f"{model_admin.admin_site.name}:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk]
        ),
        "versions_url": url,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/revops/versions.html", context)


class VersionsMixin:
    """Adds the Versions page and button to the admin of a versioned model (nothing for the others)."""

    def get_urls(self):
        urls = super().get_urls()
        if versioned(self.model) is None:
            return urls
        info = self.model._meta.app_label, self.model._meta.model_name
        extra = [
            path(
                "<path:object_id>/versions/",
                self.admin_site.admin_view(lambda request, object_id: versions_view(self, request, object_id)),
                name="{}_{}_versions".format(*info),
            )
        ]
        return extra + urls

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if versioned(self.model) is not None and object_id:
            extra_context = dict(extra_context or {})
            info = self.admin_site.name, self.model._meta.app_label, self.model._meta.model_name
            extra_context["versions_url"] = reverse("{}:{}_{}_versions".format(*info), args=[unquote(object_id)])
        return super().change_view(request, object_id, form_url, extra_context)
