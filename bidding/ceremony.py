"""Opening-key services: custodian enrolment and the key made at publication."""

import secrets

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from bidding import keys
from bidding.envelope import public_key_fingerprint, public_key_text
from bidding.models import CustodianKey, KeyShare, OpeningKey
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append
from trading.errors import NotAllowed, RuleViolation
from trading.models import Role, Section, User


def custodian_kdf() -> dict:
    return getattr(settings, "CUSTODIAN_KDF", keys.CUSTODIAN_KDF)


def custodian_key_set(*, user: User, passphrase: str) -> CustodianKey:
    """Enrol (or renew) a custodian's key from a passphrase; only the public key is stored."""
    if not user.is_key_custodian:
        raise NotAllowed("NOT-ALLOWED", _("只有密钥保管人可以设置保管口令。"))
    if len(passphrase) < 12:
        raise RuleViolation("PASSPHRASE-WEAK", _("保管口令至少12个字符。"), fields={"passphrase": ">= 12"})
    salt = secrets.token_bytes(16)
    kdf = custodian_kdf()
    public = keys.derive_custodian_key(passphrase, salt, kdf).public_key()
    record, _created = CustodianKey.objects.update_or_create(
        custodian=user,
        defaults={
            "public_key": public_key_text(public),
            "fingerprint": public_key_fingerprint(public),
            "salt": salt.hex(),
            "kdf": kdf,
        },
    )
    return record


def custodian_private_key(*, user: User, passphrase: str):
    record = CustodianKey.objects.get(custodian=user)
    return keys.derive_custodian_key(passphrase, bytes.fromhex(record.salt), record.kdf)


def section_custodians(section: Section) -> list[User]:
    """One custodian each from the exchange, the supervisor and the tenderer (2 of 3 by default)."""
    enrolled = User.objects.filter(is_key_custodian=True, custodian_key__isnull=False, is_active=True).order_by("pk")
    picks = [
        enrolled.filter(role=Role.STAFF).first(),
        enrolled.filter(role=Role.SUPERVISOR).first(),
        enrolled.filter(role__in=[Role.TENDERER, Role.AGENCY], organization_id=section.project.tenderer_id).first(),
    ]
    return [p for p in picks if p is not None]


def opening_key_generate(*, section: Section, actor=None) -> OpeningKey:
    """Inside the publication's transaction: a refusal here leaves the section unpublished."""
    custodians = section_custodians(section)
    threshold = settings.OPENING_KEY_THRESHOLD
    if len(custodians) < 3:
        raise RuleViolation(
            "KEY-CUSTODIANS",
            _("开标密钥需要交易中心、监督机构和招标人各一名已设置保管口令的密钥保管人。"),
        )
    from bidding.envelope import load_public_key

    ceremony = keys.generate_opening_key(
        section=section.public_id,
        custodians=[(str(c.pk), load_public_key(c.custodian_key.public_key)) for c in custodians],
        threshold=threshold,
    )
    with transaction.atomic():
        opening_key = OpeningKey.objects.create(
            section=section,
            public_key=public_key_text(ceremony.public_key),
            fingerprint=ceremony.fingerprint,
            threshold=threshold,
        )
        by_id = {str(c.pk): c for c in custodians}
        KeyShare.objects.bulk_create(
            KeyShare(
                opening_key=opening_key,
                custodian=by_id[s["custodian"]],
                index=s["index"],
                sealed=s["sealed"],
                commitment=s["commitment"],
            )
            for s in ceremony.sealed_shares
        )
        audit_append(
            event=AuditEvent.OPENING_KEY_GENERATED,
            actor=actor,
            section=section,
            data={
                "fingerprint": ceremony.fingerprint,
                "threshold": threshold,
                "commitments": {str(s["index"]): s["commitment"] for s in ceremony.sealed_shares},
            },
        )
    return opening_key
