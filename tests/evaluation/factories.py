"""Factories for the evaluation: experts, and opened sections whose bids the opening has read out."""

import hashlib
import io
from decimal import Decimal

import factory
from django.core.files.base import ContentFile
from django.utils import timezone

from bidding import envelope as E
from bidding.decrypt import unwrap_data_keys
from bidding.evaluation.models import Expert, Specialty
from bidding.models import Bid, BidOpening, OpenedPart
from bidding.parts import opened_part_open, seal_data_key
from tests.factories import OrganizationFactory, RegistrationFactory, SectionFactory, UserFactory
from trading.models import OrganizationKind, Role, SectionState


class SpecialtyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Specialty
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"S{n:02d}")
    name = factory.Sequence(lambda n: f"专业{n}")


class ExpertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Expert
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"E-{n:05d}")
    name = factory.Sequence(lambda n: f"专家{n:03d}")
    employer = factory.SubFactory(OrganizationFactory, kind=OrganizationKind.EXPERT_EMPLOYER)
    user = factory.SubFactory(UserFactory, role=Role.EXPERT, organization=factory.SelfAttribute("..employer"))
    region = "西湖区"
    phone = "13600000000"
    email = factory.Sequence(lambda n: f"expert{n:05d}@example.cn")

    @factory.post_generation
    def specialties(self, create, extracted, **kwargs):
        if create:
            self.specialties.set(extracted or [])


def opened_section(*, bids: int = 3, prices=None, managers=None, state=SectionState.OPENED, **section_kwargs):
    """A section the opening has finished: registrations, active bids and their read-out openings."""
    now = timezone.now()
    section = SectionFactory(state=state, published_at=now, opened_at=now, **section_kwargs)
    prices = prices or [450_000_000 + 7_300_000 * i * i for i in range(bids)]
    for n in range(bids):
        add_bid(section, price_fen=prices[n], order=n + 1, manager=(managers or [None] * bids)[n])
    return section


def add_bid(section, *, price_fen, order, manager=None, organization=None, client_ip=None, user_agent=""):
    registration = RegistrationFactory(section=section, **({"organization": organization} if organization else {}))
    digest = hashlib.sha256(f"{section.pk}-{registration.pk}".encode()).hexdigest()
    bid = Bid(
        registration=registration,
        digest=digest,
        size=10,
        manifest={},
        receipt={},
        submitted_at=timezone.now(),
        client_ip=client_ip or f"10.{registration.pk % 250}.0.{order}",
        user_agent=user_agent or f"agent-{registration.pk}",
    )
    bid.envelope.save("env", ContentFile(b"ciphertext"), save=False)
    bid.save()
    fields = {"项目经理": manager or f"经理{registration.pk}"}
    return BidOpening.objects.create(
        bid=bid,
        section=section,
        status=BidOpening.Status.OPENED,
        opened_by=BidOpening.OpenedBy.QUORUM,
        form={"price_fen": price_fen, "currency": "CNY", "duration_days": 365, "fields": fields},
        price_fen=price_fen,
        readout_order=order,
        read_out_at=timezone.now(),
        opened_at=timezone.now(),
    )


def add_part(opening, *, name: str, data: bytes, filename: str = "", content_type: str = "application/pdf") -> OpenedPart:
    """An opened part as the opening leaves it: sealed in the bid's envelope (re-sealed with every part so far)."""
    bid = opening.bid
    parts = {p.name: (p.filename, p.content_type, opened_part_read(p)) for p in opening.parts.all()}
    parts[name] = (filename or f"{name}.pdf", content_type, data)
    opening_key, out = E.generate_key(), io.BytesIO()
    manifest = E.seal(
        section=opening.section.public_id,
        bidder_code=bid.registration.bidder_code,
        opening_public_key=opening_key.public_key(),
        bidder_public_key=E.generate_key().public_key(),
        signing_private_key=E.generate_key(),
        form=opening.form or {"price_fen": opening.price_fen or 1},
        files=parts,
        out=out,
        chunk_size=E.MIN_CHUNK,
    )
    bid.envelope.delete(save=False)
    bid.envelope.save("env", ContentFile(out.getvalue()), save=False)
    bid.digest, bid.size, bid.manifest = hashlib.sha256(out.getvalue()).hexdigest(), len(out.getvalue()), manifest
    bid.save(update_fields=["envelope", "digest", "size", "manifest"])
    keys = unwrap_data_keys(manifest=manifest, private_key=opening_key)
    for part_name, (part_filename, part_type, content) in parts.items():
        OpenedPart.objects.update_or_create(
            opening=opening,
            name=part_name,
            defaults={
                "filename": part_filename,
                "content_type": part_type,
                "size": len(content),
                "sealed_key": seal_data_key(bid_digest=bid.digest, name=part_name, key=keys[part_name]),
            },
        )  # sha256 left null, as the opening leaves it: the collusion scan fills it (bidding/parts.py)
    return OpenedPart.objects.get(opening=opening, name=name)


def opened_part_read(part: OpenedPart) -> bytes:
    with opened_part_open(part) as fh:
        return fh.read()


def points(value) -> Decimal:
    return Decimal(str(value))
