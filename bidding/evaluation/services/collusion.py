"""The collusion scan (COLLUSION-40) over an opened section: flags with evidence, kept current, audited."""

import hashlib

from django.db import transaction
from django.utils.translation import gettext as _

from bidding.evaluation import collusion as pure
from bidding.evaluation.models import CollusionFlag
from bidding.evaluation.services.scoring import valid_openings
from bidding.parts import opened_part_digest, opened_part_open
from escrow.services.payments import same_payer_flags
from trading import policy
from trading.audit.events import AuditEvent
from trading.audit.log import audit_append
from trading.errors import TransitionError
from trading.i18n import official_language
from trading.supervision.services.alerts import alert_raise


def bid_facts(section) -> list[pure.BidFacts]:
    facts = []
    for opening in valid_openings(section):
        fields = (opening.form or {}).get("fields") or {}
        manager = next((str(fields[k]) for k in pure.MANAGER_KEYS if fields.get(k)), "")
        parts = []
        for part in opening.parts.all():
            digest = opened_part_digest(part=part)
            with opened_part_open(part) as fh:
                parts.append(pure.PartFacts(part.name, digest, pure.file_metadata(fh)))
        bid = opening.bid
        facts.append(
            pure.BidFacts(
                registration_id=bid.registration_id,
                code=bid.registration.bidder_code,
                price_fen=opening.price_fen,
                manager=manager,
                client_ip=bid.client_ip or "",
                user_agent=bid.user_agent or "",
                parts=tuple(parts),
            )
        )
    return facts


def collusion_scan(*, section, actor=None) -> list[CollusionFlag]:
    """Run every detector; a flag found again is kept, one no longer found is dropped; safe to run twice."""
    if not policy.identities_revealed(section):
        raise TransitionError("EVAL-NOT-OPENED", _("开标后方可进行串通投标检测。"))
    payers = [(f.bidder_codes, f.registration_ids) for f in same_payer_flags(section=section)]  # DEP-SAME-PAYER, escrow's
    found = pure.detect(bid_facts(section), same_payer=payers)
    with transaction.atomic():
        keep = []
        for flag in found:
            row, _created = CollusionFlag.objects.update_or_create(
                section=section,
                kind=flag.kind,
                key=flag.key,
                defaults={"bidder_codes": flag.codes, "registration_ids": flag.registration_ids, "evidence": flag.evidence},
            )
            keep.append(row.pk)
            # Electronic supervision: each sign found raises one alert for the supervisors' live feed.
            with official_language():
                message = _("%(section)s：%(kind)s（%(codes)s）") % {
                    "section": section.public_id,
                    "kind": row.get_kind_display(),
                    "codes": "、".join(flag.codes),
                }
            alert_raise(
                rule="COLLUSION-40",
                message=message,
                section=section,
                bidder_codes=list(flag.codes),
                data={"kind": flag.kind},
                dedupe_key=f"collusion:{section.pk}:{hashlib.sha256(f'{flag.kind}|{flag.key}'.encode()).hexdigest()[:32]}",
            )
        CollusionFlag.objects.filter(section=section).exclude(pk__in=keep).delete()
        counts: dict[str, int] = {}
        for flag in found:
            counts[flag.kind] = counts.get(flag.kind, 0) + 1
        audit_append(event=AuditEvent.COLLUSION_SCANNED, actor=actor, section=section, data={"flags": counts})
    return list(CollusionFlag.objects.filter(section=section))
