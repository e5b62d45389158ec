"""Experts' own signing keys: a score submission the expert signed could not have been made by the platform.

The expert's browser makes an ECDSA P-256 key pair (static/sealer/sealer.js, as a bidder's), keeps the
private key non-extractable and offers a passphrase-protected backup file; only the public key comes
here. To submit, the browser asks for the statement (services/scoring.scores_statement: the scores as
the server checked them, without the time) and signs `STATEMENT_LABEL || statement`; the platform then
countersigns the whole submission with the time. Signatures are IEEE P1363 (r || s), base64url.
"""

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bidding import envelope
from bidding.evaluation.models import Expert
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append
from trading.errors import DomainError, NotAllowed, RuleViolation

STATEMENT_LABEL = b"sunlight-expert-scores/v1|"


def expert_key_register(*, user, public_key: str) -> Expert:
    """The signed-in expert registers (or, with a lost browser key, replaces) its signing public key."""
    expert = Expert.objects.filter(user=user).first() if getattr(user, "is_authenticated", False) else None
    if expert is None:
        raise NotAllowed("NOT-ALLOWED", _("只有评标专家可以登记签名公钥。"))
    try:
        key = envelope.load_public_key(public_key)
    except (ValueError, envelope.EnvelopeError) as error:
        raise DomainError("INVALID", _("签名公钥应为 P-256 公钥（base64url）。"), fields={"signing_public_key": ""}) from error
    with transaction.atomic():
        expert = Expert.objects.select_for_update().get(pk=expert.pk)
        replaced = bool(expert.signing_public_key)
        expert.signing_public_key, expert.signing_key_registered_at = envelope.public_key_text(key), timezone.now()
        expert.save(update_fields=["signing_public_key", "signing_key_registered_at"])
        audit_append(
            event=AuditEvent.EXPERT_KEY_REGISTERED,
            actor=user,
            data={"expert": expert.code, "fingerprint": envelope.public_key_fingerprint(key), "replaced": replaced},
        )
    return expert


def statement_sign(private_key: ec.EllipticCurvePrivateKey, statement: bytes) -> str:
    """What the browser does (for the command line and tests)."""
    return envelope.sign_raw(private_key, STATEMENT_LABEL + statement)


def statement_verify(public_key: str, statement: bytes, signature: str) -> bool:
    try:
        key = envelope.load_public_key(public_key)
    except (ValueError, envelope.EnvelopeError):
        return False
    return envelope.signature_fault(key, STATEMENT_LABEL + statement, signature) is None


def statement_check(expert: Expert, statement: bytes, signature: str) -> str:
    """The expert's key under which `signature` verifies, or "" when the expert has none and none is required."""
    if not expert.signing_public_key:
        if getattr(settings, "EVALUATION_EXPERT_SIGNATURES_REQUIRED", False):
            raise RuleViolation("EVAL-SIGNATURE", _("请先在评标页面生成签名密钥，再用它签署评分。"))
        return ""
    if not signature:
        raise RuleViolation("EVAL-SIGNATURE", _("评分须由专家本人的签名密钥签署。"), fields={"expert_signature": ""})
    if not statement_verify(expert.signing_public_key, statement, signature):
        raise RuleViolation(
            "EVAL-SIGNATURE", _("专家签名与所登记的公钥或所提交的评分不符。"), fields={"expert_signature": signature[:16]}
        )
    return expert.signing_public_key
