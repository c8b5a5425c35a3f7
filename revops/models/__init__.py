from .automation import AppliedAction, Automation, AutomationRun, AutomationVersion
from .dictionary import Enforcement, FieldDefinition, FieldType, Normaliser, ObjectType, Required, SourceOfTruth
from .integration import ApiToken, ChangeEntry, IdempotencyRecord, OutboxEvent, Scope, SyncBatch, SyncFailure
from .pause import AutomationSwitch, HeldEvent
from .records import Account, Activity, CrmRecord, Lead, Opportunity, Rep, Task, Team

__all__ = [
    "AppliedAction",
    "Automation",
    "AutomationRun",
    "AutomationSwitch",
    "AutomationVersion",
    "Account",
    "Activity",
    "ApiToken",
    "ChangeEntry",
    "CrmRecord",
    "Enforcement",
    "FieldDefinition",
    "Normaliser",
    "FieldType",
    "HeldEvent",
    "IdempotencyRecord",
    "Lead",
    "ObjectType",
    "Opportunity",
    "OutboxEvent",
    "Rep",
    "Required",
    "Scope",
    "SourceOfTruth",
    "SyncBatch",
    "SyncFailure",
    "Task",
    "Team",
]
