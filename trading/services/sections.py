"""Writes on projects and sections: create, publish, clarify, documents, suspend."""

import hashlib
from datetime import datetime

from django.core.files.base import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from trading import policy, rules
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append
from trading.errors import NotAllowed, TransitionError
from trading.i18n import official_language
from trading.models import Announcement, AnnouncementKind, Document, Procedure, Project, Section, SectionState
from trading.services.lifecycle import section_transition
from trading.services.locks import lock_section

EDITABLE_FIELDS = {
    "name",
    "procedure",
    "estimated_price_fen",
    "starting_price_fen",
    "increment_fen",
    "deposit_fen",
    "documents_issued_at",
    "registration_start",
    "registration_end",
    "bid_deadline",
    "opening_at",
    "camera_url",
}


def section_create(*, actor, project: Project, public_id: str, name: str, **fields) -> Section:
    if not (policy.role_of(actor) == "staff" or actor.organization_id in (project.tenderer_id, project.agency_id)):
        raise NotAllowed("NOT-ALLOWED", _("只有招标人、其代理机构或交易中心可以创建标段。"))
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"unknown section fields: {sorted(unknown)}")
    with transaction.atomic():
        section = Section.objects.create(project=project, public_id=public_id, name=name, **fields)
        rules.check_dep_cap_2pct(section)  # refused at set-up already, not only at publication
        audit_append(event=AuditEvent.SECTION_CREATED, actor=actor, section=section, data={"name": name})
    return section


def section_update(*, actor, section: Section, **fields) -> Section:
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"unknown section fields: {sorted(unknown)}")
    with transaction.atomic():
        locked = lock_section(section.pk)
        if not policy.can_edit_section(actor, locked):
            raise NotAllowed("NOT-ALLOWED", _("只有草稿状态的标段可以由招标人、代理机构或交易中心修改。"))
        for name, value in fields.items():
            setattr(locked, name, value)
        rules.check_dep_cap_2pct(locked)
        locked.save(update_fields=[*fields, "updated_at"])
    return locked


def section_publish(*, actor, section: Section, body: str = "") -> Section:
    """Publish the tender (or sale) announcement, after the publish step's rules."""
    if not policy.can_publish_section(actor, section):
        raise NotAllowed("NOT-ALLOWED", _("只有交易中心工作人员可以发布公告。"))
    now = timezone.now()

    def checks(locked: Section) -> None:
        # Documents cannot be issued before the announcement that offers them.
        if locked.documents_issued_at is None or locked.documents_issued_at < now:
            locked.documents_issued_at = now
        rules.publish_checks(locked, now=now)
        locked.published_at = now
        locked.save(update_fields=["documents_issued_at", "published_at"])

    from trading.supervision.services.monitor import supervised

    # supervised: a refusal by a rule (DOC-MIN-20D, ...) raises its alert once this transaction has rolled back.
    with supervised(section=section, step="publish", actor=actor), transaction.atomic():
        section = section_transition(section=section, to_state=SectionState.PUBLISHED, actor=actor, checks=checks)
        if section.procedure == Procedure.OPEN_TENDER:
            from bidding.ceremony import opening_key_generate

            opening_key_generate(section=section, actor=actor)
        kind = AnnouncementKind.SALE if section.procedure == Procedure.AUCTION else AnnouncementKind.TENDER
        with official_language():
            title = f"{section.project.name} {section.name} {AnnouncementKind(kind).label}"
        Announcement.objects.create(section=section, kind=kind, title=title, body=body or title, published_at=now)
        audit_append(
            event=AuditEvent.SECTION_PUBLISHED,
            actor=actor,
            section=section,
            data={"bid_deadline": section.bid_deadline.isoformat(), "deposit_fen": section.deposit_fen},
        )
    return section


def clarification_issue(*, actor, section: Section, title: str, body: str, new_deadline: datetime | None = None) -> Announcement:
    """A clarification or change: at least 15 days before the deadline, else the deadline moves (CLARIFY-15D)."""
    if not (policy.role_of(actor) == "staff" or policy.manages(actor, section)):
        raise NotAllowed("NOT-ALLOWED", _("只有招标人、代理机构或交易中心可以发出澄清。"))
    now = timezone.now()
    from trading.supervision.services.monitor import supervised

    with supervised(section=section, step="clarification", actor=actor), transaction.atomic():
        locked = lock_section(section.pk)
        if locked.state != SectionState.PUBLISHED or now >= locked.bid_deadline:
            raise TransitionError("BID-DEADLINE", _("投标截止后不得发出澄清或修改。"))
        rules.check_clarify_15d(locked, now=now, new_deadline=new_deadline)
        if new_deadline is not None:
            shift = new_deadline - locked.bid_deadline
            locked.bid_deadline = new_deadline
            locked.opening_at = max(locked.opening_at + shift, new_deadline)
            rules.check_doc_min_20d(locked)
            locked.save(update_fields=["bid_deadline", "opening_at", "updated_at"])
        announcement = Announcement.objects.create(
            section=locked, kind=AnnouncementKind.CLARIFICATION, title=title, body=body, published_at=now
        )
        audit_append(
            event=AuditEvent.CLARIFICATION_ISSUED,
            actor=actor,
            section=locked,
            data={"title": title, "bid_deadline": locked.bid_deadline.isoformat()},
        )
    return announcement


def document_upload(*, actor, section: Section, name: str, upload, content_type: str = "") -> Document:
    """Store a new version of a tender document; its SHA-256 is computed while streaming."""
    if not (policy.can_edit_section(actor, section) or policy.role_of(actor) == "staff" or policy.manages(actor, section)):
        raise NotAllowed("NOT-ALLOWED", _("无权上传该标段的文件。"))
    digest = hashlib.sha256()
    size = 0
    for chunk in upload.chunks():
        digest.update(chunk)
        size += len(chunk)
    upload.seek(0)
    with transaction.atomic():
        lock_section(section.pk)
        version = (section.documents.filter(name=name).order_by("-version").values_list("version", flat=True).first() or 0) + 1
        document = Document(
            section=section,
            name=name,
            version=version,
            filename=getattr(upload, "name", name),
            content_type=content_type or getattr(upload, "content_type", "") or "application/octet-stream",
            size=size,
            sha256=digest.hexdigest(),
            uploaded_by=actor,
        )
        document.file.save(document.sha256, File(upload), save=False)
        document.save()
        audit_append(
            event=AuditEvent.DOCUMENT_UPLOADED,
            actor=actor,
            section=section,
            data={"name": name, "version": version, "sha256": document.sha256, "size": size},
        )
    return document


def section_suspend(*, actor, section: Section, reason: str) -> Section:
    if not policy.can_supervise(actor):
        raise NotAllowed("NOT-ALLOWED", _("只有监督人员可以暂停标段。"))
    if not reason.strip():
        raise TransitionError("REASON-REQUIRED", _("暂停须说明理由。"), fields={"reason": _("必填")})
    return section_transition(section=section, to_state=SectionState.SUSPENDED, actor=actor, reason=reason)


def section_resume(*, actor, section: Section, reason: str) -> Section:
    """By a supervisor; actor None: the platform itself (a pause it made ends, e.g. an objection answered)."""
    if actor is not None and not policy.can_supervise(actor):
        raise NotAllowed("NOT-ALLOWED", _("只有监督人员可以恢复标段。"))
    with transaction.atomic():
        locked = lock_section(section.pk)
        if locked.state != SectionState.SUSPENDED:
            raise TransitionError("TRANSITION", _("标段未处于暂停状态。"))
        back = locked.suspended_from
        locked.state, locked.suspended_from = back, ""
        locked.save(update_fields=["state", "suspended_from", "updated_at"])
        from trading.models import SectionTransition

        SectionTransition.objects.create(
            section=locked, from_state=SectionState.SUSPENDED, to_state=back, actor=actor, reason=reason
        )
        audit_append(event=AuditEvent.SECTION_RESUMED, actor=actor, section=locked, data={"to": back, "reason": reason})
        from trading.supervision.services.monitor import transition_published

        transition_published(section=locked, from_state=SectionState.SUSPENDED, to_state=back, actor=actor, reason=reason)
    section.refresh_from_db()
    return section


def project_create(*, actor, code: str, name: str, transaction_type: str, region: str, state_funded: bool = True) -> Project:
    """A tenderer creates its own project; an agency is recorded when it acts for one."""
    role = policy.role_of(actor)
    if role not in policy.MANAGING_ROLES or actor.organization_id is None:
        raise NotAllowed("NOT-ALLOWED", _("只有招标人或代理机构可以创建项目。"))
    if role == "agency":
        raise NotAllowed("NOT-ALLOWED", _("代理机构须由招标人委托后创建项目。"))
    with transaction.atomic():
        project = Project.objects.create(
            code=code,
            name=name,
            tenderer_id=actor.organization_id,
            transaction_type=transaction_type,
            region=region,
            state_funded=state_funded,
        )
        audit_append(event=AuditEvent.SECTION_CREATED, actor=actor, data={"project": code})
    return project
