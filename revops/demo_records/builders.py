"""The core's demo builders: the record org (first) and the CRM's morning sync (after the configuration).

Both read and write the shared demo ``context`` (see ``revops.demo``): ``actor``, ``now`` and
``seed`` come in; ``fresh`` (whether this load created the org), ``counts``, ``details`` and
``custom_fields`` go out, for the load's summary. The layers above read ``fresh`` and only add
their records, runs and items to an org created in the same load, so a second load adds nothing.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from .crm import crm_morning_sync
from .records import RecordsBuilder
from .tables import ID_PREFIXES, REVOPS_LEAD, REVOPS_ONCALL


def demo_loaded() -> bool:
    """Whether any demo record (by its external-id prefix) exists."""
    return any(model.objects.filter(external_id__startswith=prefix).exists() for model, prefix in ID_PREFIXES.items())


def demo_user_ensure(username: str, first: str, last: str, email: str):
    """The staff login ``username`` (created without a usable password when missing)."""
    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"first_name": first, "last_name": last, "email": email, "is_staff": True}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def demo_revops_people() -> tuple:
    """The demo's RevOps lead and RevOps on-call logins (created when missing)."""
    return demo_user_ensure(*REVOPS_LEAD), demo_user_ensure(*REVOPS_ONCALL)


def demo_records_build(context: dict) -> None:
    """Create the demo org's records unless a demo is already loaded; set ``context["fresh"]``."""
    context.setdefault("counts", {})
    context.setdefault("details", {})
    context.setdefault("custom_fields", 0)
    context["revops_lead"], context["revops_oncall"] = demo_revops_people()
    if demo_loaded():
        context["fresh"] = False
        return
    builder = RecordsBuilder(seed=context["seed"], actor=context["actor"], now=context["now"])
    builder.build()
    context["fresh"] = True
    context["counts"].update(builder.counts)
    context["details"].update(builder.details)
    context["custom_fields"] += builder.custom_fields


def demo_crm_morning_build(context: dict) -> None:
    """On a freshly created org, push the CRM's morning changes through the sync and process them."""
    if not context.get("fresh"):
        return
    summary = crm_morning_sync(actor=context["actor"], now=context["now"])
    context["counts"]["morning sync"] = summary["records"]
    for status in ("created", "updated", "rejected"):
        if summary.get(status):
            context["details"][f"morning sync:{status}"] = summary[status]
