"""Attestations: a person confirms in the portal what no CRM field can say ("risks and promises
reviewed with the CSM"); the handoff is evaluated again at once, so the last tick sends it."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from revops.audit import audited

from .models import Handoff
from .renewals import renewals_evaluate
from .services import _locked, _require, handoffs_evaluate


@transaction.atomic
def handoff_attest(*, handoff: Handoff, key: str, actor, now=None) -> Handoff:
    """Tick one of the checklist's attestations ("risks and promises reviewed with the CSM") as ``actor``;
    the handoff is evaluated again at once, so the last tick sends it."""
    now = now or timezone.now()
    locked = _locked(handoff)
    labels = {entry["key"]: entry["label"] for entry in locked.checklist.attestations}
    if key not in labels:
        raise ValidationError({"key": f"{locked.checklist.name} has no attestation {key!r}."})
    _require(locked, Handoff.Status.WAITING, Handoff.Status.REJECTED, verb="confirmed again")
    if key not in (locked.attested or {}):
        locked.attested = {**(locked.attested or {}), key: {"by": actor.get_username(), "at": now.isoformat()}}
        with audited(actor=actor, reason=f"handoff: confirmed {labels[key]}"[:100]):
            locked.save(update_fields=["attested", "updated_at"])
    if locked.opportunity_id:
        handoffs_evaluate(opportunity_ids=[locked.opportunity_id], actor=actor, cause="attestation confirmed", now=now)
    else:
        renewals_evaluate(account_ids=[locked.account_id], actor=actor, cause="attestation confirmed", now=now)
    locked.refresh_from_db()
    return locked
