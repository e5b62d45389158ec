"""Registration (报名): inside the window, once per bidder, never beside a related company."""

import secrets

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from bidding.envelope import EnvelopeError, load_public_key
from bidding.models import Registration
from escrow.services import deposit_open
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append
from trading.errors import NotAllowed, RuleViolation, TransitionError
from trading.models import Organization, Role, Section, SectionState
from trading.services.locks import lock_section

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: codes are read aloud


def new_bidder_code() -> str:
    return "B-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(4))


def related_organizations(organization: Organization) -> Q:
    """Same legal representative, or a control relation either way (BID-NO-RELATED)."""
    related = Q(controlled_by_id=organization.pk)
    if organization.controlled_by_id:
        related |= Q(pk=organization.controlled_by_id) | Q(controlled_by_id=organization.controlled_by_id)
    if organization.legal_representative:
        related |= Q(legal_representative=organization.legal_representative)
    return related & ~Q(pk=organization.pk)


def registration_create(
    *,
    actor,
    section: Section,
    contact_name: str,
    contact_phone: str,
    qualifications: dict | None = None,
    signing_public_key: str = "",
    encryption_public_key: str = "",
) -> Registration:
    if actor.role != Role.BIDDER or actor.organization_id is None:
        raise NotAllowed("NOT-ALLOWED", _("只有投标人可以报名。"))
    for field, value in (("signing_public_key", signing_public_key), ("encryption_public_key", encryption_public_key)):
        if value:
            try:
                load_public_key(value)
            except EnvelopeError:
                raise RuleViolation(
                    "KEY-INVALID", _("公钥格式无效（应为 P-256 未压缩点的 base64url）。"), fields={field: "P-256"}
                ) from None
    now = timezone.now()
    with transaction.atomic():
        locked = lock_section(section.pk)
        if locked.state != SectionState.PUBLISHED or not (locked.registration_start <= now < locked.registration_end):
            raise TransitionError("REGISTRATION-CLOSED", _("不在报名时间内。"))
        organization = actor.organization
        related = Organization.objects.filter(related_organizations(organization))
        if Registration.objects.filter(section=locked, organization__in=related).exists():
            # The message names no one: the firewall holds even in refusals.
            raise RuleViolation(
                "BID-NO-RELATED", _("与本单位存在同一法定代表人或控股、管理关系的单位已报名本标段，不得同时参加。")
            )
        if Registration.objects.filter(section=locked, organization=organization).exists():
            raise TransitionError("ALREADY-REGISTERED", _("本单位已报名该标段。"))
        for _attempt in range(20):
            try:
                with transaction.atomic():
                    registration = Registration.objects.create(
                        section=locked,
                        organization=organization,
                        registered_by=actor,
                        bidder_code=new_bidder_code(),
                        contact_name=contact_name,
                        contact_phone=contact_phone,
                        qualifications=qualifications or {},
                        signing_public_key=signing_public_key,
                        encryption_public_key=encryption_public_key,
                    )
                break
            except IntegrityError:
                continue
        else:
            raise RuntimeError("no free bidder code")
        audit_append(event=AuditEvent.REGISTERED, actor=actor, section=locked, data={"bidder_code": registration.bidder_code})
        deposit_open(registration=registration)  # its own virtual sub-account, in the same transaction
    return registration


def registration_keys_set(
    *, actor, registration: Registration, signing_public_key: str, encryption_public_key: str
) -> Registration:
    """A bidder registers its keys (made in its browser or with the CLI); fixed once a bid exists."""
    if registration.organization_id != actor.organization_id:
        raise NotAllowed("NOT-ALLOWED", _("只能设置本单位的报名密钥。"))
    for field, value in (("signing_public_key", signing_public_key), ("encryption_public_key", encryption_public_key)):
        try:
            load_public_key(value)
        except EnvelopeError:
            raise RuleViolation("KEY-INVALID", _("公钥格式无效。"), fields={field: "P-256"}) from None
    with transaction.atomic():
        locked = Registration.objects.select_for_update().get(pk=registration.pk)
        if locked.bids.exists():
            raise TransitionError("KEYS-FIXED", _("已提交投标文件，密钥不可更换。"))
        locked.signing_public_key, locked.encryption_public_key = signing_public_key, encryption_public_key
        locked.save(update_fields=["signing_public_key", "encryption_public_key"])
    return locked
