from .automation import (
    AppliedAction,
    Automation,
    AutomationCandidate,
    AutomationPass,
    AutomationRun,
    AutomationVersion,
)
from .dictionary import Enforcement, FieldDefinition, FieldType, Normaliser, ObjectType, Required, SourceOfTruth
from .integration import ApiToken, ChangeEntry, IdempotencyRecord, OutboxEvent, Scope, SyncBatch, SyncFailure
from .metrics import MetricDaily, MetricState
from .pause import AutomationSwitch, HeldEvent
from .records import Account, Activity, Contact, CrmRecord, Lead, Opportunity, Rep, Task, Team
from .revert import RunRevert, RunRevertBatch
from .versions import ConfigRelease, ObjectVersion

__all__ = [
    "AutomationCandidate",
    "AutomationPass",
    "AppliedAction",
    "Automation",
    "AutomationRun",
    "AutomationSwitch",
    "AutomationVersion",
    "Account",
    "Activity",
    "ApiToken",
    "ChangeEntry",
    "ConfigRelease",
    "Contact",
    "CrmRecord",
    "Enforcement",
    "FieldDefinition",
    "Normaliser",
    "FieldType",
    "HeldEvent",
    "IdempotencyRecord",
    "Lead",
    "MetricDaily",
    "MetricState",
    "ObjectType",
    "ObjectVersion",
    "Opportunity",
    "OutboxEvent",
    "Rep",
    "RunRevert",
    "RunRevertBatch",
    "Required",
    "Scope",
    "SourceOfTruth",
    "SyncBatch",
    "SyncFailure",
    "Task",
    "Team",
]
