"""Helpers of the handoff tests: the checklist admin form's POST data."""


def rows(prefix: str, *entries: dict, initial: int = 0) -> dict:
    """A formset's POST data: the management form and one row per entry."""
    data = {f"{prefix}-TOTAL_FORMS": str(len(entries)), f"{prefix}-INITIAL_FORMS": str(initial)}
    for index, entry in enumerate(entries):
        data.update({f"{prefix}-{index}-{key}": value for key, value in entry.items()})
    return data


def checklist_form(**parts) -> dict:
    """The checklist form's POST: the plain fields, and each row list (none unless given)."""
    data = {
        "name": "Sales → Billing",
        "kind": "deal",
        "trigger_stage": "closed_won",
        "renewal_field": "renewal_date",
        "days_before": "90",
        "owner_rule": "deal_owner",
        "accept_within_hours": "48",
        "is_active": "on",
        "conditions-match": "all",
    }
    for name in ("conditions", "required_fields", "attestations", "tasks"):
        data.update(parts.pop(name, rows(name)))
    data.update(parts)
    return data
