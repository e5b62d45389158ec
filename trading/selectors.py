"""Reads, already passed through the visibility policy."""

from django.db.models import Q, QuerySet
from django.http import Http404

from bidding.models import Registration
from trading import policy
from trading.audit.models import AuditEntry, SealedAuditEntry
from trading.models import Announcement, Project, Section


def sections_list(*, user) -> QuerySet:
    return policy.sections_visible(user, Section.objects.select_related("project", "project__tenderer"))


def section_get(*, user, public_id: str) -> Section:
    """404 for a section that is missing and for one the viewer may not see: no existence oracle."""
    section = sections_list(user=user).filter(public_id=public_id).first()
    if section is None:
        raise Http404
    return section


def announcements_list(*, user, kind: str = "", region: str = "", status: str = "", query: str = "") -> QuerySet:
    queryset = Announcement.objects.filter(policy.section_visibility(user, prefix="section__")).select_related(
        "section", "section__project"
    )
    if kind:
        queryset = queryset.filter(kind=kind)
    if region:
        queryset = queryset.filter(section__project__region=region)
    if status:
        queryset = queryset.filter(section__state=status)
    if query:
        queryset = queryset.filter(Q(title__icontains=query) | Q(body__icontains=query) | Q(section__public_id__iexact=query))
    return queryset


def projects_list(*, user) -> QuerySet:
    role = policy.role_of(user)
    projects = Project.objects.order_by("-created_at", "-pk")
    if role in policy.OFFICIAL_ROLES:
        return projects
    if role in policy.MANAGING_ROLES and user.organization_id:
        return projects.filter(Q(tenderer_id=user.organization_id) | Q(agency_id=user.organization_id))
    return projects.none()


def registrations_list(*, user, section: Section | None = None) -> QuerySet:
    queryset = Registration.objects.select_related("section", "organization")
    if section is not None:
        queryset = queryset.filter(section=section)
    return policy.registrations_visible(user, queryset)


def registrations_own(*, user) -> QuerySet:
    """The bidder's own registrations ("mine"; after an opening the policy shows it the others' too)."""
    return registrations_list(user=user).filter(organization_id=getattr(user, "organization_id", None))


def audit_entries_list(*, user, section: Section | None = None) -> QuerySet:
    queryset = AuditEntry.objects.all()
    if section is not None:
        queryset = queryset.filter(section=section)
    return policy.audit_entries_visible(user, queryset)


def own_sealed_entries(*, user, section: Section) -> QuerySet:
    """The bidder's own acts in a section not yet opened, as recorded in its sealed chain (once opened, they are in
    the public log)."""
    if section.opened_at is not None:
        return SealedAuditEntry.objects.none()
    return policy.sealed_entries_visible(user, SealedAuditEntry.objects.filter(section=section)).order_by("seq")


def regions_list() -> list[str]:
    """Regions of published sections, for the portal's filter (public facts only)."""
    return list(
        Section.objects.filter(published_at__isnull=False)
        .order_by("project__region")
        .values_list("project__region", flat=True)
        .distinct()
    )
