from .automation import AppliedAction, Automation, AutomationRun, AutomationVersion
from .dictionary import Enforcement, FieldDefinition, FieldType, ObjectType, Required, SourceOfTruth
from .integration import ApiToken, ChangeEntry, IdempotencyRecord, OutboxEvent, Scope, SyncBatch, SyncFailure
from .metrics import MetricDaily, MetricState
from .records import Account, Activity, CrmRecord, Lead, Opportunity, Rep, Task, Team

__all__ = [
    "AppliedAction",
    "Automation",
    "AutomationRun",
    "AutomationVersion",
    "Account",
    "Activity",
    "ApiToken",
    "ChangeEntry",
    "CrmRecord",
    "Enforcement",
    "FieldDefinition",
    "FieldType",
    "IdempotencyRecord",
    "Lead",
    "MetricDaily",
    "MetricState",
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
