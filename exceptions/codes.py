"""The words of the queue's codes: why an item was closed, and why a record was suppressed for a rule.

Kept apart from ``services`` so the models (and templates through them) can show a code in words.
"""

from __future__ import annotations

# Why an item was resolved, as people choose it. ``other`` needs a note saying what was done.
RESOLUTION_CODES = {
    "fixed_in_crm": "Fixed in the CRM",
    "data_corrected": "Data corrected in the portal",
    "rule_adjusted": "Automation rule adjusted",
    "duplicate": "Duplicate of another item",
    "not_an_issue": "Not an issue",
    "noise": "Noise: the rule is wrong here",
    "other": "Other (see note)",
}

# Codes the queue writes itself: a dismissal (with or without the noise flag), and an item its
# producer closed because every rule on it was suppressed for the record.
SUPPRESSED = "suppressed"
NOISE = "noise"
REVERTED = "reverted"
SYSTEM_CODES = {
    "dismissed": "Dismissed",
    SUPPRESSED: "Suppressed for this record",
    REVERTED: "Reverted: the automation run that opened it was undone",
}


def resolution_label(code: str) -> str:
    """A resolution code in words (an unknown code made readable)."""
    if not code:
        return ""
    return RESOLUTION_CODES.get(code) or SYSTEM_CODES.get(code) or code.replace("_", " ").capitalize()
