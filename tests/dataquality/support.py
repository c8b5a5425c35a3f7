"""Shared builders of the data-quality tests."""

from __future__ import annotations

from dataquality.models import DuplicateRule, MatchField
from dataquality.rules import compile_rule
from dataquality.services import duplicate_rule_save
from tests.factories import UserFactory

LEAD_FIELDS = [
    {"field": "email", "method": "normalised", "weight": 100, "blocking": True},
    {"field": "name", "method": "fuzzy", "similarity": 88, "weight": 50, "blocking": True},
    {"field": "email", "method": "domain", "weight": 25, "blocking": False},
    {"field": "company", "method": "fuzzy", "similarity": 90, "weight": 25, "blocking": False},
]
ACCOUNT_FIELDS = [
    {"field": "name", "method": "fuzzy", "similarity": 80, "weight": 60, "blocking": False},
    {"field": "web_domain", "method": "domain", "weight": 60, "blocking": True},
    {"field": "country", "method": "exact", "weight": 20, "blocking": False},
]
LABELS = {
    "email": ("Email", "email"),
    "name": ("Name", "none"),
    "phone": ("Phone", "phone"),
    "company": ("Company", "none"),
    "domain": ("Domain", "domain"),
    "web_domain": ("Web domain", "none"),
    "country": ("Country", "country"),
}


def rule(name="Leads: same person", *, object_type="lead", action="report", threshold=100, fields=None, actor=None):
    """A saved rule (through the service)."""
    fields = fields if fields is not None else (LEAD_FIELDS if object_type == "lead" else ACCOUNT_FIELDS)
    obj = DuplicateRule(name=name, object_type=object_type, action=action, threshold=threshold)
    return duplicate_rule_save(rule=obj, fields=fields, actor=actor or UserFactory(), reason="test")


def spec(object_type="lead", fields=None, *, threshold=100, action="report", pk=1):
    """A compiled rule without the database (for the matcher and blocking tests)."""
    fields = fields if fields is not None else (LEAD_FIELDS if object_type == "lead" else ACCOUNT_FIELDS)
    obj = DuplicateRule(pk=pk, name=f"rule {pk}", object_type=object_type, action=action, threshold=threshold)
    rows = [
        MatchField(
            field=f["field"],
            method=f["method"],
            similarity=f.get("similarity", 90),
            weight=f["weight"],
            blocking=f["blocking"],
        )
        for f in fields
    ]
    return compile_rule(obj, fields=rows, labels=LABELS)
