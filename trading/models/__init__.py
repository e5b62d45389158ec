from trading.audit.models import AuditEntry, Checkpoint
from trading.models.calendar import CalendarDay
from trading.models.parties import Organization, OrganizationKind, Role, User
from trading.models.sections import (
    Announcement,
    AnnouncementKind,
    Document,
    Procedure,
    Project,
    Section,
    SectionState,
    SectionTransition,
    TransactionType,
)

__all__ = [
    "Announcement",
    "AnnouncementKind",
    "AuditEntry",
    "CalendarDay",
    "Checkpoint",
    "Document",
    "Organization",
    "OrganizationKind",
    "Procedure",
    "Project",
    "Role",
    "Section",
    "SectionState",
    "SectionTransition",
    "TransactionType",
    "User",
]
