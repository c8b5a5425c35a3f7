from .dictionary import FieldDefinition, FieldType, ObjectType, Required, SourceOfTruth
from .records import Account, Activity, CrmRecord, Lead, Opportunity, Rep, Task, Team

__all__ = [
    "Account",
    "Activity",
    "CrmRecord",
    "FieldDefinition",
    "FieldType",
    "Lead",
    "ObjectType",
    "Opportunity",
    "Rep",
    "Required",
    "SourceOfTruth",
    "Task",
    "Team",
]
